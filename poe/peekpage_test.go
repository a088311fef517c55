package poe

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromium finds Debian's headless browser. Without it the page tests
// skip, unless POE_REQUIRE_CHROMIUM=1 (as in CI), which makes them fail.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("POE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("chromium not found and POE_REQUIRE_CHROMIUM=1: %v", err)
		}
		t.Skip("chromium not installed (apt-get install chromium); set POE_REQUIRE_CHROMIUM=1 to make this a failure")
	}
	return path
}

// runChromium loads url in a headless Chromium with a fresh profile and
// extra flags, and returns what it printed on standard output. The whole
// process group is killed afterwards.
func runChromium(t *testing.T, bin, url string, extra ...string) string {
	t.Helper()
	profile := t.TempDir()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-quic", "--user-data-dir=" + profile,
		"--virtual-time-budget=3000",
	}, extra...)
	args = append(args, url)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers it left behind
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

// The page, rendered by a real browser against a running kernel, shows the
// kernel's sessions, queue, signals, fds and dispatches.
func TestPeekPageChromium(t *testing.T) {
	bin := chromium(t)
	p := startPeekKernel(t, true)
	mux := http.NewServeMux()
	mux.Handle("/poe/", PeekHandler(p.k))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	dom := runChromium(t, bin, srv.URL+"/poe/", "--dump-dom")
	if !strings.Contains(dom, `data-state="ok"`) {
		t.Fatalf("the page did not load its JSON:\n%s", dom)
	}
	for _, want := range []string{
		// sessions, with the workers inside the ticker's list
		`data-aliases="ticker"`, `data-aliases="worker-1"`, `data-aliases="worker-2"`, `data-aliases="logger"`,
		// pending events and timers
		`class="queued" data-id=`, `data-event="flush" data-kind="alarm"`, `data-event="heartbeat" data-kind="alarm"`,
		`data-signal="USR1"`, `class="fd" data-fd=`,
		`class="dispatch" data-seq=`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %s", want)
		}
	}
	// The last 50 dispatches: the _starts, or ticks once they pushed
	// those out.
	if !strings.Contains(dom, `data-event="_start" data-session=`) && !strings.Contains(dom, `data-event="tick" data-session=`) {
		t.Errorf("rendered page lists neither _start nor tick dispatches")
	}
	ticker := strings.Index(dom, `data-aliases="ticker"`)
	worker := strings.Index(dom, `data-aliases="worker-1"`)
	logger := strings.Index(dom, `data-aliases="logger"`)
	if !(ticker < worker && worker < logger) {
		t.Errorf("tree order: ticker %d, worker-1 %d, logger %d", ticker, worker, logger)
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}

	// POE_PAGE_SCREENSHOT=path (relative to poe/) also saves a picture of
	// the page: docs/kernel-page.png was made with
	// POE_PAGE_SCREENSHOT=../docs/kernel-page.png go test -run PeekPage ./poe
	if shot := os.Getenv("POE_PAGE_SCREENSHOT"); shot != "" {
		abs, err := filepath.Abs(shot)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(abs)
		runChromium(t, bin, srv.URL+"/poe/", "--screenshot="+abs, "--window-size=1200,800", "--hide-scrollbars")
		if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
			t.Fatalf("no screenshot at %s", abs)
		}
		t.Logf("screenshot: %s", abs)
	}
}
