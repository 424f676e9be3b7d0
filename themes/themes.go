// Package themes holds nsed's colour themes. A theme is a palette; the TUI's
// components build their styles from it, so switching theme at run time is
// a matter of handing every component the new value.
package themes

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Band indexes the review-weight bands the protocol documents, from "wrong"
// to "verified". The heat map colours a score by its band.
type Band int

const (
	BandWrong    Band = iota // −100 … −50
	BandFlawed               // −50 … −10
	BandNeutral              // −10 … +10
	BandSolid                // +10 … +50
	BandStrong               // +50 … +85
	BandVerified             // +85 … +100
	NumBands
)

var bandNames = [NumBands]string{"wrong", "major flaws", "neutral", "solid", "strong", "verified"}

func (b Band) String() string {
	if b < 0 || b >= NumBands {
		return "?"
	}
	return bandNames[b]
}

// BandOf returns the band of an endorsement weight in [−100, 100].
func BandOf(w int) Band {
	switch {
	case w < -50:
		return BandWrong
	case w < -10:
		return BandFlawed
	case w <= 10:
		return BandNeutral
	case w <= 50:
		return BandSolid
	case w <= 85:
		return BandStrong
	}
	return BandVerified
}

// Swatch is a foreground on a background, chosen together for contrast.
type Swatch struct {
	Fg, Bg lipgloss.TerminalColor
}

// Theme is a palette. Colours are lipgloss colours, so a terminal with fewer
// colours gets the nearest it has.
type Theme struct {
	Name string

	Text   lipgloss.TerminalColor // body text
	Muted  lipgloss.TerminalColor // labels, secondary facts
	Faint  lipgloss.TerminalColor // rules, empty bar cells, the matrix diagonal
	Accent lipgloss.TerminalColor // titles, the leader
	Border lipgloss.TerminalColor // pane borders
	Focus  lipgloss.TerminalColor // the focused pane's border

	Good lipgloss.TerminalColor // done, kept, support
	Warn lipgloss.TerminalColor // paused, waiting on something
	Bad  lipgloss.TerminalColor // failed, dropped, opposition

	Bar   lipgloss.TerminalColor // filled bar cells
	Live  Swatch                 // the LIVE badge
	Rec   Swatch                 // the recording banner
	Sel   Swatch                 // the selected row or cell
	Heat  [NumBands]Swatch       // review-weight scale, colour-blind safe
	Agent []lipgloss.TerminalColor

	// Bold marks the themes whose styles lean on bold text rather than
	// colour alone (high contrast).
	Bold bool
}

// Style returns a style with the theme's colour c as foreground.
func (t Theme) Style(c lipgloss.TerminalColor) lipgloss.Style {
	return lipgloss.NewStyle().Foreground(c)
}

// Swatch returns a style for a swatch.
func (t Theme) Swatch(s Swatch) lipgloss.Style {
	st := lipgloss.NewStyle().Foreground(s.Fg).Background(s.Bg)
	if t.Bold {
		st = st.Bold(true)
	}
	return st
}

// AgentColor returns the colour that tells agent number i apart.
func (t Theme) AgentColor(i int) lipgloss.TerminalColor {
	if len(t.Agent) == 0 || i < 0 {
		return t.Text
	}
	return t.Agent[i%len(t.Agent)]
}

// Default is the theme used when none is chosen.
const Default = "dark"

var registry = map[string]func() Theme{
	"dark":          Dark,
	"light":         Light,
	"high-contrast": HighContrast,
}

// Names lists the valid theme names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the theme called name (case-insensitive; "" is Default).
func Lookup(name string) (Theme, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		n = Default
	}
	if n == "hc" || n == "highcontrast" || n == "high_contrast" {
		n = "high-contrast"
	}
	f, ok := registry[n]
	if !ok {
		return Theme{}, fmt.Errorf("unknown theme %q: valid themes are %s", name, strings.Join(Names(), ", "))
	}
	return f(), nil
}

// Next returns the theme after t in Names order, wrapping around; the TUI's
// theme key cycles with it.
func Next(t Theme) Theme {
	names := Names()
	for i, n := range names {
		if n == t.Name {
			th, _ := Lookup(names[(i+1)%len(names)])
			return th
		}
	}
	th, _ := Lookup(Default)
	return th
}

// The heat scale is ColorBrewer's PuOr (orange for opposition, purple for
// endorsement), which stays distinguishable under protanopia, deuteranopia
// and tritanopia; every cell also prints its signed number, so colour is
// never the only cue.

// Dark is the default theme, for dark terminal backgrounds.
func Dark() Theme {
	c := func(s string) lipgloss.Color { return lipgloss.Color(s) }
	return Theme{
		Name:   "dark",
		Text:   c("252"),
		Muted:  c("245"),
		Faint:  c("239"),
		Accent: c("#c4a7e7"),
		Border: c("240"),
		Focus:  c("#f6c177"),
		Good:   c("#9ccfd8"),
		Warn:   c("#f6c177"),
		Bad:    c("#eb6f92"),
		Bar:    c("#9ccfd8"),
		Live:   Swatch{c("#191724"), c("#9ccfd8")},
		Rec:    Swatch{c("#191724"), c("#f6c177")},
		Sel:    Swatch{c("#191724"), c("#c4a7e7")},
		Heat: [NumBands]Swatch{
			{c("#ffffff"), c("#b35806")},
			{c("#000000"), c("#f1a340")},
			{c("252"), c("237")},
			{c("#000000"), c("#998ec3")},
			{c("#ffffff"), c("#6a51a3")},
			{c("#ffffff"), c("#3f007d")},
		},
		Agent: []lipgloss.TerminalColor{c("#9ccfd8"), c("#f6c177"), c("#c4a7e7"), c("#ebbcba"), c("#31a8a8"), c("#e0def4"), c("#a3be8c"), c("#eb6f92")},
	}
}

// Light is for light terminal backgrounds.
func Light() Theme {
	c := func(s string) lipgloss.Color { return lipgloss.Color(s) }
	return Theme{
		Name:   "light",
		Text:   c("235"),
		Muted:  c("242"),
		Faint:  c("250"),
		Accent: c("#6a51a3"),
		Border: c("249"),
		Focus:  c("#b35806"),
		Good:   c("#1b7837"),
		Warn:   c("#b35806"),
		Bad:    c("#b2182b"),
		Bar:    c("#2166ac"),
		Live:   Swatch{c("#ffffff"), c("#2166ac")},
		Rec:    Swatch{c("#000000"), c("#fdb863")},
		Sel:    Swatch{c("#ffffff"), c("#6a51a3")},
		Heat: [NumBands]Swatch{
			{c("#ffffff"), c("#b35806")},
			{c("#000000"), c("#fdb863")},
			{c("235"), c("254")},
			{c("#000000"), c("#d8daeb")},
			{c("#ffffff"), c("#8073ac")},
			{c("#ffffff"), c("#542788")},
		},
		Agent: []lipgloss.TerminalColor{c("#2166ac"), c("#b35806"), c("#6a51a3"), c("#1b7837"), c("#b2182b"), c("#35978f"), c("#8c510a"), c("#c51b7d")},
	}
}

// HighContrast uses only the 16 basic colours, which every terminal has and
// many users tune for their own eyes, plus bold text.
func HighContrast() Theme {
	c := func(s string) lipgloss.Color { return lipgloss.Color(s) }
	return Theme{
		Name:   "high-contrast",
		Text:   c("15"),
		Muted:  c("7"),
		Faint:  c("8"),
		Accent: c("14"),
		Border: c("7"),
		Focus:  c("11"),
		Good:   c("14"),
		Warn:   c("11"),
		Bad:    c("9"),
		Bar:    c("15"),
		Live:   Swatch{c("0"), c("14")},
		Rec:    Swatch{c("0"), c("11")},
		Sel:    Swatch{c("0"), c("15")},
		Heat: [NumBands]Swatch{
			{c("0"), c("11")},
			{c("11"), c("0")},
			{c("15"), c("0")},
			{c("14"), c("0")},
			{c("0"), c("14")},
			{c("15"), c("4")},
		},
		Agent: []lipgloss.TerminalColor{c("14"), c("11"), c("13"), c("10"), c("15"), c("12"), c("9"), c("7")},
		Bold:  true,
	}
}
