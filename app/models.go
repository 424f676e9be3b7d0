package app

import (
	"context"

	"github.com/nsed/nsed/broker"
	"github.com/nsed/nsed/models"
)

// ModelTable lists every model on every host, with the speeds earlier runs
// measured (from the broker's store). A host that fails is reported and
// skipped; the error returned is the last failure, when no host answered.
func (s *Session) ModelTable(ctx context.Context, report func(error)) ([]models.ModelInfo, error) {
	if s.ollama == nil {
		return nil, Usagef("listing models needs Ollama servers")
	}
	var all []models.ModelInfo
	var failed error
	for _, h := range s.ollama.Hosts() {
		if _, err := s.ollama.Ping(ctx, h); err != nil {
			report(err)
			failed = err
			continue
		}
		ms, err := s.ollama.Models(ctx, h, nil)
		if err != nil {
			report(err)
			failed = err
			continue
		}
		all = append(all, ms...)
	}
	if len(all) == 0 && failed != nil {
		return nil, failed
	}
	if store, _ := broker.Open("", broker.Priors{}); store != nil {
		for i, m := range all {
			if t, ok := store.Telemetry(m.Host, m.Name); ok {
				all[i].Measured.TokensPerSec, all[i].Measured.LatencyMS, all[i].Measured.LoadMS = t.TokensPerSec, t.LatencyMS, t.LoadMS
			}
		}
	}
	served := s.served()
	for i, m := range all {
		if mem, ok := served[m.Host].MemoryOf(m.Name); ok && m.API == "openai" {
			// The server reports no memory; the configured size is what
			// the broker counts, so the table shows it as the memory held.
			all[i].LoadedBytes = mem
		}
	}
	return all, nil
}
