package wheel_test

import (
	"fmt"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// A line echo server and its client in one session: SocketFactory listens
// on a free port of 127.0.0.1 and connects to it; each connected socket
// gets a ReadWrite wheel (Line filter, SysRW driver by default).
func ExampleNewSocketFactory() {
	k := poe.NewKernel(nil)
	type heap struct {
		server, client *wheel.SocketFactory
		srvConn        *wheel.ReadWrite
		cliConn        *wheel.ReadWrite
	}
	k.Create(poe.Spec{Heap: &heap{}, Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			h := e.Heap.(*heap)
			h.server, _ = wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
				BindAddress: "127.0.0.1", Reuse: true,
				SuccessEvent: "accepted", FailureEvent: "failed",
			})
			h.client, _ = wheel.NewSocketFactory(e.Kernel, wheel.SocketFactoryOptions{
				RemoteAddress: "127.0.0.1", RemotePort: h.server.Port(),
				SuccessEvent: "connected", FailureEvent: "failed",
			})
			return nil
		},
		"accepted": func(e *poe.Event) any {
			h := e.Heap.(*heap)
			h.server.Close() // one connection is enough
			h.srvConn, _ = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
				Handle: e.Args[0], InputEvent: "server_input", ErrorEvent: "server_error",
			})
			return nil
		},
		"connected": func(e *poe.Event) any {
			h := e.Heap.(*heap)
			h.client.Close()
			h.cliConn, _ = wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
				Handle: e.Args[0], InputEvent: "client_input",
			})
			h.cliConn.Put("hello")
			return nil
		},
		"server_input": func(e *poe.Event) any {
			fmt.Println("server got:", e.String(poe.ARG0))
			e.Heap.(*heap).srvConn.Put("echo: " + e.String(poe.ARG0))
			return nil
		},
		"client_input": func(e *poe.Event) any {
			fmt.Println("client got:", e.String(poe.ARG0))
			e.Heap.(*heap).cliConn.Close() // the server reads end of file
			return nil
		},
		"server_error": func(e *poe.Event) any {
			// ("read", 0, "") is end of file.
			fmt.Printf("server: %s error %d\n", e.String(poe.ARG0), e.Int(poe.ARG1))
			e.Heap.(*heap).srvConn.Close()
			return nil
		},
		"failed": func(e *poe.Event) any {
			fmt.Println("failed:", e.String(poe.ARG0), e.String(poe.ARG2))
			return nil
		},
	}})
	k.Run()
	// Output:
	// server got: hello
	// client got: echo: hello
	// server: read error 0
}

// ReadWrite on a pipe: records come in as InputEvent, end of file as
// ErrorEvent("read", 0, ""). Watermarks report a full output buffer.
func ExampleNewReadWrite() {
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			var p [2]int
			if err := pipe2(p[:]); err != nil {
				panic(err)
			}
			// The wheel writes into the pipe and reads what it wrote.
			w, err := wheel.NewReadWrite(e.Kernel, wheel.ReadWriteOptions{
				InputHandle: p[0], OutputHandle: p[1],
				InputEvent: "line", FlushedEvent: "flushed",
			})
			if err != nil {
				panic(err)
			}
			e.Heap.(map[string]any)["w"] = w
			w.Put("first", "second")
			fmt.Println("buffered octets:", w.DriverOutOctets())
			return nil
		},
		"flushed": func(e *poe.Event) any { fmt.Println("flushed"); return nil },
		"line": func(e *poe.Event) any {
			fmt.Println("line:", e.String(poe.ARG0))
			if e.String(poe.ARG0) == "second" {
				e.Heap.(map[string]any)["w"].(*wheel.ReadWrite).Close()
			}
			return nil
		},
	}})
	k.Run()
	// Output:
	// buffered octets: 15
	// flushed
	// line: first
	// line: second
}
