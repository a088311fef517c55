package servertcp_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"

	"github.com/poe-go/poe/component/servertcp"
	"github.com/poe-go/poe/poe"
)

// A rot13 server, Perl's synopsis: ClientConnected greets, ClientInput
// answers each line, "shutdown" ends a connection and the server.
func Example() {
	k := poe.NewKernel(nil)
	srv, err := servertcp.New(k, servertcp.Options{
		Address: "127.0.0.1", Port: 0, Alias: "rot13",
		ClientConnected: func(e *poe.Event) any {
			servertcp.ConnOf(e).Client.Put("Smile from the server!")
			return nil
		},
		ClientInput: func(e *poe.Event) any {
			c := servertcp.ConnOf(e)
			c.Client.Put(strings.Map(rot13, e.String(poe.ARG0)))
			e.Kernel.Yield("shutdown")         // this connection, once flushed
			e.Kernel.Post("rot13", "shutdown") // and the listener
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	addr := srv.LocalAddr() // kernel methods only on the kernel's goroutine
	heard := make(chan string, 1)
	go func() { // a client, outside the kernel
		c, err := net.Dial("tcp", addr)
		if err != nil {
			heard <- err.Error()
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		greeting, _ := r.ReadString('\n')
		fmt.Fprint(c, "Uryyb, jbeyq\n")
		answer, _ := r.ReadString('\n')
		heard <- strings.TrimSpace(greeting) + "\n" + strings.TrimSpace(answer) + "\n" // lines end in CR LF
	}()
	k.Run()
	fmt.Print(<-heard)
	// Output:
	// Smile from the server!
	// Hello, world
}

func rot13(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z':
		return 'a' + (r-'a'+13)%26
	case r >= 'A' && r <= 'Z':
		return 'A' + (r-'A'+13)%26
	}
	return r
}
