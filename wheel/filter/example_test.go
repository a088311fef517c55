package filter_test

import (
	"fmt"

	"github.com/poe-go/poe/wheel/filter"
	"github.com/poe-go/poe/wheel/freezer/storable"
)

func ExampleLine() {
	f, err := filter.NewLine(filter.LineOptions{})
	if err != nil {
		panic(err)
	}
	// Lines may end in CR LF, LF CR, CR or LF, and arrive in pieces.
	for _, chunk := range []string{"hel", "lo\r\nwor", "ld\n", "partial"} {
		recs, err := filter.Get(f, []any{[]byte(chunk)})
		if err != nil {
			panic(err)
		}
		for _, r := range recs {
			fmt.Printf("%q\n", r)
		}
	}
	fmt.Printf("pending %q\n", f.GetPending())
	out, _ := f.Put([]any{"bye"})
	fmt.Printf("put %q\n", out)
	// Output:
	// "hello"
	// "world"
	// pending ["partial"]
	// put ["bye\r\n"]
}

func ExampleLine_bytes() {
	// Byte mode: records are *filter.Bytes views, valid until the next
	// GetOne; nothing is allocated per line.
	f, _ := filter.NewLine(filter.LineOptions{Literal: "\n", Bytes: true})
	f.GetOneStartBytes([]byte("one\ntwo\n"))
	for {
		recs, err := f.GetOne()
		if err != nil || len(recs) == 0 {
			break
		}
		fmt.Printf("%s\n", recs[0].(*filter.Bytes).B)
	}
	// Output:
	// one
	// two
}

func ExampleReference() {
	// Frames are "<length> NUL <Storable nfreeze image>", as POE's
	// default Reference filter writes them.
	f, err := filter.NewReference(filter.ReferenceOptions{})
	if err != nil {
		panic(err)
	}
	chunks, err := f.Put([]any{map[string]any{"event": "add", "args": []int{2, 3}}})
	if err != nil {
		panic(err)
	}
	recs, err := filter.Get(f, chunks)
	if err != nil {
		panic(err)
	}
	h := recs[0].(*storable.Hash)
	args, _ := h.Get("args")
	j, _ := storable.ToJSON(args, nil)
	fmt.Printf("%T %s\n", recs[0], j)

	// Plain scalars are not references.
	_, err = f.Put([]any{"not a ref"})
	fmt.Println(err)
	// Output:
	// *storable.Hash [2,3]
	// filter: choking on a non-reference (string)
}
