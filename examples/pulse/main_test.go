package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poe-go/poe/examples/internal/clitest"
	"github.com/poe-go/poe/ikc/clientlite"
	"github.com/poe-go/poe/internal/perltest"
)

// pulse is a running pulse binary.
type pulse struct {
	cmd  *exec.Cmd
	port int
	done chan error
	mu   sync.Mutex
	out  []string
}

var buildOnce struct {
	sync.Once
	bin string
	err error
}

// build compiles the example once per test run.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pulse-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.bin = filepath.Join(dir, "pulse")
		if b, err := exec.Command("go", "build", "-o", buildOnce.bin, ".").CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, b)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.bin != "" {
		os.RemoveAll(filepath.Dir(buildOnce.bin))
	}
	os.Exit(code)
}

var portLine = regexp.MustCompile(`Running server on port (\d+)`)

// startPulse runs the binary on 127.0.0.1 and an ephemeral port.
func startPulse(t *testing.T, args ...string) *pulse {
	t.Helper()
	cmd := exec.Command(build(t), append([]string{"-ip", "127.0.0.1", "-port", "0", "-quiet"}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pulse{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			p.mu.Unlock()
			if m := portLine.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.Atoi(m[1])
				ready <- n
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
			}
		}
	})
	select {
	case p.port = <-ready:
	case err := <-p.done:
		t.Fatalf("pulse exited early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("pulse did not start")
	}
	return p
}

// stop sends TERM and expects a clean exit.
func (p *pulse) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("pulse after TERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("pulse still running 20 s after TERM")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if last := p.out[len(p.out)-1]; !strings.Contains(last, "Server exited") {
		t.Errorf("last line %q", last)
	}
}

// hello does eg/lite-1 with a Go ClientLite: post_respond on a new
// connection.
func hello(ctx context.Context, port int, name string) (any, error) {
	l, err := clientlite.Dial(ctx, clientlite.Options{Host: "127.0.0.1", Port: port, Name: name})
	if err != nil {
		return nil, err
	}
	defer l.Disconnect()
	return l.PostRespond(ctx, "Service/event", map[string]any{"Hi": "There"})
}

func testHello(t *testing.T, processes, babysit string) {
	p := startPulse(t, "-processes", processes, "-connections", "3", "-babysit", babysit)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := map[string]any{"hello": "There"}
	// 20 connections: with 5 processes the 4 workers serve 3 each, so
	// they are replaced on the way.
	for i := 0; i < 20; i++ {
		got, err := hello(ctx, p.port, fmt.Sprintf("Lite%dClient", i))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d: %#v, want %#v", i, got, want)
		}
	}
	p.stop(t)
}

// -babysit takes the seed's seconds ("1", server-1's "30") and Go
// durations ("1s").
func TestPulseOneProcess(t *testing.T)    { testHello(t, "1", "1s") }
func TestPulseFiveProcesses(t *testing.T) { testHello(t, "5", "1") }

// TestPulseBabysitFlag: the seed's -babysit 30 starts the server; a value
// that is neither seconds nor a duration is a usage error.
func TestPulseBabysitFlag(t *testing.T) {
	p := startPulse(t, "-processes", "2", "-babysit", "30")
	p.stop(t)
	for _, bad := range []string{"x", "-1"} {
		out, err := exec.Command(build(t), "-port", "0", "-babysit", bad).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "-babysit") {
			t.Errorf("-babysit %s: %v, %s", bad, err, out)
		}
	}
}

// TestPulsePerl has a Perl IKC client (on POE and POE::Filter::Reference,
// ikc/testdata/ikc_peer.pl) post to Service/event with an rsvp of its
// own; the answer comes back to it, across worker recycling.
func TestPulsePerl(t *testing.T) {
	perltest.Need(t, "", "POE", "POE::Filter::Reference", "Storable", "JSON::PP")
	p := startPulse(t, "-processes", "3", "-connections", "1", "-babysit", "1s")
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("PerlClient%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "perl", filepath.Join("..", "..", "ikc", "testdata", "ikc_peer.pl"),
			"--role", "client", "--port", strconv.Itoa(p.port), "--name", name)
		cmd.Stderr = os.Stderr
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		post := map[string]any{"op": "post", "to": "poe://Pulse/Service/event",
			"params": []any{map[string]any{"Hi": "There"}, "poe://" + name + "/perl/hey"}}
		b, _ := json.Marshal(post)
		in.Write(append(b, '\n'))
		var got any
		sc := bufio.NewScanner(out)
		for got == nil && sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev["ev"] == "invoke" && ev["state"] == "hey" {
				got = ev["args"]
			}
		}
		in.Close()
		cmd.Wait()
		cancel()
		want := []any{map[string]any{"hello": "There"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Perl client %d got %#v, want %#v", i, got, want)
		}
	}
	p.stop(t)
}

// TestPulseRealClientLite runs eg/lite-1 with Perl's own
// POE::Component::IKC::ClientLite, which Debian does not package: it runs
// when IKC_PERL5LIB points at a copy of the distribution's lib.
func TestPulseRealClientLite(t *testing.T) {
	lib := os.Getenv("IKC_PERL5LIB")
	if lib == "" {
		t.Skip("IKC_PERL5LIB not set: no POE::Component::IKC::ClientLite to run")
	}
	p := startPulse(t, "-processes", "5", "-connections", "3", "-babysit", "1s")
	script := `use Data::Dumper; $Data::Dumper::Terse = 1; $Data::Dumper::Indent = 0;
use POE::Component::IKC::ClientLite;
my $poe = POE::Component::IKC::ClientLite->spawn(port => $ARGV[0], name => "Lite$$")
    or die POE::Component::IKC::ClientLite::error();
my $ret = $poe->post_respond("Service/event", {Hi => "There"})
    or die POE::Component::IKC::ClientLite::error();
print Dumper($ret), "\n";`
	for i := 0; i < 8; i++ {
		out, err := exec.Command("perl", "-I"+lib, "-e", script, strconv.Itoa(p.port)).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != `{'hello' => 'There'}` {
			t.Fatalf("ClientLite %d: %q, %v", i, got, err)
		}
	}
	p.stop(t)
}

var pageLine = regexp.MustCompile(`kernel page on (http://\S+)`)

// pageURL is the kernel page address that a pulse started with -http
// printed.
func pageURL(t *testing.T, p *pulse) string {
	t.Helper()
	var url string
	p.mu.Lock()
	for _, l := range p.out {
		if m := pageLine.FindStringSubmatch(l); m != nil {
			url = m[1]
		}
	}
	p.mu.Unlock()
	if url == "" {
		t.Fatal("no kernel page address printed")
	}
	return url
}

// TestPulseKernelPage: -http serves the kernel peek; its JSON shows the
// parent's sessions.
func TestPulseKernelPage(t *testing.T) {
	p := startPulse(t, "-processes", "2", "-http", "127.0.0.1:0")
	url := pageURL(t, p)
	resp, err := http.Get(url + "json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`"Service"`, `"IKC"`, "waste_time"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("kernel JSON lacks %s:\n%s", want, body)
		}
	}
	p.stop(t)
}

// TestPulseKernelPageChromium loads the kernel page of a running pulse in
// Debian's headless Chromium and checks that the rendered DOM shows the
// parent's sessions and its pending timer. Without chromium it skips,
// unless POE_REQUIRE_CHROMIUM=1 (CI), which makes it fail.
func TestPulseKernelPageChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("POE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("chromium not found and POE_REQUIRE_CHROMIUM=1: %v", err)
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	p := startPulse(t, "-processes", "2", "-http", "127.0.0.1:0")
	url := pageURL(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=3000", "--dump-dom", url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	dom, err := cmd.Output()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers it left behind
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	for _, want := range []string{`data-state="ok"`, `data-aliases="Service"`, `data-aliases="IKC"`, `data-event="waste_time"`} {
		if !strings.Contains(string(dom), want) {
			t.Errorf("rendered page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
	p.stop(t)
}

// TestSetupFailures runs the built command: a listen error is one line on
// stderr and exit status 1, with or without workers.
func TestSetupFailures(t *testing.T) {
	bin := build(t)
	taken := strconv.Itoa(clitest.TakenPort(t))
	limit := 15 * time.Second
	for _, procs := range []string{"1", "5"} {
		clitest.Fails(t, limit, 1, []string{"pulse: ", "127.0.0.1:" + taken, "address already in use"}, bin, "-ip", "127.0.0.1", "-port", taken, "-processes", procs)
	}
	clitest.Fails(t, limit, 1, []string{"pulse: ", "nosuch.invalid", "no such host"}, bin, "-ip", "nosuch.invalid", "-port", "0", "-processes", "1")
	clitest.BadFlag(t, bin)
}

// TestReadmeCommand runs the README's ikc-post command (the built
// examples/ikc-post, on the test's port) against pulse: the answer comes
// at once, not after ikc-post's timeout.
func TestReadmeCommand(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(readme), "\n") {
		if cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "go run ./examples/ikc-post "); ok {
			args = shellWords(t, cmd)
			break
		}
	}
	if len(args) == 0 {
		t.Fatal("no ikc-post command in README.md")
	}
	post := clitest.Build(t, "../ikc-post")
	p := startPulse(t, "-processes", "1")
	for i, a := range args {
		if a == "6666" {
			args[i] = strconv.Itoa(p.port)
		}
	}
	r := clitest.Run(t, 20*time.Second, post, args...)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != `{"hello":"There"}` || r.Took > time.Second {
		t.Errorf("ikc-post %q: exit %d after %v, stdout %q, stderr %q", args, r.Code, r.Took, r.Stdout, r.Stderr)
	}
	p.stop(t)
}

// shellWords splits a README command: words, and '...' quoted ones.
func shellWords(t *testing.T, s string) []string {
	var words []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '#' {
			break
		}
		if s[0] == '\'' {
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				t.Fatalf("unbalanced quote in %q", s)
			}
			words, s = append(words, s[1:end+1]), s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		words, s = append(words, s[:end]), s[end:]
	}
	return words
}
