package ikc_test

import (
	"fmt"

	"github.com/poe-go/poe/ikc"
	"github.com/poe-go/poe/poe"
)

// An error monitor: the handler gets ARG0 the name monitored ("*"), ARG1
// the kernel concerned, ARG2 whether ARG1 is a kernel ID, ARG3 the data
// given to Monitor, ARG4 the operation ("remote-check": a peer refused
// our request in its check phase) and ARG5 the message.
func ExampleMonitor() {
	server := poe.NewKernel(nil)
	ports := make(chan int, 1)
	server.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.AliasSet("Service")
			srv, err := ikc.NewServer(e.Kernel, ikc.ServerOptions{IP: "127.0.0.1", Port: ikc.EphemeralPort, Name: "Pulse"})
			if err != nil {
				panic(err)
			}
			ports <- srv.Port()
			return nil // publishes nothing
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
			// Perl: $kernel->post(IKC => monitor => '*' => {error => 'oops', data => 'mine'})
			ikc.Monitor(e.Kernel, "*", map[string]string{"error": "oops"}, "mine")
			_, err := ikc.NewClient(e.Kernel, ikc.ClientOptions{
				Host: "127.0.0.1", Port: <-ports, Name: "Example",
				OnConnect: func() { ikc.Post(e.Kernel, "poe://Pulse/Service/secret", 1) },
			})
			return err
		},
		"oops": func(e *poe.Event) any {
			fmt.Println("ARG0:", e.Arg(poe.ARG0))
			fmt.Println("ARG1:", e.Arg(poe.ARG1))
			fmt.Println("ARG3:", e.Arg(poe.ARG3))
			fmt.Println("ARG4:", e.Arg(poe.ARG4))
			fmt.Println("ARG5:", e.Arg(poe.ARG5))
			ikc.Shutdown(e.Kernel)
			e.Kernel.AliasRemove("me")
			server.PostFromGoroutine("Service", "stop")
			return nil
		},
	}})
	client.Run()
	<-done
	// Output:
	// ARG0: *
	// ARG1: Pulse
	// ARG3: mine
	// ARG4: remote-check
	// ARG5: Session 'Service' is not available for remote kernels.  Request poe://Pulse/Service/secret
}
