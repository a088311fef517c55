package wheel_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/poe-go/poe/poe"
	"github.com/poe-go/poe/wheel"
)

// A Go function as a Run program (POE's Program => \&code). Register it
// in init (here, of the test package; TestMain also calls
// wheel.RunChildMain first thing): the child is this program re-executed,
// and its RegisterProgram call runs the function and exits.
func init() {
	wheel.RegisterProgram("upcase", func(args []string) int {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			fmt.Println(args[0] + strings.ToUpper(in.Text()))
		}
		return 0
	})
}

func ExampleFunc() {
	k := poe.NewKernel(nil)
	var w *wheel.Run
	k.Create(poe.Spec{Inline: map[string]poe.Handler{
		"_start": func(e *poe.Event) any {
			w, _ = wheel.NewRun(e.Kernel, wheel.RunOptions{
				Program: wheel.Func("upcase"), ProgramArgs: []string{"> "},
				StdoutEvent: "out", StdinEvent: "flushed", CloseEvent: "closed",
			})
			e.Kernel.SigChild(w.PID(), "reaped")
			w.Put("hello", "world")
			return nil
		},
		"flushed": func(e *poe.Event) any { w.ShutdownStdin(); return nil },
		"out":     func(e *poe.Event) any { fmt.Println(e.String(poe.ARG0)); return nil },
		"closed":  func(e *poe.Event) any { w.Close(); return nil },
		"reaped":  func(e *poe.Event) any { fmt.Println("exit status", e.Int(poe.ARG2)>>8); return nil },
	}})
	k.Run()
	// Unordered output:
	// > HELLO
	// > WORLD
	// exit status 0
}
