package hostile

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// child is the server process under attack.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	env  []string
	port int
	pid  int
	// tlsPort is the TLS server's (knob tls), set before port.
	tlsPort int

	mu     sync.Mutex
	lines  []string // the child's log lines (stderr)
	exited chan struct{}
	status string
	seq    int
	peak   int64 // highest VmHWM sampled, KiB
}

// sample records the child's VmHWM every 10 ms until stop is closed (the
// peak of a process that dies would be lost otherwise).
func (c *child) sample(stop <-chan struct{}) {
	for {
		if h := procStatus(c.pid, "VmHWM"); h > 0 {
			c.mu.Lock()
			c.peak = max(c.peak, h)
			c.mu.Unlock()
		}
		select {
		case <-stop:
			return
		case <-c.exited:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// peakKiB returns the highest VmHWM seen.
func (c *child) peakKiB() int64 {
	if h := procStatus(c.pid, "VmHWM"); h > 0 {
		c.mu.Lock()
		c.peak = max(c.peak, h)
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak
}

// startChild starts the server with extra environment variables.
func startChild(t *testing.T, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), envServer+"=1"), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, env: env, pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
	}()
	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "tls "); ok {
				c.tlsPort, _ = strconv.Atoi(p)
			}
			if p, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				n, _ := strconv.Atoi(p)
				ready <- n
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		c.mu.Lock()
		c.status = fmt.Sprint(err)
		if err == nil {
			c.status = "exit 0"
		}
		c.mu.Unlock()
		close(c.exited)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-c.exited
		}
	})
	select {
	case c.port = <-ready:
	case <-c.exited:
		t.Fatalf("server did not start: %s\n%s", c.status, c.tail(20))
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not start in time")
	}
	return c
}

// knob returns a HOSTILE_OPTS setting the child was started with.
func (c *child) knob(name string) (string, bool) {
	for _, e := range c.env {
		if opts, ok := strings.CutPrefix(e, envOpts+"="); ok {
			for _, kv := range strings.Split(opts, ",") {
				if v, ok := strings.CutPrefix(kv, name+"="); ok {
					return v, true
				}
			}
		}
	}
	return "", false
}

// alive reports whether the server process still runs.
func (c *child) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// tail returns the last n log lines of the child.
func (c *child) tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// crash returns the first line of a Go crash report in the child's log,
// or its last line.
func (c *child) crash() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if strings.HasPrefix(l, "runtime: ") || strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") {
			return l
		}
	}
	if len(c.lines) == 0 {
		return ""
	}
	return c.lines[len(c.lines)-1]
}

// countLines counts the child's log lines matching re.
func (c *child) countLines(re *regexp.Regexp) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// sumCounts adds up the first group (a number) of the lines matching re.
func (c *child) sumCounts(re *regexp.Regexp) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if m := re.FindStringSubmatch(l); m != nil {
			k, _ := strconv.Atoi(m[1])
			n += k
		}
	}
	return n
}

// procStatus returns a field of /proc/PID/status in KiB (0 off Linux or
// once the process is gone).
func procStatus(pid int, key string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// onLinux: RSS is read from /proc; elsewhere the RSS checks are skipped.
var onLinux = runtime.GOOS == "linux"

// fresh connects a new client, calls IKC/ping and returns how long the
// whole exchange took.
func (c *child) fresh() (time.Duration, error) {
	c.mu.Lock()
	c.seq++
	name := fmt.Sprintf("Fresh%d", c.seq)
	c.mu.Unlock()
	start := time.Now()
	p, err := dialPeer(c.port, name, "Storable")
	if err != nil {
		return 0, err
	}
	defer p.Close()
	v, err := p.call("poe://Demo/IKC/ping", storable.Bytes("x"), 10*time.Second)
	if err != nil {
		return 0, err
	}
	if v != "PONG" {
		return 0, fmt.Errorf("ping answered %v", v)
	}
	return time.Since(start), nil
}

// latency is the median of n fresh exchanges.
func (c *child) latency(n int) (time.Duration, error) {
	var d []time.Duration
	for range n {
		x, err := c.fresh()
		if err != nil {
			return 0, err
		}
		d = append(d, x)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], nil
}

// stats calls demo/stats from a fresh client.
func (c *child) stats() (map[string]any, error) {
	c.mu.Lock()
	c.seq++
	name := fmt.Sprintf("Stats%d", c.seq)
	c.mu.Unlock()
	p, err := dialPeer(c.port, name, "Storable")
	if err != nil {
		return nil, err
	}
	defer p.Close()
	v, err := p.call("poe://Demo/demo/stats", storable.Bytes(""), 20*time.Second)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	if m == nil {
		return nil, fmt.Errorf("stats answered %v", v)
	}
	return m, nil
}

// num reads an integer of a stats answer.
func num(m map[string]any, key string) int64 {
	switch v := m[key].(type) {
	case int64:
		return v
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}
