package filter

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Default limits of HTTPD.
const (
	// DefaultHTTPDMaxContent is POE's MaxContent: 1 MiB of request body.
	DefaultHTTPDMaxContent = 1 << 20
	// DefaultHTTPDMaxHeader bounds the request line and headers: 1 MiB,
	// net/http's DefaultMaxHeaderBytes (POE has no such limit).
	DefaultHTTPDMaxHeader = 1 << 20
	// DefaultHTTPDMaxBuffer bounds the buffered input: 16 MiB (POE's is
	// 512 MiB, which lets each connection pin half a gigabyte).
	DefaultHTTPDMaxBuffer = 16 << 20
)

// HTTPDOptions are POE::Filter::HTTPD's parameters; the zero value is POE's
// defaults with the smaller MaxBuffer and a header limit.
type HTTPDOptions struct {
	// MaxContent bounds a request body (default DefaultHTTPDMaxContent):
	// a larger Content-Length is answered with a 413 record. Ignored when
	// Streaming.
	MaxContent int
	// MaxHeader bounds the request line and headers together (default
	// DefaultHTTPDMaxHeader): more is answered with a 431 record.
	MaxHeader int
	// MaxBuffer bounds the buffered input (default
	// DefaultHTTPDMaxBuffer); more is ErrBufferExceeds. It must hold
	// MaxHeader and, as POE checks, MaxContent plus its digits and one.
	MaxBuffer int
	// Streaming returns the request as soon as its headers are read,
	// with an empty body, then the body as []byte records as it comes
	// (POE's streaming mode).
	Streaming bool
}

// HTTPD is POE::Filter::HTTPD: input is parsed into HTTP/0.9, 1.0 and 1.1
// requests, records of type *http.Request whose Body holds the content;
// output records are *http.Response values, serialised with their status
// line, headers and body (read to its end and closed).
//
// A request it cannot accept becomes a *http.Response record instead, for
// the program to send back (and then close the connection, as POE advises):
// 400 for an unparsable request line or Content-Length, 411 for an HTTP/1.1
// body announced by Content-Encoding without a length, 413 for a body over
// MaxContent, 431 for headers over MaxHeader. Its Request field is the
// request as far as it was parsed (nil for a bad request line).
//
// As in POE, leading white space before a request (extra CR LFs after a
// body, say) is skipped, a request line without a version is HTTP/0.9,
// "//" at the start of the path becomes "/", and a request has a body only
// when Content-Length or Content-Encoding says so. Fixed (port variant): a
// request with Content-Length 0 keeps the pipelined input behind it, which
// POE drops; and a path Go's url package cannot parse (a bad %-escape) is a
// 400.
type HTTPD struct {
	o        HTTPDOptions
	in       inbuf
	scanFrom int // where the search for the end of the headers resumes

	req     *http.Request // the request whose body is being read
	need    int           // body octets still to read
	body    []byte
	pending bool // streaming: req is still to be returned

	recs   []any
	chunks []any
}

// NewHTTPD returns an HTTPD filter, or an error (wrapping ErrParameter) for
// negative limits or a MaxBuffer too small for them.
func NewHTTPD(o HTTPDOptions) (*HTTPD, error) {
	var err error
	if o.MaxContent, err = limit("MaxContent", o.MaxContent, DefaultHTTPDMaxContent); err != nil {
		return nil, err
	}
	if o.MaxHeader, err = limit("MaxHeader", o.MaxHeader, DefaultHTTPDMaxHeader); err != nil {
		return nil, err
	}
	if o.MaxBuffer, err = limit("MaxBuffer", o.MaxBuffer, DefaultHTTPDMaxBuffer); err != nil {
		return nil, err
	}
	if o.MaxBuffer < o.MaxContent+len(strconv.Itoa(o.MaxContent))+1 {
		return nil, paramError("MaxBuffer is not large enough for MaxContent")
	}
	if o.MaxBuffer < o.MaxHeader {
		return nil, paramError("MaxBuffer is not large enough for MaxHeader")
	}
	return &HTTPD{o: o}, nil
}

// GetOneStart appends chunks ([]byte, string or *Bytes) to the buffer.
// Input beyond MaxBuffer is dropped and reported by the next GetOne.
func (f *HTTPD) GetOneStart(chunks []any) { f.in.start(chunks, f.o.MaxBuffer) }

// GetOneStartBytes appends p to the buffer (see BytesStarter).
func (f *HTTPD) GetOneStartBytes(p []byte) { f.in.startBytes(p, f.o.MaxBuffer) }

// GetOne returns the next request (or error response), or nothing until
// one is complete. Streaming, it returns the request first, then body
// chunks ([]byte) as they come, possibly together.
func (f *HTTPD) GetOne() ([]any, error) {
	if f.in.err != nil {
		return nil, f.in.takeErr()
	}
	f.recs = f.recs[:0]
	if f.req == nil {
		r := f.headers()
		if r == nil {
			f.in.idle()
			return nil, nil
		}
		if f.req == nil { // complete without a body, or an error
			f.recs = append(f.recs, r)
			return f.recs, nil
		}
	}
	return f.content(), nil
}

// headers looks for a complete header block and parses it. It returns
// nil when none is buffered yet; a request or response to return; or the
// request whose body follows (then f.req is set).
func (f *HTTPD) headers() any {
	if f.scanFrom == 0 {
		f.in.consume(leadingSpace(f.in.bytes()))
		if f.in.len() == 0 {
			return nil
		}
		f.scanFrom = 1
	}
	buf := f.in.bytes()
	end := -1
	for i := f.scanFrom; i < len(buf); i++ {
		if n := terminatorAt(buf, i); n > 0 {
			end = i + n
			break
		}
	}
	if end < 0 || end > f.o.MaxHeader {
		if len(buf) > f.o.MaxHeader {
			f.discard()
			return httpError(http.StatusRequestHeaderFieldsTooLarge,
				fmt.Sprintf("The request line and headers exceed %d octets.", f.o.MaxHeader), nil)
		}
		// Positions whose three following octets were all seen are done.
		f.scanFrom = max(1, len(buf)-3)
		return nil
	}
	block := string(buf[:end])
	f.in.consume(end)
	f.scanFrom = 0
	return f.parse(block)
}

// terminatorAt returns the length of the end of a header block at buf[i]
// (POE's CR LF? CR LF? or LF CR? LF CR?, optional parts taken when
// present), or 0.
func terminatorAt(buf []byte, i int) int {
	a := buf[i]
	if a != '\r' && a != '\n' {
		return 0
	}
	var b byte = '\n' // the optional octet after a
	if a == '\n' {
		b = '\r'
	}
	j := i + 1
	if j < len(buf) && buf[j] == b {
		j++
	}
	if j >= len(buf) || buf[j] != a {
		return 0
	}
	j++
	if j < len(buf) && buf[j] == b {
		j++
	}
	return j - i
}

// leadingSpace counts the white space (Perl's \s) at the start of b.
func leadingSpace(b []byte) int {
	n := 0
	for n < len(b) && isSpace(b[n]) {
		n++
	}
	return n
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

var (
	requestLine = regexp.MustCompile(`^(\w+)[ \t]+(\S+)(?:[ \t]+(HTTP/\d+\.\d+))?[^\n]*\n`)
	headerLine  = regexp.MustCompile(`^([\w\-~]+)\s*:\s*(.*)`)
	contLine    = regexp.MustCompile(`^\s+(.*)`)
	digitsOnly  = regexp.MustCompile(`^\s*(\d+)\s*$`)
)

func (f *HTTPD) parse(block string) any {
	m := requestLine.FindStringSubmatchIndex(block)
	if m == nil {
		first, _, _ := strings.Cut(block, "\n")
		return httpError(http.StatusBadRequest, "Request line parse failure: "+truncate(first, 200), nil)
	}
	method, path := block[m[2]:m[3]], block[m[4]:m[5]]
	proto := "HTTP/0.9"
	if m[6] >= 0 {
		proto = block[m[6]:m[7]]
	}
	if strings.HasPrefix(path, "//") {
		path = "/" + strings.TrimLeft(path, "/")
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		return httpError(http.StatusBadRequest, "Bad protocol version: "+truncate(proto, 50), nil)
	}
	u, err := url.ParseRequestURI(path)
	if err != nil {
		if u, err = url.Parse(path); err != nil {
			return httpError(http.StatusBadRequest, "Request line parse failure: "+truncate(path, 200), nil)
		}
	}
	r := &http.Request{
		Method: method, URL: u, RequestURI: path,
		Proto: proto, ProtoMajor: major, ProtoMinor: minor,
		Header: http.Header{}, Body: http.NoBody,
	}
	var key, val string
	for _, line := range strings.Split(block[m[1]:], "\n") {
		line = strings.TrimSuffix(line, "\r")
		if hm := headerLine.FindStringSubmatch(line); hm != nil {
			if key != "" {
				r.Header.Add(key, val)
			}
			key, val = hm[1], hm[2]
		} else if cm := contLine.FindStringSubmatch(line); cm != nil && key != "" {
			val += " " + cm[1]
		} else {
			break
		}
	}
	if key != "" {
		r.Header.Add(key, val)
	}
	r.Host = r.Header.Get("Host")
	if r.Host == "" {
		r.Host = u.Host
	}

	cls, hasCL := r.Header["Content-Length"]
	_, hasCE := r.Header["Content-Encoding"]
	cl := 0
	if hasCL {
		dm := digitsOnly.FindStringSubmatch(strings.Join(cls, ", "))
		if dm == nil {
			f.discard()
			return httpError(http.StatusBadRequest, "Content-Length is not a number.", r)
		}
		if cl, err = strconv.Atoi(dm[1]); err != nil {
			f.discard()
			return httpError(http.StatusRequestEntityTooLarge, "Content-Length is too large.", r)
		}
	}
	if !hasCL && !hasCE {
		return r
	}
	if cl == 0 {
		if hasCL {
			return r
		}
		// A body of unknown length: POE refuses it for HTTP/1.1 and
		// drops it for older versions.
		f.discard()
		if major*1000+minor >= 1001 {
			return httpError(http.StatusLengthRequired, "No content length found.", r)
		}
		return r
	}
	if !f.o.Streaming && cl > f.o.MaxContent {
		f.discard()
		return httpError(http.StatusRequestEntityTooLarge, fmt.Sprintf("Content of %d octets not accepted.", cl), r)
	}
	r.ContentLength = int64(cl)
	f.req, f.need, f.pending = r, cl, true
	if !f.o.Streaming {
		f.body = make([]byte, 0, min(cl, 64<<10))
	}
	return r
}

// content reads the body of f.req.
func (f *HTTPD) content() []any {
	b := f.in.bytes()
	n := min(len(b), f.need)
	if f.o.Streaming {
		if f.pending {
			f.recs = append(f.recs, f.req)
			f.pending = false
		}
		if n > 0 {
			f.recs = append(f.recs, append([]byte(nil), b[:n]...))
			f.in.consume(n)
			f.need -= n
		}
		if f.need == 0 {
			f.finish()
		}
		return f.recs
	}
	f.body = append(f.body, b[:n]...)
	f.in.consume(n)
	f.need -= n
	if f.need > 0 {
		return nil
	}
	f.req.Body = io.NopCloser(bytes.NewReader(f.body))
	f.recs = append(f.recs, f.req)
	f.finish()
	return f.recs
}

// finish ends a request whose body is complete.
func (f *HTTPD) finish() {
	f.req, f.body, f.need, f.pending = nil, nil, 0, false
	// Some clients send CR LFs after a body.
	f.in.consume(leadingSpace(f.in.bytes()))
	f.scanFrom = 0
}

// discard drops the buffered input after a request it refuses, as POE does:
// what follows cannot be trusted to start a request.
func (f *HTTPD) discard() {
	f.in.consume(f.in.len())
	f.scanFrom = 0
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// httpError is POE's error response: a small HTML page with the status and
// the reason.
func httpError(code int, details string, req *http.Request) *http.Response {
	text := http.StatusText(code)
	page := fmt.Sprintf("<!DOCTYPE html>\n<title>%d %s</title>\n<h1>%d %s</h1>\n<p>%s</p>\n",
		code, text, code, text, html.EscapeString(details))
	r := NewHTTPResponse(code, "text/html", []byte(page))
	r.Request = req
	return r
}

// NewHTTPResponse returns a response for HTTPD's Put: the status, a
// Content-Type and a Content-Length, and body (POE's basic response; Proto
// is left empty, which Put writes as HTTP/1.0).
func NewHTTPResponse(code int, contentType string, body []byte) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return &http.Response{
		StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Header: h, ContentLength: int64(len(body)),
		Body: io.NopCloser(bytes.NewReader(body)),
	}
}

// Put serialises *http.Response records, one chunk each: the status line
// (Proto, HTTP/1.0 when empty; the reason from Status, or the standard
// one), the headers with CR LF line ends (Content-Length added from
// ContentLength when the headers lack it), a blank line and the body,
// which Put reads to its end and closes. Other records are ErrRecordType.
func (f *HTTPD) Put(records []any) ([]any, error) {
	f.chunks = f.chunks[:0]
	for _, rec := range records {
		r, ok := rec.(*http.Response)
		if !ok || r == nil {
			return nil, fmt.Errorf("%w: HTTPD record of type %T (it puts *http.Response)", ErrRecordType, rec)
		}
		b, err := appendResponse(nil, r)
		if err != nil {
			return nil, err
		}
		f.chunks = append(f.chunks, b)
	}
	return f.chunks, nil
}

func appendResponse(dst []byte, r *http.Response) ([]byte, error) {
	proto := r.Proto
	if proto == "" {
		proto = "HTTP/1.0"
	}
	code := strconv.Itoa(r.StatusCode)
	reason, ok := strings.CutPrefix(r.Status, code+" ")
	if !ok || reason == "" {
		reason = http.StatusText(r.StatusCode)
	}
	if reason == "" {
		reason = "Unknown Error"
	}
	var buf bytes.Buffer
	buf.Write(dst)
	fmt.Fprintf(&buf, "%s %s %s\r\n", proto, code, reason)
	h := r.Header
	if h.Get("Content-Length") == "" && r.ContentLength > 0 {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	if err := h.Write(&buf); err != nil {
		return nil, err
	}
	buf.WriteString("\r\n")
	if r.Body != nil {
		_, err := io.Copy(&buf, r.Body)
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("filter: HTTPD reading the response body: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// GetPending returns the unparsed input as one []byte chunk, or nil (a
// body being read is not included).
func (f *HTTPD) GetPending() []any { return f.in.pending() }

// DiscardPending drops the buffered input and any request in progress.
func (f *HTTPD) DiscardPending() {
	f.in.reset()
	f.req, f.body, f.need, f.pending, f.scanFrom = nil, nil, 0, false, 0
}

// Clone returns an HTTPD with the same options and nothing buffered.
func (f *HTTPD) Clone() Filter { return &HTTPD{o: f.o} }
