package models

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/nsed/nsed/internal/testenv"
)

// getJSON reads one of the server's endpoints straight, not through the
// code under test.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// The provenance of the tiny models is what the real server lists: the
// digest, family, size and quantisation of /api/tags, the version of
// /api/version; a model the server lacks is recorded as unknown.
func TestDescribeMatchesTheRealServer(t *testing.T) {
	host, names := testenv.Tiny(t)
	var tags struct {
		Models []struct {
			Name, Digest string
			Size         int64
			Details      struct {
				F string `json:"family"`
				P string `json:"parameter_size"`
				Q string `json:"quantization_level"`
			}
		}
	}
	getJSON(t, "http://"+host+"/api/tags", &tags)
	var ver struct{ Version string }
	getJSON(t, "http://"+host+"/api/version", &ver)

	r, err := NewRouter([]string{host}, nil)
	if err != nil {
		t.Fatal(err)
	}
	refs := []Ref{{Host: "", Model: names[0]}, {Host: "", Model: names[1]}, {Host: "", Model: names[0]}, {Host: "", Model: "no-such-model"}}
	p := Describe(context.Background(), r, refs)
	if p.Nsed.Go == "" || len(p.Nsed.Executable) != 64 {
		t.Errorf("nsed build = %+v, want the Go version and the binary's hash", p.Nsed)
	}
	if len(p.Servers) != 1 || p.Servers[0].Version != ver.Version || p.Servers[0].API != "ollama" || p.Servers[0].Address != host {
		t.Fatalf("servers = %+v, want one ollama %s at %s", p.Servers, ver.Version, host)
	}
	if len(p.Models) != 3 {
		t.Fatalf("models = %+v, want 3 (a repeated ref is described once)", p.Models)
	}
	for _, m := range p.Models[:2] {
		found := false
		for _, tm := range tags.Models {
			if tm.Name != m.Name && tm.Name != m.Name+":latest" {
				continue
			}
			found = true
			if m.Digest != tm.Digest || m.Family != tm.Details.F || m.ParameterSize != tm.Details.P || m.Quantization != tm.Details.Q || m.SizeBytes != tm.Size {
				t.Errorf("%s = %+v, /api/tags says %+v", m.Name, m, tm)
			}
		}
		if !found || len(m.Digest) != 64 {
			t.Errorf("%s: digest %q, want the 64-hex digest /api/tags lists", m.Name, m.Digest)
		}
	}
	if m := p.Models[2]; m.Digest != Unknown || m.Error == "" {
		t.Errorf("a missing model = %+v, want an unknown digest and why", m)
	}
	if _, ok := p.TeamBytes(refs[:2]); !ok {
		t.Errorf("TeamBytes of installed models: want known")
	}
	if _, ok := p.TeamBytes(refs); ok {
		t.Errorf("TeamBytes with a missing model: want unknown")
	}

	// The same server through its OpenAI-compatible API: the version from
	// /api/version behind /v1, no digest, what /v1/models says.
	v1 := "http://" + host + "/v1"
	r1, err := NewRouter([]string{v1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := Describe(context.Background(), r1, []Ref{{Host: v1, Model: names[0]}})
	if len(q.Servers) != 1 || q.Servers[0].Version != ver.Version || q.Servers[0].API != "openai" {
		t.Fatalf("/v1 servers = %+v, want openai %s", q.Servers, ver.Version)
	}
	if m := q.Models[0]; m.Digest != Unknown || m.Details["owned_by"] == "" || m.Error != "" {
		t.Errorf("/v1 model = %+v, want no digest and /v1/models' owned_by", m)
	}
}

func TestDiffNamesWhatChanged(t *testing.T) {
	srv := fakeollama.New(t, map[string]fakeollama.Model{"m:latest": {Digest: strings.Repeat("a", 64)}, "n:latest": {Digest: strings.Repeat("c", 64)}})
	o, err := NewOllama(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	old := Describe(context.Background(), o, []Ref{{Model: "m"}, {Model: "n"}})
	if d := Diff(old, old); len(d) != 0 {
		t.Fatalf("Diff of the same = %v", d)
	}
	changed := Describe(context.Background(), o, []Ref{{Model: "m"}, {Model: "n"}})
	changed.Models[0].Digest = strings.Repeat("b", 64)
	changed.Servers[0].Version = "0.12.0"
	changed.Nsed.Revision = "feedface"
	changed.Models = changed.Models[:1]
	got := strings.Join(Diff(old, changed), "\n")
	for _, want := range []string{"nsed build", "feedface", "version 0.11.4 → 0.12.0", "model m digest aaaaaaaaaaaa → bbbbbbbbbbbb", "model n is gone"} {
		if !strings.Contains(got, want) {
			t.Errorf("Diff = %q, want it to contain %q", got, want)
		}
	}
}

// A backend that cannot describe itself still records nsed's build.
func TestDescribeScripted(t *testing.T) {
	p := Describe(context.Background(), &Scripted{}, []Ref{{Model: "x"}})
	if p.Nsed.Go == "" || len(p.Servers) != 0 || len(p.Models) != 0 {
		t.Fatalf("Describe(Scripted) = %+v", p)
	}
}
