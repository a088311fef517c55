package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
	"github.com/poe-go/poe/ikc/clientlite"
)

// TestServerProcess builds the command, starts it on an ephemeral port and
// a Unix socket, uses every published state with a ClientLite, then checks
// that SIGINT ends it with status 0 and removes the socket.
func TestServerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "ikc-server")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	sock := filepath.Join(t.TempDir(), "s.sock")
	cmd := exec.Command(bin, "-port", "0", "-unix", sock)
	cmd.Stderr = os.Stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				n, _ := strconv.Atoi(p)
				ready <- n
			}
		}
		done <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()
	var port int
	select {
	case port = <-ready:
	case err := <-done:
		t.Fatalf("exited early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no ready line")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, o := range []clientlite.Options{{Host: "127.0.0.1", Port: port, Name: "T1"}, {Unix: sock, Name: "T2"}} {
		l, err := clientlite.Dial(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			state string
			arg   any
			want  any
		}{
			{"add", []any{1, 2, 3}, int64(6)},
			{"add", []any{1, 2.5}, "3.5"}, // Storable's network order sends doubles as strings
			{"add", 4, int64(4)},
			{"echo", "x", "x"},
		} {
			got, err := l.Call(ctx, "poe://Demo/demo/"+c.state, c.arg)
			if err != nil || got != c.want {
				t.Errorf("%s(%v) = %#v, %v; want %#v", c.state, c.arg, got, err, c.want)
			}
		}
		l.Post(ctx, "demo/hit")
		l.Disconnect()
	}
	l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: "T3"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l.Call(ctx, "demo/count"); err != nil || got != int64(2) {
		t.Errorf("count = %#v, %v; want 2", got, err)
	}
	l.Disconnect()

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10 s of SIGINT")
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("Unix socket left behind")
	}
}

// TestPortInUse: a listen error ends serve with the error, no hang.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	var out strings.Builder
	go func() { done <- serve("127.0.0.1", ln.Addr().(*net.TCPAddr).Port, "", &out) }()
	select {
	case err := <-done:
		if err == nil || out.Len() != 0 {
			t.Errorf("serve on a taken port: %v, printed %q", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return")
	}
}

// TestSetupFailures runs the built command: a listen error is one line on
// stderr (not a log line as well) and exit status 1.
func TestSetupFailures(t *testing.T) {
	bin := clitest.Build(t, ".")
	taken := strconv.Itoa(clitest.TakenPort(t))
	limit := 10 * time.Second
	clitest.Fails(t, limit, 1, []string{"ikc-server: ", "127.0.0.1:" + taken, "address already in use"}, bin, "-port", taken)
	clitest.Fails(t, limit, 1, []string{"ikc-server: ", "99999", "invalid port"}, bin, "-port", "99999")
	sock := filepath.Join(t.TempDir(), "no", "such", "dir.sock")
	clitest.Fails(t, limit, 1, []string{"ikc-server: ", sock, "no such file or directory"}, bin, "-port", "0", "-unix", sock)
	clitest.BadFlag(t, bin)
}
