package freezer_test

import (
	"bytes"
	"fmt"

	"github.com/poe-go/poe/wheel/freezer"
)

func ExampleFramer() {
	// Frames arrive in arbitrary pieces; the framer returns whole payloads.
	var stream []byte
	stream = freezer.AppendFrame(stream, []byte("first"))
	stream = freezer.AppendFrame(stream, []byte("second"))
	var f freezer.Framer
	for _, chunk := range [][]byte{stream[:3], stream[3:9], stream[9:]} {
		f.Feed(chunk)
		for {
			p, ok, err := f.Next()
			if err != nil {
				panic(err)
			}
			if !ok {
				break
			}
			fmt.Printf("%s\n", p)
		}
	}
	// Output:
	// first
	// second
}

func ExampleReader() {
	// Negotiation lines and the first frame can arrive in one read: read the
	// lines and the frames through the same bufio.Reader.
	r := freezer.NewReader(bytes.NewReader([]byte("5\x00hello")), 0)
	p, err := r.ReadFrame()
	fmt.Printf("%s %v\n", p, err)
	// Output: hello <nil>
}

func ExampleLookup() {
	for _, name := range []string{"Storable", "YAML", "POE::Component::IKC::Freezer"} {
		f, err := freezer.Lookup(name)
		if err != nil {
			fmt.Println(err)
			continue
		}
		payload, _ := f.Freeze(map[string]any{"event": "poe://Server/test/add", "params": []int{2, 3}})
		msg, _ := f.Thaw(payload)
		fmt.Printf("%s: %d bytes, %T\n", f.Name(), len(payload), msg)
	}
	// Output:
	// Storable: 59 bytes, *storable.Hash
	// YAML: 53 bytes, *storable.Hash
	// freezer: POE::Component::IKC::Freezer refused: its payloads are Perl code run with eval
}

func ExampleChoose() {
	// An IKC0 client's FREEZER= list, in its order of preference.
	f, ok := freezer.Choose([]string{"POE::Component::IKC::Freezer", "Storable"})
	fmt.Println(f.Name(), ok)
	// Output: Storable true
}
