package ikc_test

import (
	"fmt"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
)

// Two kernels in one process, as two programs would be: a server kernel
// "Pulse" whose session "Service" publishes "add", and a client kernel
// that connects, calls poe://Pulse/Service/add and prints the answer.
func ExampleNewServer() {
	server := poe.NewKernel(nil)
	ports := make(chan int, 1)
	server.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("Service")
			srv, err := ikc.NewServer(e.Kernel, ikc.ServerOptions{
				IP: "127.0.0.1", Port: ikc.EphemeralPort, Name: "Pulse",
			})
			if err != nil {
				panic(err)
			}
			ports <- srv.Port()
			return ikc.Publish(e.Kernel, e.Session, "add")
		},
		"add": func(e *poe.Event) any {
			var sum int64
			for _, x := range e.Slice(poe.ARG0) {
				sum += x.(int64)
			}
			return sum
		},
		"stop": func(e *poe.Event) any {
			ikc.Shutdown(e.Kernel)
			e.Kernel.AliasRemove("Service")
			return nil
		},
	}})
	done := make(chan struct{})
	go func() { server.Run(); close(done) }()

	client := poe.NewKernel(nil)
	client.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("me")
			_, err := ikc.NewClient(e.Kernel, ikc.ClientOptions{
				Host: "127.0.0.1", Port: <-ports, Name: "Example",
				OnConnect: func() {
					// Perl: $kernel->post(IKC => call => 'poe://Pulse/Service/add', [2, 3], 'poe:/me/sum')
					ikc.Call(e.Kernel, "poe://Pulse/Service/add", "poe:/me/sum", []int{2, 3})
				},
			})
			return err
		},
		"sum": func(e *poe.Event) any {
			fmt.Println("2 + 3 =", e.Arg(poe.ARG0))
			// Both kernels end once IKC is shut down and the aliases go.
			ikc.Shutdown(e.Kernel)
			e.Kernel.AliasRemove("me")
			server.PostFromGoroutine("Service", "stop")
			return nil
		},
	}})
	client.Run()
	<-done
	// Output:
	// 2 + 3 = 5
}
