package clientlite_test

import (
	"context"
	"fmt"
	"time"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/ikc/clientlite"
	"github.com/poe-go/poe/poe"
)

// A blocking ClientLite calling a Go IKC server (which could as well be a
// Perl POE::Component::IKC::Server).
func ExampleDial() {
	// The server: a kernel on its own goroutine, named "Demo", with a
	// session "demo" publishing "add".
	k := poe.NewKernel(nil)
	ready := make(chan int)
	go func() {
		k.Create(poe.Spec{Inline: map[string]poe.Handler{
			"_start": func(e *poe.Event) any {
				e.Kernel.AliasSet("demo")
				s, err := ikc.NewServer(e.Kernel, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort, Name: "Demo"})
				if err != nil {
					panic(err)
				}
				ikc.Publish(e.Kernel, e.Session, "add")
				ready <- s.Port()
				return nil
			},
			"add": func(e *poe.Event) any {
				sum := int64(0)
				for _, x := range e.Slice(poe.ARG0) {
					sum += x.(int64)
				}
				return sum
			},
			"stop": func(e *poe.Event) any { ikc.Shutdown(e.Kernel); e.Kernel.Stop(); return nil },
		}})
		k.Run()
	}()
	port := <-ready
	defer k.PostFromGoroutine("demo", "stop")

	// The client, e.g. in a command line tool.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lite, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: "Example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lite.Disconnect()
	sum, err := lite.Call(ctx, "demo/add", []int{2, 3})
	fmt.Println(sum, err)
	_, err = lite.Call(ctx, "poe://Demo/demo/secret") // a full specifier
	fmt.Println(err)
	fmt.Println(lite.Ping(ctx))
	// Output:
	// 5 <nil>
	// ikc: remote error (check): Session 'demo' has not published state 'secret'.  Request poe://Demo/demo/secret sent by poe://Example/IKCLite
	// <nil>
}
