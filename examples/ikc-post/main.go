// Command ikc-post is curl for IKC: it connects to an IKC server (Go or
// Perl) with a ClientLite, posts a JSON value to a state, or calls it and
// prints the reply as JSON.
//
//	ikc-post [-host H] [-port P | -unix PATH] [-call | -respond] [-protocol IKC|IKC0] SPECIFIER [JSON]
//
//	ikc-post -call poe://Demo/demo/add '[1,2,3]'     # prints 6
//	ikc-post poe://Demo/demo/hit                     # posts undef
//	ikc-post -call demo/count                        # relative to the server's kernel
//	ikc-post -port 6666 -respond Service/event '{"Hi":"There"}'   # {"hello":"There"}
//
// -call waits for the state's return value; -respond is ClientLite's
// post_respond: the state gets [JSON, rsvp] and answers by posting to the
// rsvp specifier. Without JSON the state receives undef. The exit status
// is 0 on success, 1 with the error on stderr when the request fails, 2
// on bad usage.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/poe-go/poe/examples/internal/seedflag"
	"github.com/poe-go/poe/ikc/clientlite"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

const usage = "usage: ikc-post [-host H] [-port P | -unix PATH] [-call | -respond] [-protocol IKC|IKC0] [-timeout S] SPECIFIER [JSON]"

// errUsage marks command line mistakes (exit status 2).
var errUsage = errors.New(usage)

// errFlags: the flag package has already printed the complaint and the
// usage (exit status 2, nothing more to print).
var errFlags = errors.New("bad flags")

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errFlags), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "ikc-post:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "ikc-post:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ikc-post", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage); fs.PrintDefaults() }
	host := fs.String("host", "127.0.0.1", "server host")
	port := fs.Int("port", 6668, "server TCP port")
	unix := fs.String("unix", "", "server Unix socket path (instead of -host/-port)")
	call := fs.Bool("call", false, "call the state and print its reply as JSON")
	respond := fs.Bool("respond", false, "post [JSON, rsvp] (ClientLite's post_respond) and print what the state posts back")
	protocol := fs.String("protocol", "IKC0", "negotiation dialect: IKC0 or IKC")
	name := fs.String("name", "", "kernel name to announce (default ikc-post-<pid>)")
	var timeout time.Duration
	seedflag.Var(fs, &timeout, "timeout", 10*time.Second, "bound on connecting and on waiting for the reply: seconds as ClientLite's timeout (10) or a duration (10s)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errFlags
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return errUsage
	}
	portSet := false
	fs.Visit(func(f *flag.Flag) { portSet = portSet || f.Name == "port" })
	if *unix != "" && portSet {
		return fmt.Errorf("%w (-port and -unix exclude each other)", errUsage)
	}
	if *call && *respond {
		return fmt.Errorf("%w (-call and -respond exclude each other)", errUsage)
	}
	if *protocol != "IKC0" && *protocol != "IKC" {
		return fmt.Errorf("%w (-protocol must be IKC or IKC0)", errUsage)
	}
	spec := fs.Arg(0)
	var args1 []any
	if fs.NArg() == 2 {
		v, err := decodeJSON(fs.Arg(1))
		if err != nil {
			return fmt.Errorf("%w (JSON argument: %v)", errUsage, err)
		}
		args1 = []any{v}
	}
	if *name == "" {
		*name = "ikc-post-" + strconv.Itoa(os.Getpid())
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	opts := clientlite.Options{Name: *name, Protocol: *protocol, Timeout: timeout}
	if *unix != "" {
		opts.Unix = *unix
	} else {
		opts.Host, opts.Port = *host, *port
	}
	lite, err := clientlite.Dial(ctx, opts)
	if err != nil {
		return err
	}
	defer lite.Disconnect()
	var reply any
	switch {
	case *call:
		reply, err = lite.Call(ctx, spec, args1...)
	case *respond:
		reply, err = lite.PostRespond(ctx, spec, args1...)
	default:
		if err := lite.Post(ctx, spec, args1...); err != nil {
			return err
		}
		// A post is not answered: a ping makes sure the server has read
		// it before the connection closes (and that it is still there).
		return lite.Ping(ctx)
	}
	if err != nil {
		return err
	}
	out, err := json.Marshal(toJSON(reply))
	if err != nil {
		return fmt.Errorf("reply %v: %w", reply, err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

// decodeJSON reads one JSON value; integral numbers become int64 (Perl
// integers), others float64.
func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the value")
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
}

// toJSON makes a received value printable as JSON: blessed objects become
// {"class": ..., "value": ...}, non-finite floats strings.
func toJSON(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = toJSON(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = toJSON(e)
		}
		return out
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case []byte:
		return string(x)
	case storable.Object:
		return map[string]any{"class": x.Class, "value": toJSON(x.Value)}
	}
	return v
}
