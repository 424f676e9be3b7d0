package scroll

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// Window and Indicator read a state put back in range without changing it;
// Clamp (from Update) changes it the same way.
func TestWindowIsPureAndClampAgrees(t *testing.T) {
	for _, tc := range []struct {
		s             State
		total, height int
		from, to      int
		clamped       State
	}{
		{State{}, 10, 4, 6, 10, State{Off: 6}},                              // follows the end
		{State{Off: 2, Away: true}, 10, 4, 2, 6, State{Off: 2, Away: true}}, // scrolled up: stays
		{State{Off: 9, Away: true}, 5, 4, 1, 5, State{Off: 1}},              // text shrank: follows again
		{State{Off: 0, Away: true}, 3, 4, 0, 3, State{Off: 0, Away: true}},  // at the top, all of it in view
		{State{Off: 3, Away: true}, 10, 0, 0, 0, State{Off: 3, Away: true}}, // no room: untouched
	} {
		s := tc.s
		from, to := s.Window(tc.total, tc.height)
		_ = s.Indicator(tc.total, tc.height)
		if s != tc.s {
			t.Errorf("Window(%d, %d) changed %+v to %+v", tc.total, tc.height, tc.s, s)
		}
		if from != tc.from || to != tc.to {
			t.Errorf("%+v.Window(%d, %d) = %d, %d, want %d, %d", tc.s, tc.total, tc.height, from, to, tc.from, tc.to)
		}
		s.Clamp(tc.total, tc.height)
		if s != tc.clamped {
			t.Errorf("%+v.Clamp(%d, %d) = %+v, want %+v", tc.s, tc.total, tc.height, s, tc.clamped)
		}
	}
}

// A key moves from the offset the last frame showed, not a stale one.
func TestUpdateStartsFromTheClampedOffset(t *testing.T) {
	s := State{Off: 9, Away: true} // the text has since shrunk to 5 lines
	s.Update(tea.KeyMsg{Type: tea.KeyUp}, 5, 4)
	if s.Off != 0 || !s.Away {
		t.Errorf("up from the end of 5 lines in 4 rows: %+v, want offset 0, scrolled away", s)
	}
}
