package wheel_test

import (
	"fmt"
	"io"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// A console session: a prompt, the line, the history, and ^D to end. The
// terminal here is one end of a socket pair, typed on from the other (a
// program uses its standard input and output, the defaults).
func ExampleNewReadLine() {
	console, _, user, _, err := wheel.PipeTwoWay(wheel.ConduitSocketpair)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer console.Close()
	defer user.Close()
	go io.Copy(io.Discard, user) // the screen: prompts and echoes
	go user.Write([]byte("hello\r\x04"))

	k := poe.NewKernel(nil)
	var rl *wheel.ReadLine
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			rl, err = wheel.NewReadLine(e.Kernel, wheel.ReadLineOptions{
				InputEvent: "got_line", Input: console, Output: console,
			})
			if err != nil {
				fmt.Println(err)
				return nil
			}
			rl.Get("Go: ")
			return nil
		},
		"got_line": func(e *poe.Event) any {
			if e.Arg(poe.ARG0) == nil {
				fmt.Println("exception:", e.String(poe.ARG1))
				rl.Close()
				return nil
			}
			fmt.Println("you entered:", e.String(poe.ARG0))
			rl.AddHistory(e.String(poe.ARG0))
			rl.Get()
			return nil
		},
	}})
	k.Run()
	fmt.Println("history:", rl.GetHistory())
	// Output:
	// you entered: hello
	// exception: eot
	// history: [hello]
}

// A wake-up pipe, POE::Pipe::OneWay's common use: another goroutine writes
// a byte, the kernel's watcher sees it.
func ExamplePipeOneWay() {
	r, w, err := wheel.PipeOneWay("")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	defer w.Close()
	k := poe.NewKernel(nil)
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			e.Kernel.SelectRead(r, "wake")
			go w.Write([]byte{1})
			return nil
		},
		"wake": func(e *poe.Event) any {
			b := make([]byte, 1)
			n, _ := r.Read(b)
			fmt.Println("woken with", n, "byte")
			e.Kernel.SelectRead(r, "")
			return nil
		},
	}})
	k.Run()
	// Output:
	// woken with 1 byte
}
