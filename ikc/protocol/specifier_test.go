package protocol

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// TestSpecifier/I25 is conformance case 25 (t/05_specifier.t): the 18
// inputs and the hashes Perl's specifier_parse returns for them.
func TestSpecifier(t *testing.T) {
	t.Run("I25", func(t *testing.T) {
		cases := []struct {
			in   string
			want Specifier
		}{
			{"session/state", Specifier{"", "session", "state", ""}},
			{"state", Specifier{"", "", "state", ""}},
			{"//kernel/session/state", Specifier{"kernel", "session", "state", ""}},
			{"//*/session/state", Specifier{"*", "session", "state", ""}},
			{"poe://kernel/session/state", Specifier{"kernel", "session", "state", ""}},
			{"poe://kernel/session", Specifier{"kernel", "session", "", ""}},
			{"poe://kernel", Specifier{"kernel", "", "", ""}},
			{"poe:/session/state", Specifier{"", "session", "state", ""}},
			{"poe:state", Specifier{"", "", "state", ""}},
			{"poe://*/session/state", Specifier{"*", "session", "state", ""}},
			{"session/state?args", Specifier{"", "session", "state", "args"}},
			{"state?args", Specifier{"", "", "state", "args"}},
			{"//kernel/session/state?args", Specifier{"kernel", "session", "state", "args"}},
			{"//*/session/state?args", Specifier{"*", "session", "state", "args"}},
			{"poe://kernel/session/state?args", Specifier{"kernel", "session", "state", "args"}},
			{"poe:/session/state?args", Specifier{"", "session", "state", "args"}},
			{"poe:state?args", Specifier{"", "", "state", "args"}},
			{"poe://*/session/state?args", Specifier{"*", "session", "state", "args"}},
		}
		if len(cases) != 18 {
			t.Fatalf("%d cases, want 18", len(cases))
		}
		for _, c := range cases {
			got, err := ParseSpecifier(c.in)
			if err != nil || got != c.want {
				t.Errorf("ParseSpecifier(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
		}
	})

	// The observed table of ikc-protocol.md §9.1.
	t.Run("table", func(t *testing.T) {
		valid := []struct {
			in   string
			want Specifier
		}{
			{"poe://Pulse/timeserver/connect", Specifier{"Pulse", "timeserver", "connect", ""}},
			{"poe://Pulse/timeserver", Specifier{"Pulse", "timeserver", "", ""}},
			{"poe://Pulse/timeserver/", Specifier{"Pulse", "timeserver", "", ""}},
			{"poe://Pulse", Specifier{"Pulse", "", "", ""}},
			{"poe:/timeserver/connect", Specifier{"", "timeserver", "connect", ""}},
			{"poe:/timeserver", Specifier{"", "timeserver", "", ""}},
			{"poe:connect", Specifier{"", "", "connect", ""}},
			{"poe:", Specifier{}},
			{"poe://", Specifier{}},
			{"poe://*/timeserver/connect", Specifier{"*", "timeserver", "connect", ""}},
			{"poe://127.0.0.1:1234/s/t", Specifier{"127.0.0.1:1234", "s", "t", ""}},
			{"poe://unix:foo.sock:123-4/s/t", Specifier{"unix:foo.sock:123-4", "s", "t", ""}},
			{"poe://my host/s/t", Specifier{"my host", "s", "t", ""}},
			{"poe://k/s/t?x", Specifier{"k", "s", "t", "x"}},
			{"session/state", Specifier{"", "session", "state", ""}},
			{"state", Specifier{"", "", "state", ""}},
			{"//kernel/session/state", Specifier{"kernel", "session", "state", ""}},
			{"//k/s", Specifier{"k", "", "s", ""}},
			{"a b/c d", Specifier{"", "a b", "c d", ""}},
			{"poe://vm-6b04914c-00002c97-00000001/IKC/remote_error", Specifier{"vm-6b04914c-00002c97-00000001", "IKC", "remote_error", ""}},
			{"poe://k/0/t?0", Specifier{"k", "", "t", ""}}, // Perl-false parts
			{"poe://k/séance/état", Specifier{"k", "séance", "état", ""}},
		}
		for _, c := range valid {
			got, err := ParseSpecifier(c.in)
			if err != nil || got != c.want {
				t.Errorf("ParseSpecifier(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
		}
		for _, in := range []string{
			"", "0", "poe:a b/c d", "s/t/extra", "poe://k/s/t/u", "/s/t",
			"poe://k/s/st:ate", "poe://k/s/t?x y", "POE://k/s/t",
			"poe://k/s/IKC:proxy", "poe://k/s/t\n", "poe://k/s/t?", "s/t?a?b",
		} {
			if got, err := ParseSpecifier(in); !errors.Is(err, ErrBadSpecifier) {
				t.Errorf("ParseSpecifier(%q) = %+v, %v; want ErrBadSpecifier", in, got, err)
			}
		}
	})

	t.Run("String", func(t *testing.T) {
		for _, c := range []struct {
			s    Specifier
			want string
		}{
			{Specifier{"k", "s", "t", ""}, "poe://k/s/t"},
			{Specifier{"", "s", "t", ""}, "poe:/s/t"},
			{Specifier{"", "", "t", ""}, "poe:/t"},
			{Specifier{}, "poe:"},
			{Specifier{"k", "s", "t", "x"}, "poe://k/s/t"},
			{Specifier{"vm-1", "client", "IKC:proxy", ""}, "poe://vm-1/client/IKC:proxy"},
			{Specifier{"0", "0", "t", ""}, "poe:/t"},
		} {
			if got := c.s.String(); got != c.want {
				t.Errorf("%+v.String() = %q, want %q", c.s, got, c.want)
			}
		}
	})

	t.Run("hash", func(t *testing.T) {
		h := storable.NewHash("session", storable.Int(2), "kernel", storable.Bytes("Client"), "state", storable.Bytes("answer"))
		got, err := SpecifierFromHash(h)
		if want := (Specifier{"Client", "2", "answer", ""}); err != nil || got != want {
			t.Fatalf("SpecifierFromHash = %+v, %v", got, err)
		}
		// Absent, undef and false parts are "".
		got, err = SpecifierFromValue(storable.NewHash("kernel", storable.Undef{}, "session", storable.Bytes("0"), "state", storable.Bytes("IKC:proxy"), "other", storable.NewArray()))
		if want := (Specifier{State: "IKC:proxy"}); err != nil || got != want {
			t.Fatalf("SpecifierFromValue = %+v, %v", got, err)
		}
		if _, err := SpecifierFromValue(storable.NewHash("state", storable.NewArray())); !errors.Is(err, ErrBadSpecifier) {
			t.Errorf("ref part: %v", err)
		}
		for _, v := range []storable.Value{nil, storable.Undef{}, storable.NewArray(), &storable.Ref{Target: storable.Bytes("x")}, storable.Bytes("a/b/c/d")} {
			if _, err := SpecifierFromValue(v); !errors.Is(err, ErrBadSpecifier) {
				t.Errorf("SpecifierFromValue(%#v): %v", v, err)
			}
		}
		got, err = SpecifierFromValue(storable.String("poe://k/s/t?x"))
		if want := (Specifier{"k", "s", "t", "x"}); err != nil || got != want {
			t.Errorf("string value: %+v, %v", got, err)
		}
		// Hash builds {kernel, session, state} with numeric sessions as integers.
		back, err := SpecifierFromHash(Specifier{"Client", "2", "answer", "a"}.Hash())
		if want := (Specifier{"Client", "2", "answer", "a"}); err != nil || back != want {
			t.Errorf("round trip: %+v, %v", back, err)
		}
		if v, _ := (Specifier{Session: "2"}).Hash().Get("session"); v != storable.Int(2) {
			t.Errorf("session 2 written as %#v", v)
		}
		if v, _ := (Specifier{Session: "02"}).Hash().Get("session"); v != storable.Bytes("02") {
			t.Errorf("session 02 written as %#v", v)
		}
	})
}

// FuzzParseSpecifier: no panics, and every accepted string gives parts the
// grammar allows (the formatted name of a spec with a state re-parses).
func FuzzParseSpecifier(f *testing.F) {
	for _, s := range []string{"poe://k/s/t?x", "poe:", "//*/s/t", "a b/c d", "poe://unix:a.sock:1-2/s/t",
		"poe://127.0.0.1:1/s", "state?args", "poe:/s/", "0", "", "poe://k/s/t/u"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseSpecifier(s)
		if err != nil {
			if !errors.Is(err, ErrBadSpecifier) {
				t.Fatalf("error %v does not wrap ErrBadSpecifier", err)
			}
			return
		}
		if !utf8.ValidString(s) {
			// The grammar's classes match only valid runes.
			t.Fatalf("accepted invalid UTF-8 %q", s)
		}
		_ = spec.String()
		if spec.Kernel != "" && spec.Session != "" && spec.State != "" {
			back, err := ParseSpecifier(spec.String())
			if err != nil || back.Kernel != spec.Kernel || back.Session != spec.Session || back.State != spec.State {
				t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, spec, spec.String(), back, err)
			}
		}
		if _, err := SpecifierFromHash(spec.Hash()); err != nil {
			t.Fatal(err)
		}
	})
}
