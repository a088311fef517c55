package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
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
)

// buildTool compiles the package in dir (relative to this one) into bin.
func buildTool(t *testing.T, pkg, bin string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), bin)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// server is a running server process that printed its port.
type server struct {
	cmd  *exec.Cmd
	port string
	done chan error
}

// startServer starts argv, waits (at most 20 s) for a line "<prefix> <port>"
// on its stdout, and kills it when the test ends if it still runs.
func startServer(t *testing.T, prefix string, env []string, argv ...string) *server {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	ports := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), prefix+" "); ok {
				ports <- p
				break
			}
		}
		for sc.Scan() {
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case s.port = <-ports:
	case err := <-s.done:
		t.Fatalf("%s exited before it was ready: %v", argv[0], err)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no %q line in 20 s", argv[0], prefix)
	}
	return s
}

// stop sends sig and returns the exit error (bounded to 10 s).
func (s *server) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	s.cmd.Process.Signal(sig)
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit within 10 s of the signal")
		return nil
	}
}

// post runs ikc-post with args; it returns stdout, stderr and the exit code.
func post(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ikc-post %v: %v", args, err)
	}
	return strings.TrimSpace(out.String()), strings.TrimSpace(errb.String()), code
}

// mustPost runs ikc-post and expects success with the given output.
func mustPost(t *testing.T, bin, want string, args ...string) {
	t.Helper()
	out, errText, code := post(t, bin, args...)
	if code != 0 || out != want {
		t.Errorf("ikc-post %s: exit %d, stdout %q (want %q), stderr %q", strings.Join(args, " "), code, out, want, errText)
	}
}

// TestAgainstGoServer runs ikc-post against examples/ikc-server, both as
// real processes.
func TestAgainstGoServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	srvBin := buildTool(t, "../ikc-server", "ikc-server")
	postBin := buildTool(t, ".", "ikc-post")
	sock := filepath.Join(t.TempDir(), "demo.sock")
	srv := startServer(t, "ready", nil, srvBin, "-port", "0", "-unix", sock)
	p := "-port=" + srv.port

	mustPost(t, postBin, "6", p, "-call", "poe://Demo/demo/add", "[1,2,3]")
	mustPost(t, postBin, `{"a":[1,"x",null],"b":"é"}`, p, "-call", "poe://Demo/demo/echo", `{"a":[1,"x",null],"b":"é"}`)
	mustPost(t, postBin, `"hello"`, p, "-protocol", "IKC", "-call", "demo/echo", `"hello"`)
	mustPost(t, postBin, "0", p, "-call", "poe://Demo/demo/count")
	mustPost(t, postBin, "", p, "poe://Demo/demo/hit")
	mustPost(t, postBin, "", p, "-protocol", "IKC", "poe://Demo/demo/hit", "7")
	mustPost(t, postBin, "", "-unix", sock, "demo/hit")
	mustPost(t, postBin, "3", "-unix", sock, "-call", "poe://Demo/demo/count")

	_, errText, code := post(t, postBin, p, "-call", "poe://Demo/demo/nope", "1")
	if code != 1 || !strings.Contains(errText, "has not published state 'nope'") {
		t.Errorf("unpublished state: exit %d, stderr %q", code, errText)
	}
	_, errText, code = post(t, postBin, p, "-call", "poe://Demo/demo/add", "[1,")
	if code != 2 || !strings.Contains(errText, "JSON") {
		t.Errorf("bad JSON: exit %d, stderr %q", code, errText)
	}
	if err := srv.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("server exit after SIGTERM: %v", err)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Errorf("Unix socket %s left behind", sock)
	}
	_, errText, code = post(t, postBin, p, "-timeout", "2", "-call", "demo/count") // seconds, as ClientLite's timeout
	if code != 1 || !strings.Contains(errText, "connect") {
		t.Errorf("server gone: exit %d, stderr %q", code, errText)
	}
}

// TestAgainstPerlServer runs ikc-post against the Perl IKC server of the
// benchmarks (bench/perl/ikc_server.pl, POE::Component::IKC 0.2402) when
// IKC_PERL5LIB points at its modules.
func TestAgainstPerlServer(t *testing.T) {
	lib := os.Getenv("IKC_PERL5LIB")
	if lib == "" {
		t.Skip("IKC_PERL5LIB not set (Perl POE::Component::IKC)")
	}
	dir := os.Getenv("IKC_BENCH_PERL_DIR")
	if dir == "" {
		dir = "../../bench/perl"
	}
	script := filepath.Join(dir, "ikc_server.pl")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("no %s", script)
	}
	postBin := buildTool(t, ".", "ikc-post")
	env := []string{"PERL5LIB=" + lib + ":" + os.Getenv("PERL5LIB"), "BENCH_WATCHDOG=60"}
	srv := startServer(t, "PORT", env, "perl", script)
	p := "-port=" + srv.port
	mustPost(t, postBin, `[1,"a",{"k":"v"}]`, p, "-call", "poe://BenchSrv/bench/echo", `[1,"a",{"k":"v"}]`)
	mustPost(t, postBin, "", p, "poe://BenchSrv/bench/hit", "1")
	mustPost(t, postBin, "", p, "-protocol", "IKC", "bench/hit", "2")
	mustPost(t, postBin, "2", p, "-call", "poe://BenchSrv/bench/count")
	_, errText, code := post(t, postBin, p, "-call", "poe://BenchSrv/bench/nope")
	if code != 1 || !strings.Contains(errText, "nope") {
		t.Errorf("unpublished state: exit %d, stderr %q", code, errText)
	}
	srv.stop(t, syscall.SIGTERM)
}

// TestFailures runs the built command against what is not a working IKC
// server: one line on stderr, exit status 1, at once.
func TestFailures(t *testing.T) {
	bin := clitest.Build(t, ".")
	free := strconv.Itoa(clitest.FreePort(t))
	echo := lineEcho(t)
	sock := filepath.Join(t.TempDir(), "gone.sock")
	limit := 15 * time.Second
	clitest.Fails(t, limit, 1, []string{"ikc-post: ikc: connecting to 127.0.0.1:" + free + ": connection refused"}, bin, "-port", free, "x/y")
	clitest.Fails(t, limit, 1, []string{"ikc-post: ikc: connecting to unix:" + sock + ": no such file or directory"}, bin, "-unix", sock, "x/y")
	clitest.Fails(t, limit, 1, []string{"ikc-post: ikc: connecting to nosuch.invalid:1: cannot resolve nosuch.invalid"}, bin, "-host", "nosuch.invalid", "-port", "1", "x/y")
	for _, proto := range []string{"IKC0", "IKC"} {
		r := clitest.Fails(t, limit, 1, []string{"ikc-post: ikc: 127.0.0.1:" + echo + " is not an IKC server (it answered "}, bin, "-port", echo, "-protocol", proto, "-timeout", "10s", "x/y")
		if r.Took > 2*time.Second {
			t.Errorf("%s against an echo server took %v", proto, r.Took)
		}
	}
	clitest.Fails(t, limit, 2, []string{"ikc-post: usage: ", "-call and -respond exclude each other"}, bin, "-call", "-respond", "x/y")
	clitest.BadFlag(t, bin)
}

// lineEcho runs a line echo server on 127.0.0.1 and returns its port.
func lineEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				io.Copy(c, c)
			}()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
