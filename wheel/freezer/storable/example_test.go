package storable_test

import (
	"fmt"

	"github.com/poe-go/poe/wheel/freezer/storable"
)

// An IKC call request, as a Go struct.
type Request struct {
	Event  string `perl:"event"`
	Params []int  `perl:"params"`
	Rsvp   *Rsvp  `perl:"rsvp,omitempty"`
}

type Rsvp struct {
	Kernel  string `perl:"kernel"`
	Session int    `perl:"session"`
	State   string `perl:"state"`
}

func ExampleMarshal() {
	data, err := storable.Marshal(Request{
		Event:  "poe://Server/test/add",
		Params: []int{2, 3},
		Rsvp:   &Rsvp{Kernel: "Client", Session: 2, State: "answer"},
	})
	if err != nil {
		panic(err)
	}
	// The same 121 bytes Perl's nfreeze writes (with sorted keys).
	fmt.Println(len(data))
	fmt.Printf("% x\n", data[:8])
	// Output:
	// 121
	// 05 0b 03 00 00 00 03 0a
}

func ExampleUnmarshal() {
	// nfreeze({ event => "poe://Server/test/posted", params => [1, "two"] })
	data := []byte("\x05\x0b\x03\x00\x00\x00\x02\x0a\x18poe://Server/test/posted\x00\x00\x00\x05event" +
		"\x04\x02\x00\x00\x00\x02\x08\x81\x0a\x03two\x00\x00\x00\x06params")
	var msg struct {
		Event  string `perl:"event"`
		Params []any  `perl:"params"`
	}
	if err := storable.Unmarshal(data, &msg); err != nil {
		panic(err)
	}
	fmt.Println(msg.Event, msg.Params)
	// Output: poe://Server/test/posted [1 two]
}

func ExampleDecode() {
	// my $s = [1]; nfreeze([$s, $s]): one array referenced twice.
	data := []byte{0x05, 0x0b, 0x02, 0, 0, 0, 2, 0x04, 0x02, 0, 0, 0, 1, 0x08, 0x81, 0x04, 0x00, 0, 0, 0, 2}
	v, err := storable.Decode(data)
	if err != nil {
		panic(err)
	}
	a := v.(*storable.Array)
	fmt.Println(len(a.Elems), a.Elems[0] == a.Elems[1])
	// Output: 2 true
}

func ExampleHash() {
	// bless { name => "café", list => [1, undef] }, "My::Class"
	h := storable.NewHash(
		"name", storable.String("café"),
		"list", storable.NewArray(storable.Int(1), storable.Undef{}),
	)
	h.Class = "My::Class"
	data, err := storable.Encode(h)
	if err != nil {
		panic(err)
	}
	back, err := storable.Decode(data)
	if err != nil {
		panic(err)
	}
	name, _ := back.(*storable.Hash).Get("name")
	fmt.Println(back.(*storable.Hash).Class, name)
	// Output: My::Class café
}

func ExampleToJSON() {
	// nfreeze(\"caf\xe9"): a byte string with a high byte.
	v, err := storable.Decode([]byte{0x05, 0x0b, 0x0a, 0x04, 'c', 'a', 'f', 0xe9})
	if err != nil {
		panic(err)
	}
	js, _ := storable.ToJSON(v, &storable.JSONOptions{MarkBytes: true})
	fmt.Println(string(js))
	// Output: {"$bytes":"Y2Fm6Q=="}
}

func ExampleObject() {
	data, err := storable.Marshal(storable.Object{Class: "Foo::Bar", Value: map[string]int{"a": 1}})
	if err != nil {
		panic(err)
	}
	var o storable.Object
	if err := storable.Unmarshal(data, &o); err != nil {
		panic(err)
	}
	fmt.Println(o.Class, o.Value)
	// Output: Foo::Bar map[a:1]
}
