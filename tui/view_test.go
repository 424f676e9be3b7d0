package tui

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// state writes v out deeply: pointers followed (each once), maps in key
// order, functions and channels only as nil or not. Two calls give the same
// text exactly when nothing reachable from v changed in between.
func state(v any) string {
	var b strings.Builder
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				b.WriteString("nil")
				return
			}
			if seen[v.Pointer()] {
				fmt.Fprintf(&b, "@%x", v.Pointer())
				return
			}
			seen[v.Pointer()] = true
			b.WriteByte('&')
			walk(v.Elem())
		case reflect.Interface:
			if v.IsNil() {
				b.WriteString("nil")
				return
			}
			walk(v.Elem())
		case reflect.Struct:
			b.WriteByte('{')
			for i := range v.NumField() {
				b.WriteString(v.Type().Field(i).Name + ":")
				walk(v.Field(i))
				b.WriteByte(' ')
			}
			b.WriteByte('}')
		case reflect.Slice, reflect.Array:
			b.WriteByte('[')
			for i := range v.Len() {
				walk(v.Index(i))
				b.WriteByte(',')
			}
			b.WriteByte(']')
		case reflect.Map:
			var items []string
			for it := v.MapRange(); it.Next(); {
				items = append(items, state1(it.Key(), walk, &b)+"="+state1(it.Value(), walk, &b))
			}
			sort.Strings(items)
			b.WriteString("map[" + strings.Join(items, ",") + "]")
		case reflect.Func, reflect.Chan, reflect.UnsafePointer:
			fmt.Fprintf(&b, "%v", v.IsNil())
		default:
			fmt.Fprintf(&b, "%v", v)
		}
	}
	walk(reflect.ValueOf(v))
	return b.String()
}

// state1 is one map key's or value's text, walked into a builder of its own.
func state1(v reflect.Value, walk func(reflect.Value), b *strings.Builder) string {
	saved := b.String()
	b.Reset()
	walk(v)
	s := b.String()
	b.Reset()
	b.WriteString(saved)
	return s
}

// View changes nothing: drawing the screen twice leaves the model as it
// was and draws the same screen, whatever is open or focused.
func TestViewIsPure(t *testing.T) {
	evs := demoEvents(t)
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{"start", nil},
		{"matrix", []string{"tab", "tab", "tab", "down", "right"}},
		{"scrolled", []string{"k", "k", "k"}},
		{"zoomed", []string{"tab", "tab", "tab", "tab", "enter", "k"}},
		{"help", []string{"?"}},
		{"critique", []string{"c"}},
		{"question", []string{"f"}},
	} {
		for _, sz := range [][2]int{{80, 24}, {120, 40}, {40, 10}} {
			t.Run(tc.name+"/"+sizeName(sz), func(t *testing.T) {
				m := liveModel(evs[:len(evs)*2/3], sz[0], sz[1])
				for _, k := range tc.keys {
					drive(m, keyMsg(k))
				}
				before := state(m)
				first := m.View()
				if after := state(m); after != before {
					t.Fatalf("View changed the model")
				}
				if second := m.View(); second != first {
					t.Errorf("a second View drew another screen")
				}
			})
		}
	}
}

// The ? help lists the screen's keys and the focused pane's: the matrix's
// cell keys only while the matrix has the focus.
func TestHelpFollowsFocus(t *testing.T) {
	m := liveModel(demoEvents(t), 120, 40)
	drive(m, keyMsg("?"))
	if s := plain(m); !strings.Contains(s, "scroll up") || strings.Contains(s, "select cell") || !strings.Contains(s, "rebind a model") {
		t.Errorf("help with an agent in focus:\n%s", s)
	}
	drive(m, keyMsg("esc"))
	for range 3 {
		drive(m, keyMsg("tab"))
	}
	drive(m, keyMsg("?"))
	if s := plain(m); strings.Contains(s, "scroll up") || !strings.Contains(s, "select cell") || !strings.Contains(s, "earlier/later") {
		t.Errorf("help with the matrix in focus:\n%s", s)
	}
}
