package driver

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// pipe returns a non-blocking pipe closed when the test ends.
func pipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := pipeNB(p[:]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func TestConformance(t *testing.T) {
	t.Run("C92", func(t *testing.T) {
		if _, err := NewSysRW(SysRWOptions{BlockSize: -1}); err == nil {
			t.Error("BlockSize -1 accepted")
		}
		// Unknown parameters cannot be written in Go (typed options);
		// BlockSize 0 is the zero value and means the default.
		d, err := NewSysRW(SysRWOptions{})
		if err != nil || d.BlockSize() != DefaultBlockSize {
			t.Fatalf("default: %v %v", d, err)
		}
		if n := d.Put(); n != 0 || d.OutMessages() != 0 {
			t.Errorf("put([]) = %d, %d messages", n, d.OutMessages())
		}
		if n := d.Put([]byte(strings.Repeat("test", 10))); n != 40 || d.OutMessages() != 1 {
			t.Errorf("put(test x 10) = %d, %d messages", n, d.OutMessages())
		}
		if n := d.Put([]byte("more"), nil, []byte{}); n != 44 || d.OutMessages() != 2 || d.OutOctets() != 44 {
			t.Errorf("second put = %d, %d messages", n, d.OutMessages())
		}

		// Flush into a non-blocking pipe until it is full, then read
		// everything back: the same octets arrive.
		r, w := pipe(t)
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		var put, left int
		for i := 0; i < 1000; i++ {
			put += len(chunk)
			d.Put(chunk)
			if left, err = d.Flush(w); err != nil {
				t.Fatal(err)
			}
			if left > 0 {
				break
			}
		}
		if left == 0 {
			t.Fatal("pipe never filled")
		}
		written := 44 + put - left
		rd, _ := NewSysRW(SysRWOptions{BlockSize: 1000})
		var got []byte
		for {
			b, err := rd.Get(r)
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				break
			}
			if len(b) > 1000 {
				t.Fatalf("read %d > BlockSize", len(b))
			}
			got = append(got, b...)
		}
		if len(got) != written {
			t.Errorf("read back %d octets, wrote %d", len(got), written)
		}
		want := append([]byte(strings.Repeat("test", 10)+"more"), bytes.Repeat(chunk, put/len(chunk))...)
		if !bytes.Equal(got, want[:written]) {
			t.Error("data read back differs")
		}
		// Drain the rest.
		for d.OutOctets() > 0 {
			if _, err := d.Flush(w); err != nil {
				t.Fatal(err)
			}
			for {
				b, err := rd.Get(r)
				if err != nil {
					t.Fatal(err)
				}
				if b == nil {
					break
				}
				got = append(got, b...)
			}
		}
		if !bytes.Equal(got, want) || d.OutMessages() != 0 {
			t.Errorf("after draining: %d of %d octets, %d messages", len(got), len(want), d.OutMessages())
		}

		// EOF: io.EOF, not an errno.
		unix.Close(w)
		if b, err := rd.Get(r); b != nil || err != io.EOF {
			t.Errorf("get at EOF = %q, %v", b, err)
		}

		// Flush into a pipe whose reader is closed: remaining octets and
		// EPIPE.
		r2, w2 := pipe(t)
		unix.Close(r2)
		d.Put([]byte("lost"))
		left, err = d.Flush(w2)
		if left != 4 || !errors.Is(err, unix.EPIPE) {
			t.Errorf("flush into closed pipe = %d, %v", left, err)
		}
		if d.OutMessages() != 1 {
			t.Errorf("messages after failed flush = %d", d.OutMessages())
		}
	})
}

func TestPartialWrites(t *testing.T) {
	// Chunks spanning partial writes keep their count and order.
	r, w := smallPipe(t)
	d, _ := NewSysRW(SysRWOptions{})
	var want []byte
	for i := 0; i < 100; i++ {
		c := bytes.Repeat([]byte{byte('a' + i%26)}, 100+i)
		want = append(want, c...)
		d.Put(c)
	}
	var got []byte
	buf := make([]byte, 777)
	for d.OutOctets() > 0 {
		before := d.OutMessages()
		if _, err := d.Flush(w); err != nil {
			t.Fatal(err)
		}
		if d.OutMessages() > before {
			t.Fatal("message count grew")
		}
		n, _ := unix.Read(r, buf)
		if n > 0 {
			got = append(got, buf[:n]...)
		}
		d.Put() // compaction point
	}
	for {
		n, _ := unix.Read(r, buf)
		if n <= 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestReadPool(t *testing.T) {
	r, w := pipe(t)
	d, _ := NewSysRW(SysRWOptions{})
	if b, err := d.Get(r); b != nil || err != nil {
		t.Fatalf("empty pipe: %q %v", b, err)
	}
	if d.rbuf != nil {
		t.Error("would-block read kept the buffer")
	}
	unix.Write(w, []byte("hi"))
	b, err := d.Get(r)
	if string(b) != "hi" || err != nil {
		t.Fatalf("got %q %v", b, err)
	}
	d.Release()
	if d.rbuf != nil {
		t.Error("Release kept the buffer")
	}
	unix.Write(w, []byte("again"))
	allocs := testing.AllocsPerRun(100, func() {
		unix.Write(w, []byte("x"))
		d.Get(r)
		d.Release()
	})
	if allocs > 0 && !raceEnabled {
		t.Errorf("%v allocations per read", allocs)
	}
}

func TestPutFlushAllocs(t *testing.T) {
	r, w := pipe(t)
	d, _ := NewSysRW(SysRWOptions{})
	msg := []byte("hello, world\r\n")
	buf := make([]byte, 100)
	allocs := testing.AllocsPerRun(1000, func() {
		d.Put(msg)
		d.Flush(w)
		unix.Read(r, buf)
	})
	if allocs > 0 {
		t.Errorf("%v allocations per put+flush", allocs)
	}
}

func TestAppender(t *testing.T) {
	d, _ := NewSysRW(SysRWOptions{})
	// One chunk appended in place, then an empty one (not a message),
	// then a copied one: three messages.
	if n := d.CommitChunk(append(d.OutBuffer(), "abc"...)); n != 3 || d.OutMessages() != 1 {
		t.Fatalf("first chunk: %d octets, %d messages", n, d.OutMessages())
	}
	if n := d.CommitChunk(d.OutBuffer()); n != 3 || d.OutMessages() != 1 {
		t.Fatalf("empty chunk: %d octets, %d messages", n, d.OutMessages())
	}
	d.Put([]byte("de"))
	if n := d.CommitChunk(append(d.OutBuffer(), "fgh"...)); n != 8 || d.OutMessages() != 3 {
		t.Fatalf("third chunk: %d octets, %d messages", n, d.OutMessages())
	}
	r, w := pipe(t)
	if left, err := d.Flush(w); left != 0 || err != nil {
		t.Fatalf("flush: %d %v", left, err)
	}
	if d.OutOctets() != 0 || d.OutMessages() != 0 || d.out != nil {
		t.Errorf("after flush: %d octets, %d messages, buffer kept: %v", d.OutOctets(), d.OutMessages(), d.out != nil)
	}
	buf := make([]byte, 16)
	n, _ := unix.Read(r, buf)
	if string(buf[:n]) != "abcdefgh" {
		t.Errorf("read %q", buf[:n])
	}
	// The emptied queue's buffers were pooled: the next Put reuses them
	// (not checked under -race, where the pool drops items).
	if !raceEnabled {
		allocs := testing.AllocsPerRun(100, func() {
			d.CommitChunk(append(d.OutBuffer(), "xyz"...))
			d.Flush(w)
			unix.Read(r, buf)
		})
		if allocs != 0 {
			t.Errorf("%v allocations per put+flush, want 0", allocs)
		}
	}
}

func TestDiscard(t *testing.T) {
	r, w := pipe(t)
	d, _ := NewSysRW(SysRWOptions{})
	// Fill the pipe so that part of the queue stays unwritten.
	big := bytes.Repeat([]byte("x"), 1<<20)
	d.Put(big, []byte("tail"))
	if left, err := d.Flush(w); left == 0 || err != nil {
		t.Fatalf("flush: %d left, %v", left, err)
	}
	if b, err := d.Get(r); len(b) == 0 || err != nil {
		t.Fatalf("get: %d bytes, %v", len(b), err)
	}
	d.Discard()
	if d.OutOctets() != 0 || d.OutMessages() != 0 || d.q != nil || d.out != nil || d.rbuf != nil {
		t.Errorf("after Discard: %d octets, %d messages, queue kept %v, read buffer kept %v",
			d.OutOctets(), d.OutMessages(), d.q != nil, d.rbuf != nil)
	}
	// Still usable, and the discarded queue is what the next Put takes
	// (not checked under -race, where the pool drops items).
	if n := d.Put([]byte("ok")); n != 2 {
		t.Errorf("put after Discard: %d", n)
	}
	d.Discard()
	if !raceEnabled {
		allocs := testing.AllocsPerRun(100, func() {
			d.Put([]byte("abc"))
			d.Discard()
		})
		if allocs != 0 {
			t.Errorf("%v allocations per put+discard, want 0", allocs)
		}
	}
}
