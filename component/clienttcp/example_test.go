package clienttcp_test

import (
	"bufio"
	"fmt"
	"net"

	"github.com/poe-go/poe/component/clienttcp"
	"github.com/poe-go/poe/poe"
)

// A client that says hello, prints the answer and shuts down; a plain Go
// listener stands in for the server.
func Example() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "you said: %s", line)
	}()

	k := poe.NewKernel(nil)
	_, err = clienttcp.New(k, clienttcp.Options{
		RemoteAddress: "127.0.0.1",
		RemotePort:    l.Addr().(*net.TCPAddr).Port,
		Connected: func(e *poe.Event) any {
			clienttcp.From(e).Server.Put("hello")
			return nil
		},
		ServerInput: func(e *poe.Event) any {
			fmt.Println(e.String(poe.ARG0))
			e.Kernel.Yield("shutdown")
			return nil
		},
		Disconnected: func(e *poe.Event) any {
			fmt.Println("disconnected")
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	k.Run()
	// Output:
	// you said: hello
	// disconnected
}
