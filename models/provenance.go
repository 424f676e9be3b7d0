package models

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nsed/nsed/internal/buildinfo"
)

// Provenance is what a reader needs to reproduce a run beyond its
// settings: which nsed, which servers, which exact models.
type Provenance struct {
	Nsed    buildinfo.Info  `json:"nsed"`
	Servers []ServerInfo    `json:"servers,omitempty"`
	Models  []ModelIdentity `json:"models,omitempty"`
	// DatasetSHA256 is a bench's dataset file hash; empty outside benches.
	DatasetSHA256 string `json:"dataset_sha256,omitempty"`
}

// Unknown is recorded where a server does not say.
const Unknown = "unknown"

// ServerInfo is one model server as it describes itself.
type ServerInfo struct {
	Host    string `json:"host"`    // as the agents name it ("" is the default host)
	Address string `json:"address"` // the server that answered
	API     string `json:"api"`     // "ollama" or "openai"
	Version string `json:"version"` // as the server reports it, or Unknown
	Error   string `json:"error,omitempty"`
}

// ModelIdentity pins one model on one server.
type ModelIdentity struct {
	Host string `json:"host"`
	Name string `json:"name"`
	// Digest is the server's content hash of the model (Ollama's
	// /api/tags), or Unknown: OpenAI-compatible servers do not give one.
	Digest        string `json:"digest"`
	Family        string `json:"family,omitempty"`
	ParameterSize string `json:"parameter_size,omitempty"`
	Quantization  string `json:"quantization,omitempty"`
	SizeBytes     int64  `json:"size_bytes,omitempty"` // on disk; 0 when the server does not say
	// Details are what an OpenAI-compatible server's /v1/models says of the
	// model beyond its id (vLLM: root, max_model_len; owned_by, created).
	Details map[string]string `json:"details,omitempty"`
	Error   string            `json:"error,omitempty"`
}

// Describer is implemented by backends whose servers can say what they
// are: the server's version and, for each named model, its identity.
// Failures are recorded in the answer (Unknown, with the error), never
// returned: provenance must not stop a run.
type Describer interface {
	Describe(ctx context.Context, host string, models []string) (ServerInfo, []ModelIdentity)
}

// Ref is one model on one host ("" is the backend's default host).
type Ref struct{ Host, Model string }

// Describe gathers the provenance of the models refs name: this binary's
// build, then each host's version and models, asked once per host.
// Backends that cannot describe themselves leave servers and models out.
func Describe(ctx context.Context, b Backend, refs []Ref) Provenance {
	p := Provenance{Nsed: buildinfo.Read()}
	d, ok := b.(Describer)
	if !ok {
		return p
	}
	byHost := map[string][]string{}
	var hosts []string
	for _, r := range refs {
		if _, seen := byHost[r.Host]; !seen {
			hosts = append(hosts, r.Host)
		}
		if !contains(byHost[r.Host], r.Model) {
			byHost[r.Host] = append(byHost[r.Host], r.Model)
		}
	}
	for _, h := range hosts {
		s, ms := d.Describe(ctx, h, byHost[h])
		p.Servers = append(p.Servers, s)
		p.Models = append(p.Models, ms...)
	}
	return p
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Merge adds q's servers and models not already in p (a judge beside the
// team).
func (p *Provenance) Merge(q Provenance) {
	for _, s := range q.Servers {
		if p.server(s.Host) == nil {
			p.Servers = append(p.Servers, s)
		}
	}
	for _, m := range q.Models {
		if p.model(m.Host, m.Name) == nil {
			p.Models = append(p.Models, m)
		}
	}
}

// Server is the server the agents call host, or nil.
func (p *Provenance) Server(host string) *ServerInfo { return p.server(host) }

func (p *Provenance) server(host string) *ServerInfo {
	for i := range p.Servers {
		if p.Servers[i].Host == host {
			return &p.Servers[i]
		}
	}
	return nil
}

func (p *Provenance) model(host, name string) *ModelIdentity {
	for i := range p.Models {
		if p.Models[i].Host == host && p.Models[i].Name == name {
			return &p.Models[i]
		}
	}
	return nil
}

// Model finds a model's identity, "name" also matching "name:latest".
func (p Provenance) Model(host, name string) (ModelIdentity, bool) {
	for _, n := range []string{name, name + ":latest"} {
		if m := p.model(host, n); m != nil {
			return *m, true
		}
	}
	return ModelIdentity{}, false
}

// Diff lists what differs between two provenances in what changes results:
// nsed's code, a server's version, a model's digest (or its presence).
// Each line names the thing, then old → new.
func Diff(old, new Provenance) []string {
	var out []string
	if a, b := old.Nsed.Identity(), new.Nsed.Identity(); a != b {
		out = append(out, fmt.Sprintf("nsed build %s → %s", a, b))
	}
	for _, s := range new.Servers {
		if o := old.server(s.Host); o == nil {
			out = append(out, fmt.Sprintf("server %s is new", s.Host))
		} else if o.Version != s.Version {
			out = append(out, fmt.Sprintf("server %s version %s → %s", s.Host, o.Version, s.Version))
		}
	}
	for _, m := range new.Models {
		if o := old.model(m.Host, m.Name); o == nil {
			out = append(out, fmt.Sprintf("model %s is new", where(m)))
		} else if o.Digest != m.Digest {
			out = append(out, fmt.Sprintf("model %s digest %s → %s", where(m), short(o.Digest), short(m.Digest)))
		}
	}
	for _, m := range old.Models {
		if new.model(m.Host, m.Name) == nil {
			out = append(out, fmt.Sprintf("model %s is gone", where(m)))
		}
	}
	return out
}

func where(m ModelIdentity) string {
	if m.Host == "" {
		return m.Name
	}
	return m.Name + " on " + m.Host
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// TeamBytes is the memory the distinct models of refs take on disk, the
// floor of what serving them needs; ok is false when any size is unknown.
func (p Provenance) TeamBytes(refs []Ref) (total int64, ok bool) {
	seen := map[Ref]bool{}
	for _, r := range refs {
		m, found := p.Model(r.Host, r.Model)
		if !found || m.SizeBytes <= 0 {
			return 0, false
		}
		k := Ref{Host: m.Host, Model: m.Name}
		if !seen[k] {
			seen[k] = true
			total += m.SizeBytes
		}
	}
	return total, len(refs) > 0
}

// ---- Ollama ----

// Describe implements Describer from /api/version and /api/tags (the
// digest is only in the list; /api/show does not give it).
func (o *Ollama) Describe(ctx context.Context, host string, names []string) (ServerInfo, []ModelIdentity) {
	c, key, err := o.client(host)
	s := ServerInfo{Host: host, API: "ollama", Version: Unknown}
	if err != nil {
		s.Error = err.Error()
		return s, unknownModels(host, names, err)
	}
	s.Address = key
	if v, err := o.Ping(ctx, key); err == nil {
		s.Version = v
	} else {
		s.Error = err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	list, err := c.List(ctx)
	if err != nil {
		return s, unknownModels(host, names, classify(err, key, ""))
	}
	var out []ModelIdentity
	for _, n := range names {
		mi := ModelIdentity{Host: host, Name: n, Digest: Unknown, Error: "not installed on the server"}
		for _, m := range list.Models {
			if m.Name == n || m.Name == n+":latest" || m.Model == n {
				mi = ModelIdentity{Host: host, Name: n, Digest: m.Digest, Family: m.Details.Family,
					ParameterSize: m.Details.ParameterSize, Quantization: m.Details.QuantizationLevel, SizeBytes: m.Size}
				break
			}
		}
		out = append(out, mi)
	}
	return s, out
}

func unknownModels(host string, names []string, err error) []ModelIdentity {
	var out []ModelIdentity
	for _, n := range names {
		out = append(out, ModelIdentity{Host: host, Name: n, Digest: Unknown, Error: err.Error()})
	}
	return out
}

// ---- OpenAI-compatible ----

// Describe implements Describer: the version from the server's own
// endpoint where it has one (vLLM's and SGLang's /version, Ollama's
// /api/version behind its /v1), else Unknown; the models from /v1/models,
// which gives no digest.
func (o *OpenAI) Describe(ctx context.Context, host string, names []string) (ServerInfo, []ModelIdentity) {
	c, key, err := o.client(host)
	s := ServerInfo{Host: host, API: "openai", Version: Unknown}
	if err != nil {
		s.Error = err.Error()
		return s, unknownModels(host, names, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s.Address, s.Version = key, o.version(ctx, key, c.keyEnv)
	page, err := c.models.List(ctx)
	if err != nil {
		return s, unknownModels(host, names, classifyOpenAI(err, key, c.keyEnv, ""))
	}
	var out []ModelIdentity
	for _, n := range names {
		mi := ModelIdentity{Host: host, Name: n, Digest: Unknown, Error: "not listed by /v1/models"}
		for _, m := range page.Data {
			if m.ID != n && m.ID != n+":latest" {
				continue
			}
			mi = ModelIdentity{Host: host, Name: n, Digest: Unknown, Details: details(m.RawJSON())}
			break
		}
		out = append(out, mi)
	}
	return s, out
}

// details keeps a /v1/models entry's fields beyond the id, as text.
func details(raw string) map[string]string {
	var m map[string]any
	if json.Unmarshal([]byte(raw), &m) != nil {
		return nil
	}
	out := map[string]string{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "id" || k == "object" || m[k] == nil {
			continue
		}
		switch v := m[k].(type) {
		case string:
			out[k] = v
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// version asks an OpenAI-compatible server's root for its version: vLLM
// and SGLang answer /version, Ollama /api/version, both {"version": "…"}.
func (o *OpenAI) version(ctx context.Context, base, keyEnv string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	root := strings.TrimSuffix(base, "/v1")
	for _, path := range []string{"/version", "/api/version"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, root+path, nil)
		if err != nil {
			return Unknown
		}
		if k := os.Getenv(keyEnv); k != "" {
			req.Header.Set("Authorization", "Bearer "+k)
		}
		resp, err := o.http.Do(req)
		if err != nil {
			return Unknown
		}
		var v struct {
			Version string `json:"version"`
		}
		err = json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<16)).Decode(&v)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && v.Version != "" {
			return v.Version
		}
	}
	return Unknown
}

// ---- Router ----

// Describe implements Describer for either API.
func (r *Router) Describe(ctx context.Context, host string, names []string) (ServerInfo, []ModelIdentity) {
	h := r.resolve(host)
	var s ServerInfo
	var ms []ModelIdentity
	if IsOpenAIURL(h) {
		s, ms = r.openai.Describe(ctx, h, names)
	} else if o, err := r.ollamaFor(h); err != nil {
		s, ms = ServerInfo{Address: h, API: "ollama", Version: Unknown, Error: err.Error()}, unknownModels(h, names, err)
	} else {
		s, ms = o.Describe(ctx, h, names)
	}
	// Recorded under the host the agents name (Address says which server
	// that was), so lookups by agent work.
	s.Host = host
	for i := range ms {
		ms[i].Host = host
	}
	return s, ms
}
