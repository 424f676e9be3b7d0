package models

import (
	"sync"
	"time"
)

// ModelInfo is what a server says about one installed model, merged from
// /api/tags, /api/show and /api/ps, plus what nsed measured of it.
type ModelInfo struct {
	Host          string    `json:"host"`
	API           string    `json:"api,omitempty"` // "openai" for an OpenAI-compatible server; empty: Ollama
	Name          string    `json:"name"`
	Family        string    `json:"family,omitempty"`
	ParameterSize string    `json:"parameter_size,omitempty"` // as the server spells it: "8.0B"
	Parameters    int64     `json:"parameters,omitempty"`     // parsed count, 0 if unknown
	Quantization  string    `json:"quantization,omitempty"`
	SizeBytes     int64     `json:"size_bytes"`               // on disk
	ContextLength int       `json:"context_length,omitempty"` // the model's trained context
	Loaded        bool      `json:"loaded"`
	LoadedBytes   int64     `json:"loaded_bytes,omitempty"` // memory while loaded (/api/ps size)
	VRAMBytes     int64     `json:"vram_bytes,omitempty"`   // of which on the GPU
	ExpiresAt     time.Time `json:"expires_at,omitempty"`
	Measured      Speed     `json:"measured"`
}

// MemoryEstimate is the best guess of the memory the model takes when
// loaded: the measured size if it is loaded, else its size on disk plus a
// margin for the KV cache and runtime buffers.
func (m ModelInfo) MemoryEstimate() int64 {
	if m.LoadedBytes > 0 {
		return m.LoadedBytes
	}
	return m.SizeBytes + m.SizeBytes/5 + 64<<20
}

// Speed is a moving average of what calls to a model measured.
type Speed struct {
	Calls        int     `json:"calls"`
	Failures     int     `json:"failures"`
	TokensPerSec float64 `json:"tokens_per_sec"`
	LatencyMS    float64 `json:"latency_ms"` // wall time to the first token
	LoadMS       float64 `json:"load_ms"`
}

// SuccessRatio is the share of calls that did not fail (1 with no calls).
func (s Speed) SuccessRatio() float64 {
	if s.Calls == 0 {
		return 1
	}
	return float64(s.Calls-s.Failures) / float64(s.Calls)
}

// Meter keeps moving averages of speed per host and model. It is safe for
// concurrent use.
type Meter struct {
	mu    sync.Mutex
	speed map[[2]string]Speed
}

// ewmaAlpha weighs the newest call; 0.3 follows a model's speed change
// within a few calls without jumping on one slow outlier.
const ewmaAlpha = 0.3

// Record adds one call's measurements. firstToken is the wall time until the
// first streamed token (0 if none came).
func (m *Meter) Record(host, model string, r Response, firstToken time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.speed == nil {
		m.speed = map[[2]string]Speed{}
	}
	k := [2]string{host, model}
	s := m.speed[k]
	s.Calls++
	if err != nil {
		s.Failures++
		m.speed[k] = s
		return
	}
	avg := func(old, v float64) float64 {
		if s.Calls-s.Failures <= 1 || old == 0 {
			return v
		}
		return old + ewmaAlpha*(v-old)
	}
	if tps := r.TokensPerSecond(); tps > 0 {
		s.TokensPerSec = avg(s.TokensPerSec, tps)
	}
	if firstToken > 0 {
		s.LatencyMS = avg(s.LatencyMS, float64(firstToken)/float64(time.Millisecond))
	}
	if r.Load > 0 {
		s.LoadMS = avg(s.LoadMS, float64(r.Load)/float64(time.Millisecond))
	}
	m.speed[k] = s
}

// Speed returns what was measured of a model on a host.
func (m *Meter) Speed(host, model string) Speed {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.speed[[2]string{host, model}]
}
