package filter_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/poe-go/poe/internal/perltest"
	"github.com/poe-go/poe/wheel/filter"
)

// perlHTTPD reads cases, one a line: "<streaming 0|1> <max content> <hex
// chunk>...", runs each chunk through one get() of a fresh
// POE::Filter::HTTPD and prints the records the way describeHTTP does.
const perlHTTPD = `
use strict; use warnings;
use POE::Filter::HTTPD; use Scalar::Util qw(blessed);
local $SIG{__WARN__} = sub {};
$| = 1;
sub desc {
  my $r = shift;
  return "DATA " . unpack("H*", $r) unless blessed $r;
  if ($r->isa('HTTP::Response')) {
    my $q = $r->request;
    return "RESP " . $r->code . ($q ? " of " . $q->method . " " . $q->uri : "");
  }
  my @h;
  for my $n (sort map { lc } $r->headers->header_field_names) {
    push @h, "$n=" . join(",", $r->headers->header($n));
  }
  return join " ", "REQ", $r->method, $r->uri, $r->protocol, unpack("H*", $r->content), "[" . join(";", @h) . "]";
}
while (my $l = <STDIN>) {
  chomp $l;
  my ($stream, $max, @chunks) = split / /, $l, -1;
  my $f = POE::Filter::HTTPD->new(Streaming => $stream, MaxContent => $max);
  my @out;
  for my $c (@chunks) {
    my $r = $f->get([pack "H*", $c]);
    push @out, map { desc($_) } @$r;
    push @out, "|";
  }
  print join(" ", @out), "\n";
}
`

// describeHTTP is perlHTTPD's desc for our records.
func describeHTTP(t *testing.T, rec any) string {
	switch r := rec.(type) {
	case []byte:
		return "DATA " + hex.EncodeToString(r)
	case *http.Response:
		s := fmt.Sprintf("RESP %d", r.StatusCode)
		if r.Request != nil {
			s += " of " + r.Request.Method + " " + r.Request.RequestURI
		}
		return s
	case *http.Request:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		var h []string
		for n, v := range r.Header {
			h = append(h, strings.ToLower(n)+"="+strings.Join(v, ","))
		}
		sort.Strings(h)
		return strings.Join([]string{"REQ", r.Method, r.RequestURI, r.Proto, hex.EncodeToString(b), "[" + strings.Join(h, ";") + "]"}, " ")
	}
	return fmt.Sprintf("%T", rec)
}

// TestHTTPDAgainstPerl feeds requests, cut at random places, to POE's
// Filter::HTTPD and to ours, one get per piece, and compares what each get
// returns: requests (method, URI, protocol, content, headers), error codes
// and streamed content.
func TestHTTPDAgainstPerl(t *testing.T) {
	perltest.Need(t, "", "POE::Filter::HTTPD")
	requests := []string{
		"GET http://localhost/pie.mhtml\n\n",
		"GET /foo.html HTTP/1.0\nUser-Agent: Wget/1.8.2\nHost: localhost:8080\nAccept: */*\nConnection: Keep-Alive\n\n",
		"POST http://localhost/foo.mhtml HTTP/1.0\nContent-Length: 16\nContent-Type: application/x-www-form-urlencoded\n\nI=like&tasty=pie",
		"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /a HTTP/1.1\r\nX-Long: one\r\n two\r\n\tthree\r\nX-Other:   spaced  \r\n\r\n",
		"GET /lfcr HTTP/1.0\n\r\n\r",
		"GET /cr HTTP/1.0\r\r",
		"GET //foo/bar 1.0\r\n\r\n",
		"GET /x HTTP/1.0\nX-A: 1\nX-A: 2\n\n",
		"  \r\n\r\nGET /after-space HTTP/1.0\n\n",
		"ELEPHANT\n\r\n",
		"GET\t/elephant.gif\n\n",
		"ELEPHANT http://localhost/ HTTP/1.1\nContent-Encoding: mussa\n\n",
		"ELEPHANT http://localhost/ HTTP/1.0\nContent-Encoding: mussa\n\nbody",
		"POST / HTTP/1.1\nContent-Length: 1073741824\nContent-Type: text/plain\n\nNothing much",
		"POST / HTTP/1.1\nContent-Length: 15\n\nhonk honk honk\n",
		"POST / HTTP/1.1\nContent-Length: fifteen\n\nhonk honk honk\n",
		"POST / HTTP/1.1\nContent-Length: 5\n\nhonk\n",
		"GET / HTTP/1.1\nContent-Length: 10\n\n0123456789GET /2 HTTP/1.1\n\n",
		"GET /q?a=1&b=two HTTP/1.1\r\nHost: example\r\n\r\n",
	}
	rng := rand.New(rand.NewSource(7))
	type tc struct {
		stream bool
		max    int
		chunks []string
	}
	var cases []tc
	var in strings.Builder
	for _, req := range requests {
		for rep := 0; rep < 12; rep++ {
			c := tc{stream: rep%3 == 2, max: 64}
			if rep == 0 {
				c.chunks = []string{req}
			} else {
				for s := req; len(s) > 0; {
					k := rng.Intn(min(len(s), 9)) + 1
					c.chunks = append(c.chunks, s[:k])
					s = s[k:]
				}
			}
			cases = append(cases, c)
			fmt.Fprintf(&in, "%d %d", map[bool]int{false: 0, true: 1}[c.stream], c.max)
			for _, ch := range c.chunks {
				fmt.Fprintf(&in, " %x", ch)
			}
			in.WriteString("\n")
		}
	}
	cmd := exec.Command("perl", "-e", perlHTTPD)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for i, c := range cases {
		if !sc.Scan() {
			t.Fatalf("perl answered %d cases of %d", i, len(cases))
		}
		want := sc.Text()
		if os.Getenv("HTTPD_SHOW") != "" && i%12 == 0 {
			t.Logf("%s", want)
		}
		f := newHTTPD(t, filter.HTTPDOptions{Streaming: c.stream, MaxContent: c.max})
		var got []string
		for _, ch := range c.chunks {
			recs, err := filter.Get(f, []any{ch})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				got = append(got, describeHTTP(t, r))
			}
			got = append(got, "|")
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("case %d (streaming %v) %q:\n got  %s\n perl %s", i, c.stream, c.chunks, g, want)
		}
	}
}
