package filter_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/poe-go/poe/wheel/filter"
)

func newHTTPD(t *testing.T, o filter.HTTPDOptions) *filter.HTTPD {
	t.Helper()
	f, err := filter.NewHTTPD(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// httpGet is POE's get: all records of the chunks, or the error.
func httpGet(t *testing.T, f filter.Filter, chunks ...string) []any {
	t.Helper()
	in := make([]any, len(chunks))
	for i, c := range chunks {
		in[i] = c
	}
	recs, err := filter.Get(f, in)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return recs
}

func body(t *testing.T, r *http.Request) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// one returns the only record, a request.
func oneRequest(t *testing.T, recs []any) *http.Request {
	t.Helper()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1: %v", len(recs), recs)
	}
	r, ok := recs[0].(*http.Request)
	if !ok {
		t.Fatalf("record is %T, want *http.Request: %v", recs[0], recs[0])
	}
	return r
}

func checkRequest(t *testing.T, r *http.Request, method, uri, proto string) {
	t.Helper()
	if r.Method != method || r.URL.String() != uri || r.Proto != proto {
		t.Errorf("request %s %s %s, want %s %s %s", r.Method, r.URL, r.Proto, method, uri, proto)
	}
}

// errorResponse checks the only record is a response with code.
func errorResponse(t *testing.T, recs []any, code int) *http.Response {
	t.Helper()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1: %v", len(recs), recs)
	}
	r, ok := recs[0].(*http.Response)
	if !ok || r.StatusCode != code {
		t.Fatalf("record %#v, want a %d response", recs[0], code)
	}
	return r
}

// The cases below are those of POE's t/10_units/05_filters/03_http.t, with
// the requests as HTTP::Request's as_string writes them.

func TestHTTPDSimpleGet(t *testing.T) {
	f := newHTTPD(t, filter.HTTPDOptions{})
	r := oneRequest(t, httpGet(t, f, "GET http://localhost/pie.mhtml\n\n"))
	checkRequest(t, r, "GET", "http://localhost/pie.mhtml", "HTTP/0.9")
	if b := body(t, r); b != "" {
		t.Errorf("content %q", b)
	}
	if r.Host != "localhost" {
		t.Errorf("Host %q", r.Host)
	}
}

func TestHTTPDGet10Headers(t *testing.T) {
	f := newHTTPD(t, filter.HTTPDOptions{})
	r := oneRequest(t, httpGet(t, f, "GET /foo.html HTTP/1.0\nUser-Agent: Wget/1.8.2\nHost: localhost:8080\nAccept: */*\nConnection: Keep-Alive\n\n"))
	checkRequest(t, r, "GET", "/foo.html", "HTTP/1.0")
	if r.ProtoMajor != 1 || r.ProtoMinor != 0 {
		t.Errorf("version %d.%d", r.ProtoMajor, r.ProtoMinor)
	}
	for k, v := range map[string]string{"User-Agent": "Wget/1.8.2", "Host": "localhost:8080", "Accept": "*/*", "Connection": "Keep-Alive"} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if r.Host != "localhost:8080" {
		t.Errorf("Host %q", r.Host)
	}
}

func TestHTTPDSimplePost(t *testing.T) {
	f := newHTTPD(t, filter.HTTPDOptions{})
	r := oneRequest(t, httpGet(t, f, "POST http://localhost/foo.mhtml HTTP/1.0\nContent-Length: 16\nContent-Type: application/x-www-form-urlencoded\n\nI=like&tasty=pie"))
	checkRequest(t, r, "POST", "http://localhost/foo.mhtml", "HTTP/1.0")
	if b := body(t, r); b != "I=like&tasty=pie" {
		t.Errorf("content %q", b)
	}
	if r.ContentLength != 16 || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("ContentLength %d, Content-Type %q", r.ContentLength, r.Header.Get("Content-Type"))
	}
}

func TestHTTPDHeadAndOptions(t *testing.T) {
	f := newHTTPD(t, filter.HTTPDOptions{})
	checkRequest(t, oneRequest(t, httpGet(t, f, "HEAD http://localhost/foo.mhtml\n\n")), "HEAD", "http://localhost/foo.mhtml", "HTTP/0.9")
	checkRequest(t, oneRequest(t, httpGet(t, f, "OPTIONS * HTTP/1.0\n\n")), "OPTIONS", "*", "HTTP/1.0")
	// Version defaults to HTTP/0.9; a tab separates; the method's case is kept.
	checkRequest(t, oneRequest(t, httpGet(t, f, "GET /\n\n")), "GET", "/", "HTTP/0.9")
	checkRequest(t, oneRequest(t, httpGet(t, f, "GET\t/elephant.gif\n\n")), "GET", "/elephant.gif", "HTTP/0.9")
	checkRequest(t, oneRequest(t, httpGet(t, f, "GEt /\n\n")), "GEt", "/", "HTTP/0.9")
	checkRequest(t, oneRequest(t, httpGet(t, f, "ELEPHANT /\n\n")), "ELEPHANT", "/", "HTTP/0.9")
}

// TestHTTPDFragments: a request fed two octets at a time comes out whole,
// at the end only.
func TestHTTPDFragments(t *testing.T) {
	req := "POST http://localhost:1234/foobar.html HTTP/1.1\nContent-Length: 22\nContent-Type: application/x-www-form-urlencoded\n\nI=like&honey=with+peas"
	f := newHTTPD(t, filter.HTTPDOptions{})
	var recs []any
	for i := 0; i < len(req); i += 4 {
		got := httpGet(t, f, req[i:min(i+2, len(req))], req[min(i+2, len(req)):min(i+4, len(req))])
		if i+4 < len(req) && len(got) > 0 {
			t.Fatalf("a record after %d of %d octets", i+4, len(req))
		}
		recs = append(recs, got...)
	}
	r := oneRequest(t, recs)
	checkRequest(t, r, "POST", "http://localhost:1234/foobar.html", "HTTP/1.1")
	if b := body(t, r); b != "I=like&honey=with+peas" {
		t.Errorf("content %q", b)
	}
}

// TestHTTPDTrailing: white space after a request is skipped; garbage in the
// same chunk stays pending, and in a later get is a bad request.
func TestHTTPDTrailing(t *testing.T) {
	const req = "GET http://localhost:1234/foobar.html\n\n"
	f := newHTTPD(t, filter.HTTPDOptions{})
	oneRequest(t, httpGet(t, f, req+"\r\n  \r\n\n"))
	f = newHTTPD(t, filter.HTTPDOptions{})
	oneRequest(t, httpGet(t, f, req+"GARBAGE!"))
	f = newHTTPD(t, filter.HTTPDOptions{})
	oneRequest(t, httpGet(t, f, req, "\r\n  \r\n\n"))
	if recs := httpGet(t, f, "\r\n  \r\n\n"); len(recs) != 0 {
		t.Errorf("white space alone made %v", recs)
	}
	f = newHTTPD(t, filter.HTTPDOptions{})
	recs := httpGet(t, f, req, "GARBAGE!\r\n\r\n")
	if len(recs) != 2 {
		t.Fatalf("records %v, want a request and a response", recs)
	}
	if _, ok := recs[0].(*http.Request); !ok {
		t.Errorf("first record %T", recs[0])
	}
	if r, ok := recs[1].(*http.Response); !ok || r.StatusCode != 400 || r.Request != nil {
		t.Errorf("second record %#v, want a 400 without request", recs[1])
	}
}

// TestHTTPDBadRequests: POE's 400, 411 and 413 records.
func TestHTTPDBadRequests(t *testing.T) {
	f := newHTTPD(t, filter.HTTPDOptions{})
	r := errorResponse(t, httpGet(t, f, "ELEPHANT\n\r\n"), 400)
	if r.Header.Get("Content-Type") != "text/html" || !strings.Contains(body2(t, r), "400 Bad Request") {
		t.Errorf("400 response %v", r.Header)
	}
	// HTTP/1.1 with Content-Encoding implies a body: length required.
	r = errorResponse(t, httpGet(t, f, "ELEPHANT http://localhost/ HTTP/1.1\nContent-Encoding: mussa\n\n"), 411)
	if r.Request == nil {
		t.Fatal("411 without its request")
	}
	checkRequest(t, r.Request, "ELEPHANT", "http://localhost/", "HTTP/1.1")

	// A 1 GB Content-Length against the default 1 MiB.
	f = newHTTPD(t, filter.HTTPDOptions{})
	errorResponse(t, httpGet(t, f, "POST / HTTP/1.1\nContent-Length: 1073741824\nContent-Type: text/plain\n\nNothing much"), 413)
	f = newHTTPD(t, filter.HTTPDOptions{MaxContent: 10})
	r2 := oneRequest(t, httpGet(t, f, "POST / HTTP/1.1\nContent-Length: 5\nContent-Type: text/plain\n\nhonk\n"))
	if b := body(t, r2); b != "honk\n" {
		t.Errorf("content %q", b)
	}
	errorResponse(t, httpGet(t, f, "POST / HTTP/1.1\nContent-Length: 15\nContent-Type: text/plain\n\nhonk honk honk\n"), 413)
	errorResponse(t, httpGet(t, f, "POST / HTTP/1.1\nContent-Length: fifteen\nContent-Type: text/plain\n\nhonk honk honk\n"), 400)
}

func body2(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHTTPDBodyOnGet: a GET or HEAD may carry a body; a request inside it
// is content, not a second request.
func TestHTTPDBodyOnGet(t *testing.T) {
	trap := "POST /trap.html HTTP/1.1\nContent-Length: 10\nContent-Type: text/plain\n\nHONK HONK\n"
	for _, m := range []string{"GET", "HEAD"} {
		f := newHTTPD(t, filter.HTTPDOptions{})
		req := m + " / HTTP/1.1\nContent-Length: " + itoa(len(trap)) + "\nContent-Type: text/plain\n\n" + trap
		r := oneRequest(t, httpGet(t, f, req))
		checkRequest(t, r, m, "/", "HTTP/1.1")
		if b := body(t, r); b != trap {
			t.Errorf("%s content %q", m, b)
		}
	}
}

func itoa(n int) string {
	var b []byte
	for n >= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(append([]byte{byte('0' + n)}, b...))
}

// TestHTTPDStreaming: the request comes at once with an empty body, then
// the content.
func TestHTTPDStreaming(t *testing.T) {
	f := newHTTPD(t, filter.HTTPDOptions{Streaming: true})
	recs := httpGet(t, f, "POST / HTTP/1.1\nContent-Length: 13\nContent-Type: text/plain\n\nNothing much\n")
	if len(recs) != 2 {
		t.Fatalf("records %v", recs)
	}
	r := recs[0].(*http.Request)
	if b := body(t, r); b != "" || r.ContentLength != 13 {
		t.Errorf("streamed request body %q, length %d", b, r.ContentLength)
	}
	if c, ok := recs[1].([]byte); !ok || string(c) != "Nothing much\n" {
		t.Errorf("content record %#v", recs[1])
	}
	// In pieces, past MaxContent (which streaming ignores), then the next request.
	f = newHTTPD(t, filter.HTTPDOptions{Streaming: true, MaxContent: 4})
	recs = httpGet(t, f, "PUT /x HTTP/1.1\nContent-Length: 10\n\n01234")
	recs = append(recs, httpGet(t, f, "56789\r\nGET /next HTTP/1.0\n\n")...)
	if len(recs) != 4 {
		t.Fatalf("records %v", recs)
	}
	if string(recs[1].([]byte))+string(recs[2].([]byte)) != "0123456789" {
		t.Errorf("content %q %q", recs[1], recs[2])
	}
	checkRequest(t, recs[3].(*http.Request), "GET", "/next", "HTTP/1.0")
}

// TestHTTPDPipelined: requests back to back, a Content-Length 0 one among
// them (POE drops what follows it; fixed).
func TestHTTPDPipelined(t *testing.T) {
	f := newHTTPD(t, filter.HTTPDOptions{})
	recs := httpGet(t, f, "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 0\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /d HTTP/1.1\r\n\r\n")
	var paths []string
	for _, r := range recs {
		paths = append(paths, r.(*http.Request).URL.Path)
	}
	if strings.Join(paths, " ") != "/a /b /c /d" {
		t.Errorf("paths %q", paths)
	}
}

// TestHTTPDLimits: options POE refuses, MaxBuffer ("buffer exceeds"), and
// the header limit POE lacks.
func TestHTTPDLimits(t *testing.T) {
	for _, o := range []filter.HTTPDOptions{
		{MaxContent: 10, MaxBuffer: 5},
		{MaxContent: -1},
		{MaxBuffer: -1},
		{MaxHeader: 100, MaxBuffer: 50, MaxContent: 10},
	} {
		if _, err := filter.NewHTTPD(o); !errors.Is(err, filter.ErrParameter) {
			t.Errorf("NewHTTPD(%+v) = %v, want ErrParameter", o, err)
		}
	}
	f := newHTTPD(t, filter.HTTPDOptions{MaxBuffer: 10, MaxContent: 5, MaxHeader: 10})
	f.GetOneStart([]any{"This line is going to be to long for our filter\n"})
	if _, err := f.GetOne(); !errors.Is(err, filter.ErrBufferExceeds) {
		t.Errorf("GetOne = %v, want ErrBufferExceeds", err)
	}
	// Headers that never end: a 431 once past MaxHeader, not unbounded growth.
	f = newHTTPD(t, filter.HTTPDOptions{MaxHeader: 1024})
	var recs []any
	for i := 0; i < 100 && len(recs) == 0; i++ {
		recs = httpGet(t, f, "X-Filler: "+strings.Repeat("a", 50)+"\r\n")
	}
	errorResponse(t, recs, http.StatusRequestHeaderFieldsTooLarge)
	if p := f.GetPending(); p != nil {
		t.Errorf("pending after 431: %d octets", len(p[0].([]byte)))
	}
}

// TestHTTPDPut: a response's status line, CR LF headers and body, content
// untouched.
func TestHTTPDPut(t *testing.T) {
	f := newHTTPD(t, filter.HTTPDOptions{})
	chunks, err := f.Put([]any{filter.NewHTTPResponse(404, "text/plain", []byte("\x00\xC3\xE7\xFF\x00"))})
	if err != nil {
		t.Fatal(err)
	}
	want := "HTTP/1.0 404 Not Found\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n\x00\xC3\xE7\xFF\x00"
	if len(chunks) != 1 || string(chunks[0].([]byte)) != want {
		t.Errorf("Put = %q, want %q", chunks, want)
	}
	r := &http.Response{StatusCode: 200, Status: "200 Fine", Proto: "HTTP/1.1", Header: http.Header{"X-Subject": {"line one\nline two"}}}
	chunks, _ = f.Put([]any{r})
	if got := string(chunks[0].([]byte)); got != "HTTP/1.1 200 Fine\r\nX-Subject: line one line two\r\n\r\n" {
		t.Errorf("Put = %q", got)
	}
	if _, err := f.Put([]any{"a string"}); !errors.Is(err, filter.ErrRecordType) {
		t.Errorf("Put(string) = %v, want ErrRecordType", err)
	}
	// An error record goes back out as it is.
	e := errorResponse(t, httpGet(t, f, "ELEPHANT\n\n"), 400)
	chunks, _ = f.Put([]any{e})
	if got := string(chunks[0].([]byte)); !strings.HasPrefix(got, "HTTP/1.0 400 Bad Request\r\n") {
		t.Errorf("Put(400) = %q", got)
	}
}

// TestHTTPDClone: a clone has the options and none of the input.
func TestHTTPDClone(t *testing.T) {
	f := newHTTPD(t, filter.HTTPDOptions{MaxContent: 3})
	f.GetOneStart([]any{"GET / HT"})
	c := f.Clone()
	if c.GetPending() != nil {
		t.Error("clone has pending input")
	}
	errorResponse(t, httpGet(t, c, "POST / HTTP/1.0\nContent-Length: 4\n\nabcd"), 413)
}

func ExampleHTTPD() {
	f, _ := filter.NewHTTPD(filter.HTTPDOptions{})
	recs, _ := filter.Get(f, []any{"GET /hello?who=world HTTP/1.1\r\nHost: example\r\n\r\n"})
	req := recs[0].(*http.Request)
	fmt.Println(req.Method, req.URL.Path, req.URL.Query().Get("who"), req.Host, req.Proto)

	out, _ := f.Put([]any{filter.NewHTTPResponse(200, "text/plain", []byte("hi\n"))})
	fmt.Printf("%q\n", out[0])

	// A request it refuses is a response to send back.
	recs, _ = filter.Get(f, []any{"ELEPHANT\r\n\r\n"})
	fmt.Println(recs[0].(*http.Response).Status)
	// Output:
	// GET /hello world example HTTP/1.1
	// "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nhi\n"
	// 400 Bad Request
}
