package ikc

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/poe-go/poe/ikc/internal/ikctest"
	"github.com/poe-go/poe/ikc/protocol"
	"github.com/poe-go/poe/poe"
)

// silentServer accepts one connection, negotiates as the IKC0 server
// "Server" and then reads frames without ever answering; it returns the
// port.
func silentServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ikctest.Timeout))
		n, err := protocol.NewServerNegotiator(protocol.Config{KernelID: "srv-1", Names: []string{"Server"}})
		if err != nil {
			return
		}
		n.Start(time.Now())
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			send, res, err := n.Feed(strings.TrimRight(line, "\r\n"))
			if err != nil {
				return
			}
			for _, l := range send {
				io.WriteString(c, l+protocol.LineTerminator)
			}
			if res != nil {
				break
			}
		}
		io.Copy(io.Discard, br)
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestSubscribeTimeout: a subscription the server never answers counts as
// refused after ClientOptions.SubscribeTimeout (not Perl's 60 s).
func TestSubscribeTimeout(t *testing.T) {
	port := silentServer(t)
	refused := make(chan string, 1)
	start := time.Now()
	ikctest.StartNode(t, func(k *poe.Kernel) {
		_, err := NewClient(k, ClientOptions{
			Host: "127.0.0.1", Port: port, Name: "Sub",
			Subscribe:        []string{"poe://Server/svc"},
			SubscribeTimeout: 300 * time.Millisecond,
			OnError: func(op string, errno int, text string) {
				if op == "subscribe" {
					refused <- text
				}
			},
		})
		if err != nil {
			t.Error(err)
		}
	})
	select {
	case text := <-refused:
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("refused after %v, before the timeout", d)
		}
		if text != "Unable to subscribe to poe://Server/svc" {
			t.Errorf("error %q", text)
		}
	case <-time.After(ikctest.Timeout):
		t.Fatal("the subscription did not time out")
	}
}
