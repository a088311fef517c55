package wheel_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/poe-go/poe/wheel"
	"golang.org/x/sys/unix"
)

// Func programs of the Run tests. Registered in init: in a child started
// for one of them, its RegisterProgram call runs it and exits.
func init() {
	// C77's code program: a line from stdin, one to each output, exit 7.
	wheel.RegisterProgram("c77", func(args []string) int {
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		fmt.Printf("got:%s\n", strings.TrimSuffix(line, "\n"))
		fmt.Fprintln(os.Stderr, "err line")
		return 7
	})
	// C78's code program dies.
	wheel.RegisterProgram("die", func(args []string) int { panic("the code dies") })
	wheel.RegisterProgram("args", func(args []string) int {
		fmt.Println(strings.Join(args, "|"))
		return 0
	})
	// What a pty child sees: which of its stdio are terminals, its window
	// size, and whether it has a controlling terminal.
	wheel.RegisterProgram("ttyinfo", func(args []string) int {
		var tty []string
		for fd := 0; fd <= 2; fd++ {
			_, err := unix.IoctlGetTermios(fd, tcGetattr)
			tty = append(tty, fmt.Sprintf("%d:%v", fd, err == nil))
		}
		fmt.Println("isatty", strings.Join(tty, " "))
		if ws, err := unix.IoctlGetWinsize(1, unix.TIOCGWINSZ); err == nil {
			fmt.Printf("winsize %dx%d %dx%d\n", ws.Row, ws.Col, ws.Xpixel, ws.Ypixel)
		}
		fd, err := unix.Open("/dev/tty", unix.O_RDWR, 0)
		fmt.Println("ctty", err == nil)
		if err == nil {
			unix.Close(fd)
		}
		sid, _ := unix.Getsid(0)
		fmt.Println("session leader", sid == os.Getpid())
		fmt.Fprintln(os.Stderr, "to stderr")
		return 0
	})
	// The descriptors above 2 without close-on-exec (inherited ones).
	wheel.RegisterProgram("inherited", func(args []string) int {
		n := 0
		fds, err := fdList()
		if err != nil {
			fmt.Println("inherited ?", err)
			return 0
		}
		for _, fd := range fds {
			if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fd > 2 && err == nil && fl&unix.FD_CLOEXEC == 0 {
				n++
			}
		}
		fmt.Println("inherited", n)
		return 0
	})
	// The nice value.
	wheel.RegisterProgram("nice", func(args []string) int {
		n, err := niceValue()
		if err != nil {
			return 1
		}
		fmt.Println(n)
		return 0
	})
}

func TestMain(m *testing.M) {
	// A program registered at the top of main rather than in init.
	wheel.RegisterProgram("late", func(args []string) int {
		fmt.Println("late ran")
		return 3
	})
	// A Run child never gets past this line.
	wheel.RunChildMain()
	// Func children are this binary; built with -race, it would sleep a
	// second when it exits with status 0 (ignored without -race).
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}
