package filter_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/poe-go/poe/wheel/filter"
)

func mustMap(t *testing.T, o filter.MapOptions) *filter.Map {
	t.Helper()
	f, err := filter.NewMap(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustGrep(t *testing.T, o filter.GrepOptions) *filter.Grep {
	t.Helper()
	f, err := filter.NewGrep(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustRB(t *testing.T, o filter.RecordBlockOptions) *filter.RecordBlock {
	t.Helper()
	f, err := filter.NewRecordBlock(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var (
	upper = filter.MapOne(func(r any) any { return strings.ToUpper(r.(string)) })
	lower = filter.MapOne(func(r any) any { return strings.ToLower(r.(string)) })
)

func matches(re string) func(any) bool {
	rx := regexp.MustCompile(re)
	return func(r any) bool { return rx.MatchString(fmt.Sprint(r)) }
}

func TestMapGrepConformance(t *testing.T) {
	t.Run("C88", func(t *testing.T) {
		g := mustGrep(t, filter.GrepOptions{Get: matches(`\d`), Put: matches(`[a-zA-Z]`)})
		if diff := cmp.Diff(strs("A", "B", "C"), mustPut(t, g, strs("A", "B", "C", "1", "2", "3"))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("1", "2", "3"), mustGet(t, g, strs("a", "b", "c", "1", "2", "3"))); diff != "" {
			t.Error(diff)
		}
		g = mustGrep(t, filter.GrepOptions{Code: matches(`a`)})
		if diff := cmp.Diff(strs("a", "ca"), mustGet(t, g, strs("a", "b", "ca"))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("a", "ca"), mustPut(t, g, strs("a", "b", "ca"))); diff != "" {
			t.Error(diff)
		}
		g.Modify(filter.GrepOptions{Get: matches(`b`)})
		if diff := cmp.Diff(strs("b"), mustGet(t, g, strs("a", "b"))); diff != "" {
			t.Error(diff)
		}
		g.Modify(filter.GrepOptions{Put: matches(`^$`)})
		if got := mustPut(t, g, strs("a", "b")); len(got) != 0 {
			t.Errorf("modified Put: %q", got)
		}
		g.Modify(filter.GrepOptions{Code: matches(`x`)})
		if diff := cmp.Diff(strs("x"), mustGet(t, g, strs("a", "x"))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("x"), mustPut(t, g, strs("a", "x"))); diff != "" {
			t.Error(diff)
		}

		m := mustMap(t, filter.MapOptions{Get: upper, Put: lower})
		if diff := cmp.Diff(strs("a", "b", "c"), mustPut(t, m, strs("A", "B", "C"))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("A", "B", "C"), mustGet(t, m, strs("a", "b", "c"))); diff != "" {
			t.Error(diff)
		}
		wrap := filter.MapOne(func(r any) any { return "<" + r.(string) + ">" })
		m = mustMap(t, filter.MapOptions{Code: wrap})
		if diff := cmp.Diff(strs("<a>", "<b>"), mustPut(t, m, strs("a", "b"))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("<a>", "<b>"), mustGet(t, m, strs("a", "b"))); diff != "" {
			t.Error(diff)
		}
		m.Modify(filter.MapOptions{Get: upper})
		m.Modify(filter.MapOptions{Put: lower})
		if diff := cmp.Diff(strs("A"), mustGet(t, m, strs("a"))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("a"), mustPut(t, m, strs("A"))); diff != "" {
			t.Error(diff)
		}
		m.Modify(filter.MapOptions{Code: wrap})
		if diff := cmp.Diff(strs("<a>"), mustPut(t, m, strs("a"))); diff != "" {
			t.Error(diff)
		}
		// A list result is flattened.
		twice := func(dst []any, r any) []any { return append(dst, r, r) }
		m = mustMap(t, filter.MapOptions{Code: twice})
		if diff := cmp.Diff(strs("a", "a", "b", "b"), mustPut(t, m, strs("a", "b"))); diff != "" {
			t.Error(diff)
		}

		// No functions, or only one of Get and Put: errors. (Non-function
		// values cannot be written with typed options.)
		for name, o := range map[string]filter.MapOptions{"none": {}, "Get only": {Get: upper}, "Put only": {Put: lower}} {
			if f, err := filter.NewMap(o); !errors.Is(err, filter.ErrParameter) || f != nil {
				t.Errorf("Map %s: %v %v", name, f, err)
			}
		}
		for name, o := range map[string]filter.GrepOptions{"none": {}, "Get only": {Get: matches(".")}, "Put only": {Put: matches(".")}} {
			if f, err := filter.NewGrep(o); !errors.Is(err, filter.ErrParameter) || f != nil {
				t.Errorf("Grep %s: %v %v", name, f, err)
			}
		}

		// 50_stackable.t's Map checks: pending records, one get_one each.
		m = mustMap(t, filter.MapOptions{Code: filter.MapOne(func(r any) any { return fmt.Sprintf("(((%v)))", r) })})
		m.GetOneStart([]any{1, 1, 2, 3, 5})
		if diff := cmp.Diff([]any{1, 1, 2, 3, 5}, m.GetPending()); diff != "" {
			t.Error(diff)
		}
		for _, n := range []int{1, 1, 2, 3, 5} {
			r, _ := m.GetOne()
			if diff := cmp.Diff(strs(fmt.Sprintf("(((%d)))", n)), r); diff != "" {
				t.Error(diff)
			}
		}
		if r, _ := m.GetOne(); len(r) != 0 || m.GetPending() != nil {
			t.Errorf("left over: %v %v", r, m.GetPending())
		}
	})
}

func ints(ns ...int) []any {
	out := make([]any, len(ns))
	for i, n := range ns {
		out[i] = n
	}
	return out
}

func TestRecordBlockConformance(t *testing.T) {
	t.Run("C89", func(t *testing.T) {
		f := mustRB(t, filter.RecordBlockOptions{BlockSize: 4})
		blocks := mustGet(t, f, ints(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
		if diff := cmp.Diff([]any{ints(1, 2, 3, 4), ints(5, 6, 7, 8)}, blocks); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(ints(9, 10), f.GetPending()); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(ints(1, 2, 3, 4, 5, 6, 7, 8), mustPut(t, f, blocks)); diff != "" {
			t.Error(diff)
		}
		if f.PutPending() != nil {
			t.Error("put_pending without CheckPut")
		}

		f = mustRB(t, filter.RecordBlockOptions{BlockSize: 3, CheckPut: true})
		steps := []struct {
			in      []any
			out     []any
			pending []any
		}{
			{[]any{ints(1, 2), []any{3, "A"}}, ints(1, 2, 3), []any{"A"}},
			{[]any{ints(2, 3, 1, 2, 3), []any{1, 2, 3, "B"}}, []any{"A", 2, 3, 1, 2, 3, 1, 2, 3}, []any{"B"}},
			{[]any{ints(2, 3, 1, 2), ints(3, 1), ints(2, 3, 1), ints(2, 3)}, []any{"B", 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}, nil},
		}
		for i, s := range steps {
			if diff := cmp.Diff(s.out, mustPut(t, f, s.in)); diff != "" {
				t.Errorf("step %d put: %s", i, diff)
			}
			if diff := cmp.Diff(s.pending, f.PutPending()); diff != "" {
				t.Errorf("step %d put_pending: %s", i, diff)
			}
		}

		f = mustRB(t, filter.RecordBlockOptions{BlockSize: 3})
		if diff := cmp.Diff([]any{1, 2, 3, "A"}, mustPut(t, f, []any{ints(1, 2), []any{3, "A"}})); diff != "" {
			t.Error(diff)
		}
		// Any slice type is a block; other values are errors.
		if diff := cmp.Diff(strs("x", "y"), mustPut(t, f, []any{[]string{"x", "y"}})); diff != "" {
			t.Error(diff)
		}
		if _, err := f.Put([]any{"not a block"}); !errors.Is(err, filter.ErrRecordType) {
			t.Errorf("put(scalar): %v", err)
		}
		for _, n := range []int{0, -1} {
			if _, err := filter.NewRecordBlock(filter.RecordBlockOptions{BlockSize: n}); !errors.Is(err, filter.ErrParameter) {
				t.Errorf("BlockSize %d: %v", n, err)
			}
		}
		f.SetBlockSize(0)
		f.SetBlockSize(2)
		f.SetCheckPut(true)
		if f.BlockSize() != 2 || !f.CheckPut() {
			t.Error("setters")
		}
		// e20: BlockSize 2, get [1,2,3] -> [[1,2]], pending [3].
		f = mustRB(t, filter.RecordBlockOptions{BlockSize: 2})
		if diff := cmp.Diff([]any{ints(1, 2)}, mustGet(t, f, ints(1, 2, 3))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(ints(3), f.GetPending()); diff != "" {
			t.Error(diff)
		}
	})
}

// testStack is 50_stackable.t's stack.
func testStack(t *testing.T) *filter.Stackable {
	flatten := func(dst []any, r any) []any {
		if l, ok := r.([]any); ok {
			return append(dst, l...)
		}
		return append(dst, r)
	}
	s, err := filter.NewStackable(
		filter.MustLine(filter.LineOptions{Literal: "!"}),
		mustMap(t, filter.MapOptions{
			Put: flatten,
			Get: filter.MapOne(func(r any) any { return "(((" + r.(string) + ")))" }),
		}),
		mustGrep(t, filter.GrepOptions{Put: func(any) bool { return true }, Get: matches(`1`)}),
		mustRB(t, filter.RecordBlockOptions{BlockSize: 2}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStackableConformance(t *testing.T) {
	t.Run("C90", func(t *testing.T) {
		s := testStack(t)
		if got := mustGet(t, s, chunks("test one (1)!test two (2)!")); len(got) != 0 {
			t.Errorf("partial get returned %q", got)
		}
		// Port variant (A12 fixed): the pending record of RecordBlock is
		// handed back as raw input through Grep, Map and Line's Put. POE
		// returns ["(((test one (1))))"], RecordBlock's own pending data.
		if diff := cmp.Diff(strs("(((test one (1))))!"), normList(s.GetPending())); diff != "" {
			t.Error(diff)
		}
		block := mustGet(t, s, chunks("test three (3)!test four (100)!"))
		want := []any{strs("(((test one (1))))", "(((test four (100))))")}
		if diff := cmp.Diff(want, block); diff != "" {
			t.Error(diff)
		}
		stream := mustPut(t, s, []any{block[0], block[0]})
		wantStream := strs("(((test one (1))))!", "(((test four (100))))!", "(((test one (1))))!", "(((test four (100))))!")
		if diff := cmp.Diff(wantStream, stream); diff != "" {
			t.Error(diff)
		}

		types := []string{"*filter.Line", "*filter.Map", "*filter.Grep", "*filter.RecordBlock"}
		if diff := cmp.Diff(types, s.FilterTypes()); diff != "" {
			t.Error(diff)
		}
		orig := s.Filters()
		popped := s.Pop()
		if _, ok := popped.(*filter.RecordBlock); !ok {
			t.Errorf("pop returned %T", popped)
		}
		shifted := s.Shift()
		if _, ok := shifted.(*filter.Line); !ok {
			t.Errorf("shift returned %T", shifted)
		}
		if err := s.Push(popped); err != nil {
			t.Fatal(err)
		}
		if err := s.Unshift(shifted); err != nil {
			t.Fatal(err)
		}
		same := func(a, b []filter.Filter) bool {
			if len(a) != len(b) {
				return false
			}
			for i := range a {
				if a[i] != b[i] {
					return false
				}
			}
			return true
		}
		if !same(orig, s.Filters()) {
			t.Error("re-pushed filters are not in the original order")
		}

		var nilLine *filter.Line
		for name, fs := range map[string][]filter.Filter{"nil": {nil}, "typed nil": {nilLine}, "mixed": {filter.NewStream(filter.StreamOptions{}), nil}} {
			if err := s.Push(fs...); !errors.Is(err, filter.ErrParameter) {
				t.Errorf("push %s: %v", name, err)
			}
			if err := s.Unshift(fs...); !errors.Is(err, filter.ErrParameter) {
				t.Errorf("unshift %s: %v", name, err)
			}
		}
		if !same(orig, s.Filters()) {
			t.Error("failed pushes changed the stack")
		}
		if _, err := filter.NewStackable(nil); !errors.Is(err, filter.ErrParameter) {
			t.Errorf("NewStackable(nil): %v", err)
		}

		c := s.Clone().(*filter.Stackable)
		if c == s {
			t.Error("clone is the same stack")
		}
		for i, f := range c.Filters() {
			if f == orig[i] {
				t.Errorf("clone shares filter %d", i)
			}
		}
		if diff := cmp.Diff(types, c.FilterTypes()); diff != "" {
			t.Error(diff)
		}
	})

	t.Run("C91", func(t *testing.T) {
		// Map quirk A11 fixed (port variant): POE returns [A] and keeps b.
		m := mustMap(t, filter.MapOptions{
			Get: func(dst []any, r any) []any {
				if r == "skip" {
					return dst
				}
				return append(dst, strings.ToUpper(r.(string)))
			},
			Put: lower,
		})
		if diff := cmp.Diff(strs("A", "B"), mustGet(t, m, strs("a", "skip", "b"))); diff != "" {
			t.Error(diff)
		}
		if m.GetPending() != nil {
			t.Errorf("pending %v", m.GetPending())
		}

		// Stackable quirk A12 fixed (port variant): POE reports [] and
		// loses "ef", still in the Line filter.
		s, _ := filter.NewStackable(filter.MustLine(filter.LineOptions{Literal: "\n"}), mustMap(t, filter.MapOptions{Code: upper}))
		if diff := cmp.Diff(strs("AB", "CD"), mustGet(t, s, chunks("ab\ncd\nef"))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("X\n", "Y\n"), mustPut(t, s, strs("x", "y"))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(strs("ef"), normList(s.GetPending())); diff != "" {
			t.Error(diff)
		}
	})
}

// TestStackableHandOff checks that Pop and Shift hand pending data on.
func TestStackableHandOff(t *testing.T) {
	// Shift: Line's partial line goes to the next filter as raw input.
	s, _ := filter.NewStackable(
		filter.MustLine(filter.LineOptions{Literal: "\n"}),
		filter.NewStream(filter.StreamOptions{}),
	)
	if diff := cmp.Diff(strs("a"), mustGet(t, s, chunks("a\nb"))); diff != "" {
		t.Error(diff)
	}
	line := s.Shift()
	if line.GetPending() != nil {
		t.Error("shifted filter kept its pending data")
	}
	if diff := cmp.Diff(strs("bc"), mustGet(t, s, chunks("c"))); diff != "" {
		t.Error(diff)
	}

	// Pop: the records the last filter had buffered come out of the stack.
	rb := mustRB(t, filter.RecordBlockOptions{BlockSize: 3})
	s, _ = filter.NewStackable(filter.MustLine(filter.LineOptions{Literal: "\n"}), rb)
	if got := mustGet(t, s, chunks("x\ny\n")); len(got) != 0 {
		t.Errorf("got %q", got)
	}
	if diff := cmp.Diff(strs("x\n", "y\n"), normList(s.GetPending())); diff != "" {
		t.Error(diff)
	}
	s.Pop()
	if diff := cmp.Diff(strs("x", "y", "z"), mustGet(t, s, chunks("z\n"))); diff != "" {
		t.Error(diff)
	}

	// An empty stack passes data through.
	s.Shift()
	if diff := cmp.Diff(strs("raw"), mustGet(t, s, chunks("raw"))); diff != "" {
		t.Error(diff)
	}
	if s.Pop() != nil || s.Shift() != nil {
		t.Error("pop/shift of an empty stack")
	}

	// Errors of a member come out of the stack.
	s, _ = filter.NewStackable(filter.MustLine(filter.LineOptions{MaxLength: 2}), filter.NewStream(filter.StreamOptions{}))
	if _, err := filter.Get(s, chunks("long line\n")); !errors.Is(err, filter.ErrLineExceeds) {
		t.Errorf("member error: %v", err)
	}
	// Bytes input goes to the first filter without boxing.
	s.GetOneStartBytes([]byte("ok\n"))
	if r, err := s.GetOne(); err != nil || !cmp.Equal(normList(r), strs("ok")) {
		t.Errorf("GetOneStartBytes: %v %v", r, err)
	}
}
