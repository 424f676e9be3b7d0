package models

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"
)

// DefaultHost is where Ollama listens unless told otherwise.
const DefaultHost = "127.0.0.1:11434"

// Ollama is a Backend for one or more Ollama servers. A request's Host picks
// the server; empty means the first host given to NewOllama.
type Ollama struct {
	mu      sync.Mutex
	clients map[string]*api.Client
	first   string
	http    *http.Client

	capsMu sync.Mutex
	caps   map[[2]string]Capabilities // host, model → what /api/show said
}

// serverHTTPClient is the HTTP client for model servers, Ollama's and
// OpenAI-compatible ones alike. No overall timeout: generations stream for
// minutes. Connecting, though, must fail fast when no server is there.
func serverHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // the model server is local or on the user's network
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
	}}
}

// NewOllama returns a backend for the given hosts ("host:port" or URLs).
func NewOllama(hosts ...string) (*Ollama, error) {
	if len(hosts) == 0 {
		hosts = []string{DefaultHost}
	}
	o := &Ollama{clients: map[string]*api.Client{}, http: serverHTTPClient()}
	for _, h := range hosts {
		key, err := o.add(h)
		if err != nil {
			return nil, err
		}
		if o.first == "" {
			o.first = key
		}
	}
	return o, nil
}

// NormalizeHost turns "host", "host:port" or a URL into "host:port" form
// (with scheme kept only when it is https). A URL ending in /v1 names an
// OpenAI-compatible server and keeps its scheme and path.
func NormalizeHost(h string) (string, error) {
	if IsOpenAIURL(h) {
		return NormalizeOpenAIURL(h)
	}
	u, err := hostURL(h)
	if err != nil {
		return "", err
	}
	if u.Scheme == "https" {
		return u.String(), nil
	}
	return u.Host, nil
}

func hostURL(h string) (*url.URL, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil, errors.New("empty Ollama host")
	}
	if !strings.Contains(h, "://") {
		h = "http://" + h
	}
	u, err := url.Parse(h)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bad Ollama host %q: want host:port, e.g. %s", h, DefaultHost)
	}
	if u.Port() == "" {
		port := "11434"
		if u.Scheme == "https" {
			port = "443"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Hostname() == "0.0.0.0" || u.Hostname() == "" {
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

func (o *Ollama) add(h string) (string, error) {
	u, err := hostURL(h)
	if err != nil {
		return "", err
	}
	key, _ := NormalizeHost(h)
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.clients[key]; !ok {
		o.clients[key] = api.NewClient(u, o.http)
	}
	return key, nil
}

// Hosts lists the configured hosts, the default first.
func (o *Ollama) Hosts() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []string{o.first}
	for h := range o.clients {
		if h != o.first {
			out = append(out, h)
		}
	}
	sort.Strings(out[1:])
	return out
}

// client returns the client for host, adding hosts not seen before (a
// rebind may name a new server).
func (o *Ollama) client(host string) (*api.Client, string, error) {
	if host == "" {
		host = o.first
	}
	key, err := NormalizeHost(host)
	if err != nil {
		return nil, "", err
	}
	o.mu.Lock()
	c, ok := o.clients[key]
	o.mu.Unlock()
	if ok {
		return c, key, nil
	}
	if _, err := o.add(host); err != nil {
		return nil, "", err
	}
	return o.client(key)
}

// Chat implements Backend.
func (o *Ollama) Chat(ctx context.Context, req Request, onToken TokenFunc) (Response, error) {
	c, host, err := o.client(req.Host)
	if err != nil {
		return Response{}, err
	}
	msgs := make([]api.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = api.Message{Role: m.Role, Content: m.Content}
	}
	stream := true
	ar := &api.ChatRequest{Model: req.Model, Messages: msgs, Stream: &stream, Options: optionsMap(req.Options)}
	if len(req.Format) > 0 {
		ar.Format = req.Format
	}
	if req.Options.KeepAlive != 0 {
		ar.KeepAlive = &api.Duration{Duration: req.Options.KeepAlive}
	}
	ar.Think = thinkValue(req.Options.Think)
	start := time.Now()
	var (
		b, thinking strings.Builder
		done        bool
		resp        Response
	)
	err = c.Chat(ctx, ar, func(cr api.ChatResponse) error {
		// The client may deliver buffered chunks after cancellation; drop them.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		thinking.WriteString(cr.Message.Thinking)
		if t := cr.Message.Content; t != "" {
			b.WriteString(t)
			if onToken != nil {
				onToken(t)
			}
		}
		if cr.Done {
			done = true
			resp.DoneReason = cr.DoneReason
			resp.PromptTokens = cr.PromptEvalCount
			resp.OutputTokens = cr.EvalCount
			resp.Load = cr.LoadDuration
			resp.PromptEval = cr.PromptEvalDuration
			resp.Eval = cr.EvalDuration
		}
		return nil
	})
	resp.Content, resp.Thinking = b.String(), thinking.String()
	resp.Wall = time.Since(start)
	// The api client returns nil, not context.Canceled, when the context is
	// cancelled mid-stream: check for ourselves.
	if cerr := ctx.Err(); cerr != nil {
		return resp, cerr
	}
	if err != nil {
		return resp, classify(err, host, req.Model)
	}
	if !done {
		return resp, fmt.Errorf("ollama at %s: the reply from %s ended before it was done", host, req.Model)
	}
	return resp, nil
}

// thinkValue turns Options.Think into the API's value; nil leaves the
// model's default.
func thinkValue(s string) *api.ThinkValue {
	switch s {
	case "":
		return nil
	case "true":
		return &api.ThinkValue{Value: true}
	case "false":
		return &api.ThinkValue{Value: false}
	}
	return &api.ThinkValue{Value: s}
}

func optionsMap(o Options) map[string]any {
	m := map[string]any{}
	if o.Temperature != nil {
		m["temperature"] = *o.Temperature
	}
	if o.Seed != nil {
		m["seed"] = *o.Seed
	}
	if o.TopP != nil {
		m["top_p"] = *o.TopP
	}
	if o.NumCtx > 0 {
		m["num_ctx"] = o.NumCtx
	}
	if o.NumPredict != 0 {
		m["num_predict"] = o.NumPredict
	}
	return m
}

// classify turns transport and status errors into the errors nsed explains
// to users.
func classify(err error, host, model string) error {
	var se api.StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
		return &ModelNotFoundError{Host: host, Model: model}
	}
	if errors.As(err, &se) && strings.Contains(se.ErrorMessage, "does not support thinking") {
		return fmt.Errorf("model %s on %s does not think: remove `think` from its [[agents]] table and from [sampling.*] in nsed.toml, or set it to \"false\" (%w)", model, host, err)
	}
	if errors.As(err, &se) && strings.Contains(se.ErrorMessage, "think value") && strings.Contains(se.ErrorMessage, "not supported") {
		return fmt.Errorf("model %s on %s takes no think level (low, medium and high are for gpt-oss): set think = \"true\" or \"false\" in its [[agents]] table or [sampling.*] (%w)", model, host, err)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return &UnreachableError{Host: host, Err: err}
	}
	if s := err.Error(); strings.Contains(s, "connection refused") || strings.Contains(s, "EOF") && strings.Contains(s, "Post") {
		return &UnreachableError{Host: host, Err: err}
	}
	return fmt.Errorf("ollama at %s, model %s: %w", host, model, err)
}

// Ping checks that a server answers, returning its version.
func (o *Ollama) Ping(ctx context.Context, host string) (string, error) {
	c, key, err := o.client(host)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := c.Version(ctx)
	if err != nil {
		return "", &UnreachableError{Host: key, Err: err}
	}
	return v, nil
}

// CheckModel implements Checker: the server answers and has the model.
func (o *Ollama) CheckModel(ctx context.Context, host, model string) error {
	c, key, err := o.client(host)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = c.Show(ctx, &api.ShowRequest{Model: model})
	if err == nil {
		return nil
	}
	cerr := classify(err, key, model)
	if errors.Is(cerr, ErrModelNotFound) || errors.Is(cerr, ErrUnreachable) {
		return cerr
	}
	// Show failed some other way; a version ping tells a dead server from
	// a bad model.
	if _, perr := o.Ping(ctx, key); perr != nil {
		return perr
	}
	return cerr
}

// Capabilities implements CapabilityReader from /api/show, asked once per
// host and model (a model's capabilities do not change while it is
// installed; failures are not cached).
func (o *Ollama) Capabilities(ctx context.Context, host, model string) (Capabilities, error) {
	c, key, err := o.client(host)
	if err != nil {
		return Capabilities{}, err
	}
	k := [2]string{key, model}
	o.capsMu.Lock()
	got, ok := o.caps[k]
	o.capsMu.Unlock()
	if ok {
		return got, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	show, err := c.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		return Capabilities{}, classify(err, key, model)
	}
	got = Capabilities{Family: show.Details.Family, Parser: show.Parser, ContextLength: contextLength(show.ModelInfo), Host: key}
	for _, cp := range show.Capabilities {
		got.Capabilities = append(got.Capabilities, string(cp))
	}
	o.capsMu.Lock()
	if o.caps == nil {
		o.caps = map[[2]string]Capabilities{}
	}
	o.caps[k] = got
	o.capsMu.Unlock()
	return got, nil
}

// contextLength reads "<arch>.context_length" from /api/show's model_info.
func contextLength(info map[string]any) int {
	for k, v := range info {
		if strings.HasSuffix(k, ".context_length") {
			if f, ok := v.(float64); ok {
				return int(f)
			}
		}
	}
	return 0
}

// Models lists a host's installed models with their telemetry: /api/tags
// for what is installed, /api/ps for what is loaded and how much memory it
// holds, /api/show for the context length.
func (o *Ollama) Models(ctx context.Context, host string, meter *Meter) ([]ModelInfo, error) {
	c, key, err := o.client(host)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	list, err := c.List(ctx)
	if err != nil {
		return nil, classify(err, key, "")
	}
	running := map[string]api.ProcessModelResponse{}
	if ps, err := c.ListRunning(ctx); err == nil {
		for _, m := range ps.Models {
			running[m.Name] = m
		}
	}
	out := make([]ModelInfo, 0, len(list.Models))
	for _, m := range list.Models {
		mi := ModelInfo{
			Host: key, Name: m.Name, Family: m.Details.Family, ParameterSize: m.Details.ParameterSize,
			Parameters: ParseParameterSize(m.Details.ParameterSize), Quantization: m.Details.QuantizationLevel,
			SizeBytes: m.Size,
		}
		if r, ok := running[m.Name]; ok {
			mi.Loaded, mi.LoadedBytes, mi.VRAMBytes, mi.ExpiresAt = true, r.Size, r.SizeVRAM, r.ExpiresAt
			mi.ContextLength = r.ContextLength
		}
		if show, err := c.Show(ctx, &api.ShowRequest{Model: m.Name}); err == nil && mi.ContextLength == 0 {
			mi.ContextLength = contextLength(show.ModelInfo)
		}
		if meter != nil {
			mi.Measured = o.measured(meter, key, m.Name)
		}
		out = append(out, mi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// measured finds what the meter recorded of a model, however the caller
// named it: agents on the default host often leave the host empty, and
// "tiny" and "tiny:latest" are the same model.
func (o *Ollama) measured(meter *Meter, host, name string) Speed {
	hosts := []string{host}
	if host == o.first {
		hosts = append(hosts, "")
	}
	names := []string{name}
	if base, ok := strings.CutSuffix(name, ":latest"); ok {
		names = append(names, base)
	}
	for _, h := range hosts {
		for _, n := range names {
			if s := meter.Speed(h, n); s.Calls > 0 {
				return s
			}
		}
	}
	return Speed{}
}

// ParseParameterSize reads Ollama's "8.0B", "135M", "1.5K" into a count.
func ParseParameterSize(s string) int64 {
	s = strings.TrimSpace(strings.ToUpper(s))
	if s == "" {
		return 0
	}
	mult := 1.0
	switch s[len(s)-1] {
	case 'K':
		mult = 1e3
	case 'M':
		mult = 1e6
	case 'B':
		mult = 1e9
	case 'T':
		mult = 1e12
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return int64(f * mult)
}
