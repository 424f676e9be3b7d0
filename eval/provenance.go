package eval

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nsed/nsed/internal/buildinfo"
	"github.com/nsed/nsed/models"
)

// ErrMixedProvenance means the output directory holds results that other
// code, another server version or other model weights produced.
var ErrMixedProvenance = errors.New("the output directory holds results of another nsed build, server or model")

// provenance is this run's provenance, with the build and dataset hash
// filled in when the caller gathered none (tests, library use).
func (b *Bench) provenance() models.Provenance {
	p := b.Provenance
	if p.Nsed.Go == "" {
		p.Nsed = buildinfo.Read()
	}
	if p.DatasetSHA256 == "" {
		p.DatasetSHA256 = b.DatasetHash
	}
	return p
}

// checkProvenance compares this run's provenance with the latest one the
// manifest recorded. Results of different code, servers or weights are not
// one sample, so mixing them is refused unless AllowMixed, which appends
// this provenance to the history the reports then show in full.
func (b *Bench) checkProvenance(path string, history []models.Provenance) error {
	cur := b.provenance()
	var diffs []string
	if len(history) == 0 {
		diffs = []string{"its results were recorded by an nsed that kept no provenance"}
	} else {
		diffs = models.Diff(history[len(history)-1], cur)
	}
	switch {
	case len(diffs) == 0:
		b.history = history
	case b.AllowMixed:
		b.history = append(history, cur)
	default:
		return fmt.Errorf("%w (%s): %s; use another --out to start afresh, or --allow-mixed to add to these results anyway (the report then lists each provenance)",
			ErrMixedProvenance, path, strings.Join(diffs, "; "))
	}
	return nil
}

// provenanceHistory is what the reports show: every provenance the
// results in the output directory came from, the first run's first.
func (b *Bench) provenanceHistory() []models.Provenance {
	if len(b.history) > 0 {
		return b.history
	}
	return []models.Provenance{b.provenance()}
}

// writeProvenance is the report's provenance section.
func writeProvenance(w io.Writer, s *Summary) {
	if len(s.Provenance) == 0 {
		return
	}
	fmt.Fprintf(w, "\n## Provenance\n\n")
	if len(s.Provenance) > 1 {
		fmt.Fprintf(w, "**Mixed:** these results come from %d different setups (`--allow-mixed`):", len(s.Provenance))
		for i := 1; i < len(s.Provenance); i++ {
			fmt.Fprintf(w, " %d→%d: %s.", i, i+1, strings.Join(models.Diff(s.Provenance[i-1], s.Provenance[i]), "; "))
		}
		fmt.Fprintln(w)
	}
	for i, p := range s.Provenance {
		if len(s.Provenance) > 1 {
			fmt.Fprintf(w, "\n### Setup %d\n\n", i+1)
		}
		fmt.Fprintf(w, "nsed %s", p.Nsed)
		if p.DatasetSHA256 != "" {
			fmt.Fprintf(w, " · dataset sha256 %s", p.DatasetSHA256)
		}
		fmt.Fprintf(w, " · seed %d\n", s.Settings.Seed)
		if len(p.Servers) > 0 {
			fmt.Fprintf(w, "\n| server | API | version |\n|---|---|---|\n")
			for _, sv := range p.Servers {
				fmt.Fprintf(w, "| %s | %s | %s |\n", dashIf(sv.Address), sv.API, sv.Version)
			}
		}
		if len(p.Models) > 0 {
			fmt.Fprintf(w, "\n| model | host | digest | family | parameters | quantisation | size |\n|---|---|---|---|---|---|---|\n")
			for _, m := range p.Models {
				size := "–"
				if m.SizeBytes > 0 {
					size = fmt.Sprintf("%.1f MB", float64(m.SizeBytes)/1e6)
				}
				host := m.Host
				if sv := p.Server(m.Host); sv != nil && sv.Address != "" {
					host = sv.Address
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", m.Name, dashIf(host), m.Digest, dashIf(m.Family),
					dashIf(m.ParameterSize), dashIf(m.Quantization), size)
			}
		}
	}
}
