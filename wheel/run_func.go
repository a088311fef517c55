package wheel

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Func is a Run program that is a Go function registered with
// RegisterProgram: RunOptions{Program: wheel.Func("name")}. It stands in
// for POE's code-reference programs, which run in a fork of the
// interpreter; Go cannot fork its runtime, so the child is this same
// executable started again (/proc/self/exe on Linux) with a marker in its
// environment, and RegisterProgram (or RunChildMain) in the child runs
// the function instead of the program.
//
// The contract:
//
//   - Register every Func program in an init function or at the top of
//     main, unconditionally and before anything else happens, so that the
//     parent and the child register the same names; the parent refuses
//     names it has not registered.
//   - In the child, the RegisterProgram call of the requested name does
//     not return: it runs the function and exits with its result. Only
//     package initialisation (and whatever main did before registering)
//     has happened in the child: it shares no memory with the parent.
//   - Call RunChildMain at the top of main (or TestMain) after the
//     registrations: in a child whose program was not registered it
//     exits with status 127 instead of letting the child run main.
//   - The function's args are RunOptions.ProgramArgs; its stdin, stdout
//     and stderr (os.Stdin, os.Stdout, os.Stderr) are the conduit or the
//     redirections. Its return value is the exit status. A panic is
//     printed to stderr and exits with status 255 (POE: 255 when the code
//     dies). The function may itself start Run wheels.
type Func string

// The environment markers of a Func child.
const (
	envProgram     = "POE_GO_RUN_PROGRAM"
	envCloseOnCall = "POE_GO_RUN_CLOSE_ON_CALL"
)

var programs struct {
	sync.Mutex
	m map[string]func(args []string) int
}

// RegisterProgram registers fn as the Run program Func(name). It panics
// if name is empty, fn nil or name already registered. In a child started
// for name it runs fn and exits (see Func).
func RegisterProgram(name string, fn func(args []string) int) {
	if name == "" || fn == nil {
		panic("wheel: RegisterProgram: empty name or nil function")
	}
	programs.Lock()
	if programs.m == nil {
		programs.m = map[string]func([]string) int{}
	}
	_, dup := programs.m[name]
	if !dup {
		programs.m[name] = fn
	}
	programs.Unlock()
	if dup {
		panic(fmt.Sprintf("wheel: RegisterProgram: %q registered twice", name))
	}
	if os.Getenv(envProgram) == name {
		runProgram(fn)
	}
}

// RunChildMain returns at once unless this process is a Run child of a
// Func program (see Func). Then it runs the registered function and
// exits, or, when the name is not registered, writes why to stderr and
// exits with status 127.
func RunChildMain() {
	name, ok := os.LookupEnv(envProgram)
	if !ok {
		return
	}
	fn := lookupProgram(name)
	if fn == nil {
		fmt.Fprintf(os.Stderr, "wheel: Run child: program %q is not registered in this executable (call RegisterProgram in init or before RunChildMain)\n", name)
		os.Exit(127)
	}
	runProgram(fn)
}

func lookupProgram(name string) func([]string) int {
	programs.Lock()
	defer programs.Unlock()
	return programs.m[name]
}

// notAChild fails NewRun in a Func child that neither RegisterProgram nor
// RunChildMain stopped: its program would start children of its own.
func notAChild() error {
	if name, ok := os.LookupEnv(envProgram); ok {
		return fmt.Errorf("wheel: Run: this process is a Run child for program %q, which never ran: register it in init, or call wheel.RunChildMain at the top of main", name)
	}
	return nil
}

// runProgram is the child's side: it never returns.
func runProgram(fn func([]string) int) {
	closeOnCall := os.Getenv(envCloseOnCall) != ""
	// Children the function starts are not Func children.
	os.Unsetenv(envProgram)
	os.Unsetenv(envCloseOnCall)
	if closeOnCall {
		closeInherited()
	}
	code := 255
	func() {
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintf(os.Stderr, "panic: %v\n\n%s", r, debug.Stack())
			}
		}()
		code = fn(os.Args[1:])
	}()
	os.Exit(code)
}

// closeInherited closes the descriptors above 2 without close-on-exec:
// they came from the parent (the runtime and package os open theirs
// close-on-exec).
func closeInherited() {
	for _, fd := range openFds() {
		if fd <= 2 {
			continue
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

// maxFdScan bounds the descriptors scanFds tries.
const maxFdScan = 1 << 16

// scanFds lists the open descriptors below the descriptor limit (at most
// maxFdScan) by asking fcntl about each: for systems with no complete
// list of them.
func scanFds() []int {
	n := maxFdScan
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && uint64(rl.Cur) < uint64(n) {
		n = int(rl.Cur)
	}
	var fds []int
	for fd := 0; fd < n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}

// fdDir lists the descriptors named in dir (/proc/self/fd, /dev/fd).
func fdDir(dir string) ([]int, bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	fds := make([]int, 0, len(ents))
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds, true
}
