// Command storable converts Perl Storable images to JSON and back.
//
//	go run ./examples/storable tojson < blob > value.json
//	go run ./examples/storable fromjson < value.json > blob
//
// tojson reads an nfreeze image (as Perl's nfreeze or nstore writes it; a
// leading "pst0" file magic is skipped) and prints the JSON view described
// in README.md: plain JSON for strings, numbers, arrays and hashes, and
// marker objects for what JSON cannot show: {"$bytes": ...}
// for byte strings with high bytes, {"$ref": x} for scalar references,
// {"$bless": class, "$value": x} for objects, {"$shared": n} for a second
// reference to the same data, {"$bool": b} for Perl's immortal booleans.
//
// fromjson reads that JSON view and writes nfreeze bytes that Perl's
// Storable::thaw reads.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		// The storable package's errors say "storable:" already.
		msg := err.Error()
		if !strings.HasPrefix(msg, "storable: ") {
			msg = "storable: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usage = `usage: storable tojson [-compact] < blob
       storable fromjson < value.json > blob`

// errUsage marks command line mistakes (exit status 2).
var errUsage = errors.New(usage)

func run(args []string, in io.Reader, out io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error and the usage are printed once, by main
	compact := fs.Bool("compact", false, "tojson: print JSON on one line")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%v\n%w", err, errUsage)
	}
	if args[0] != "tojson" && args[0] != "fromjson" {
		return fmt.Errorf("unknown command %q\n%w", args[0], errUsage)
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	switch args[0] {
	case "tojson":
		data = bytes.TrimPrefix(data, []byte("pst0"))
		v, err := storable.Decode(data)
		if err != nil {
			return err
		}
		opts := &storable.JSONOptions{MarkBytes: true, Indent: "  "}
		if *compact {
			opts.Indent = ""
		}
		js, err := storable.ToJSON(v, opts)
		if err != nil {
			return err
		}
		_, err = out.Write(append(js, '\n'))
		return err
	case "fromjson":
		v, err := storable.FromJSON(data)
		if err != nil {
			return err
		}
		b, err := storable.Encode(v)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	return nil
}
