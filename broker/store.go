package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nsed/nsed/models"
)

// Priors are the expected qualities configured before any evidence.
type Priors struct {
	// Default applies to pairs the map does not name; 0 means DefaultQuality.
	Default float64
	// Roles maps role → model → prior in [0, 1]. Role "*" applies to every
	// role; a model may be named with or without its tag ("qwen3" covers
	// "qwen3:8b").
	Roles map[string]map[string]float64
}

// Prior is the configured quality of model in role.
func (p Priors) Prior(role, model string) float64 {
	name, _, _ := strings.Cut(model, ":")
	for _, r := range []string{role, "*"} {
		byModel := p.Roles[r]
		for _, m := range []string{model, canonical(model), name} {
			if q, ok := byModel[m]; ok {
				return clamp01(q)
			}
		}
	}
	if p.Default > 0 {
		return clamp01(p.Default)
	}
	return DefaultQuality
}

// Evidence is what one run showed of a model in a role. Each signal is in
// [0, 1]; its count says how much it rests on (0: no signal).
type Evidence struct {
	Review  float64 `json:"review"` // mean peer-review endorsement received, (w + 100) / 200
	Reviews int     `json:"reviews"`
	Vote    float64 `json:"vote"` // mean support per round, scaled 0 (round's lowest) to 1 (highest)
	Rounds  int     `json:"rounds"`
	// Accuracy is the share of graded answers that were right (benchmarks).
	Accuracy float64 `json:"accuracy"`
	Graded   int     `json:"graded"`
}

// Score combines the signals present: review and vote count once each,
// accuracy twice, since ground truth beats peers' opinion.
func (e Evidence) Score() (float64, bool) {
	var sum, w float64
	if e.Reviews > 0 {
		sum, w = sum+clamp01(e.Review), w+1
	}
	if e.Rounds > 0 {
		sum, w = sum+clamp01(e.Vote), w+1
	}
	if e.Graded > 0 {
		sum, w = sum+2*clamp01(e.Accuracy), w+2
	}
	if w == 0 {
		return 0, false
	}
	return sum / w, true
}

// Observation is evidence about one (role, model) pair.
type Observation struct {
	Role  string `json:"role"`
	Model string `json:"model"`
	Evidence
}

// The update rule. A pair's quality is the posterior mean of a Beta-like
// model: the prior counts as PriorWeight runs, each run as one observation
// of its Score, older runs fade by Decay per newer run (models and prompts
// change), and runs of the same model in other roles count CrossRoleWeight
// each, since skill carries over between roles but not fully:
//
//	q = (PriorWeight·prior + S_role + CrossRoleWeight·S_other)
//	  / (PriorWeight + W_role + CrossRoleWeight·W_other)
//
// where S is the decayed sum of scores and W the decayed count.
const (
	PriorWeight     = 4.0
	Decay           = 0.9
	CrossRoleWeight = 0.5
)

// Record is the evidence kept for one (role, model) pair.
type Record struct {
	Weight  float64   `json:"weight"` // decayed number of runs
	Score   float64   `json:"score"`  // decayed sum of run scores
	Runs    int       `json:"runs"`
	Last    Evidence  `json:"last"`
	Updated time.Time `json:"updated"`
}

// Telemetry is what was last measured of a model on a host; it outlives the
// process so the next run's estimates start from measurements.
type Telemetry struct {
	MemoryBytes  int64     `json:"memory_bytes,omitempty"`
	TokensPerSec float64   `json:"tokens_per_sec,omitempty"`
	LatencyMS    float64   `json:"latency_ms,omitempty"`
	LoadMS       float64   `json:"load_ms,omitempty"`
	Updated      time.Time `json:"updated"`
}

// storeVersion is the file format; readers treat others as corrupt.
const storeVersion = 1

type storeFile struct {
	Version   int                             `json:"version"`
	Quality   map[string]map[string]*Record   `json:"quality"`   // role → model
	Telemetry map[string]map[string]Telemetry `json:"telemetry"` // host → model
}

// ErrCorruptStore is wrapped by Open's warning when the file was unreadable
// as a store.
var ErrCorruptStore = errors.New("corrupt quality store")

// Store keeps expected quality per (role, model), and telemetry per
// (host, model), in a JSON file. It is safe for concurrent use. Two
// processes saving at once do not corrupt the file (saves are atomic) but
// the last one wins.
type Store struct {
	mu     sync.Mutex
	path   string
	priors Priors
	data   storeFile
	now    func() time.Time
}

// DefaultStorePath is $XDG_DATA_HOME/nsed/quality.json, or
// ~/.local/share/nsed/quality.json.
func DefaultStorePath() (string, error) {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("locating the quality store: %w", err)
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "nsed", "quality.json"), nil
}

// Open loads the store at path (DefaultStorePath if empty). It always
// returns a usable store; a non-nil error is a warning that it starts from
// the priors: the file is missing (wraps fs.ErrNotExist; normal on first
// use), unreadable, or corrupt (wraps ErrCorruptStore; the file is moved
// aside to path + ".corrupt" so the next save does not destroy it).
func Open(path string, priors Priors) (*Store, error) {
	if path == "" {
		p, err := DefaultStorePath()
		if err != nil {
			return &Store{priors: priors, data: emptyFile(), now: time.Now}, err
		}
		path = p
	}
	s := &Store{path: path, priors: priors, data: emptyFile(), now: time.Now}
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return s, fmt.Errorf("no quality store at %s yet, starting from priors: %w", path, err)
		}
		return s, fmt.Errorf("reading quality store, starting from priors: %w", err)
	}
	var f storeFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return s, s.setAside(err)
	}
	if f.Version != storeVersion {
		return s, s.setAside(fmt.Errorf("version %d, want %d", f.Version, storeVersion))
	}
	if err := f.check(); err != nil {
		return s, s.setAside(err)
	}
	if f.Quality == nil {
		f.Quality = map[string]map[string]*Record{}
	}
	if f.Telemetry == nil {
		f.Telemetry = map[string]map[string]Telemetry{}
	}
	s.data = f
	return s, nil
}

func emptyFile() storeFile {
	return storeFile{Version: storeVersion, Quality: map[string]map[string]*Record{}, Telemetry: map[string]map[string]Telemetry{}}
}

func (f storeFile) check() error {
	for role, byModel := range f.Quality {
		for model, r := range byModel {
			if r == nil || !(r.Weight >= 0) || math.IsInf(r.Weight, 0) || !(r.Score >= 0) || r.Score > r.Weight+1e-9 {
				return fmt.Errorf("bad record for %q in role %q", model, role)
			}
		}
	}
	return nil
}

func (s *Store) setAside(cause error) error {
	moved := s.path + ".corrupt"
	if err := os.Rename(s.path, moved); err != nil {
		return fmt.Errorf("%w %s (%v), starting from priors; could not move it aside: %v", ErrCorruptStore, s.path, cause, err)
	}
	return fmt.Errorf("%w %s (%v), starting from priors; the old file is at %s", ErrCorruptStore, s.path, cause, moved)
}

// Path is where the store saves.
func (s *Store) Path() string { return s.path }

// Estimate is a pair's expected quality and what it rests on.
type Estimate struct {
	Prior   float64
	Quality float64
	Weight  float64 // decayed runs in this role
	Other   float64 // decayed runs in other roles
	Runs    int     // runs in this role
}

// Estimate explains Quality.
func (s *Store) Estimate(role, model string) Estimate {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := canonical(model)
	e := Estimate{Prior: s.priors.Prior(role, model)}
	var score, other float64
	for r, byModel := range s.data.Quality {
		rec := byModel[key]
		if rec == nil {
			continue
		}
		if r == role {
			e.Weight, score, e.Runs = rec.Weight, rec.Score, rec.Runs
		} else {
			e.Other += rec.Weight
			other += rec.Score
		}
	}
	e.Quality = (PriorWeight*e.Prior + score + CrossRoleWeight*other) /
		(PriorWeight + e.Weight + CrossRoleWeight*e.Other)
	return e
}

// Quality is the expected quality in [0, 1] of model in role; it fits
// Problem.Quality.
func (s *Store) Quality(role, model string) float64 {
	return clamp01(s.Estimate(role, model).Quality)
}

// Observe adds one run's evidence about model in role. Evidence without
// any signal is ignored.
func (s *Store) Observe(role, model string, ev Evidence) {
	x, ok := ev.Score()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	byModel := s.data.Quality[role]
	if byModel == nil {
		byModel = map[string]*Record{}
		s.data.Quality[role] = byModel
	}
	key := canonical(model)
	r := byModel[key]
	if r == nil {
		r = &Record{}
		byModel[key] = r
	}
	r.Weight = Decay*r.Weight + 1
	r.Score = Decay*r.Score + x
	r.Runs++
	r.Last = ev
	r.Updated = s.now()
}

// ObserveAll adds every observation.
func (s *Store) ObserveAll(obs []Observation) {
	for _, o := range obs {
		s.Observe(o.Role, o.Model, o.Evidence)
	}
}

// RememberTelemetry keeps what infos measured: memory of loaded models,
// and speed and load time of models called.
func (s *Store) RememberTelemetry(infos []models.ModelInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, info := range infos {
		key := canonical(info.Name)
		t := s.data.Telemetry[info.Host][key]
		changed := false
		if info.Loaded && info.LoadedBytes > 0 {
			t.MemoryBytes, changed = info.LoadedBytes, true
		}
		if m := info.Measured; m.TokensPerSec > 0 {
			t.TokensPerSec, t.LatencyMS, changed = m.TokensPerSec, m.LatencyMS, true
		}
		if m := info.Measured; m.LoadMS > 0 {
			t.LoadMS, changed = m.LoadMS, true
		}
		if !changed {
			continue
		}
		t.Updated = s.now()
		if s.data.Telemetry[info.Host] == nil {
			s.data.Telemetry[info.Host] = map[string]Telemetry{}
		}
		s.data.Telemetry[info.Host][key] = t
	}
}

// Telemetry is what was last measured of model on host.
func (s *Store) Telemetry(host, model string) (Telemetry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.data.Telemetry[host][canonical(model)]
	return t, ok
}

// Records lists the evidence kept, by role then model.
func (s *Store) Records() []Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Observation
	for role, byModel := range s.data.Quality {
		for model, r := range byModel {
			out = append(out, Observation{Role: role, Model: model, Evidence: r.Last})
		}
	}
	slices.SortFunc(out, func(a, b Observation) int {
		return strings.Compare(a.Role+"\x00"+a.Model, b.Role+"\x00"+b.Model)
	})
	return out
}

// Save writes the store atomically: a temporary file in the same
// directory, synced, then renamed over the old one.
func (s *Store) Save() (err error) {
	s.mu.Lock()
	raw, err := json.MarshalIndent(s.data, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encoding quality store: %w", err)
	}
	if s.path == "" {
		return errors.New("quality store has no path")
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving quality store: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".quality-*.json")
	if err != nil {
		return fmt.Errorf("saving quality store: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(append(raw, '\n')); err != nil {
		return fmt.Errorf("saving quality store: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("saving quality store: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("saving quality store: %w", err)
	}
	if err = os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("saving quality store: %w", err)
	}
	return nil
}
