package models

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Router is a Backend over hosts of both APIs: a request whose host is an
// OpenAI-compatible URL (ending in /v1) goes to the OpenAI backend, any
// other to Ollama, so agents on both mix in one run.
type Router struct {
	mu     sync.Mutex
	ollama *Ollama // nil until an Ollama host is configured or asked for
	openai *OpenAI
	hosts  []string // as configured, normalized, the default first
}

// NewRouter returns a backend for the given hosts (Ollama addresses and
// OpenAI-compatible URLs, mixed); none means Ollama's default host.
// keyEnv names the API-key variable of OpenAI-compatible hosts by URL
// (missing: DefaultKeyEnv).
func NewRouter(hosts []string, keyEnv map[string]string) (*Router, error) {
	if len(hosts) == 0 {
		hosts = []string{DefaultHost}
	}
	var ol []string
	var oa []OpenAIHost
	r := &Router{}
	for _, h := range hosts {
		key, err := NormalizeHost(h)
		if err != nil {
			return nil, err
		}
		r.hosts = append(r.hosts, key)
		if IsOpenAIURL(key) {
			env, ok := keyEnv[h]
			if !ok {
				env = keyEnv[key]
			}
			oa = append(oa, OpenAIHost{URL: key, KeyEnv: env})
		} else {
			ol = append(ol, h)
		}
	}
	var err error
	if r.openai, err = NewOpenAI(oa...); err != nil {
		return nil, err
	}
	if len(ol) > 0 {
		if r.ollama, err = NewOllama(ol...); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Hosts lists the configured hosts, the default first.
func (r *Router) Hosts() []string { return append([]string(nil), r.hosts...) }

// API names the API a host speaks: "openai" or "ollama".
func (r *Router) API(host string) string {
	if IsOpenAIURL(r.resolve(host)) {
		return "openai"
	}
	return "ollama"
}

func (r *Router) resolve(host string) string {
	if host == "" {
		return r.hosts[0]
	}
	return host
}

// ollamaFor returns the Ollama backend, made on first use when only
// OpenAI-compatible hosts were configured and a rebind names an Ollama one.
func (r *Router) ollamaFor(host string) (*Ollama, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ollama == nil {
		o, err := NewOllama(host)
		if err != nil {
			return nil, err
		}
		r.ollama = o
	}
	return r.ollama, nil
}

// Chat implements Backend.
func (r *Router) Chat(ctx context.Context, req Request, onToken TokenFunc) (Response, error) {
	req.Host = r.resolve(req.Host)
	if IsOpenAIURL(req.Host) {
		return r.openai.Chat(ctx, req, onToken)
	}
	o, err := r.ollamaFor(req.Host)
	if err != nil {
		return Response{}, err
	}
	return o.Chat(ctx, req, onToken)
}

// Ping checks that a host answers.
func (r *Router) Ping(ctx context.Context, host string) (string, error) {
	host = r.resolve(host)
	if IsOpenAIURL(host) {
		return r.openai.Ping(ctx, host)
	}
	o, err := r.ollamaFor(host)
	if err != nil {
		return "", err
	}
	return o.Ping(ctx, host)
}

// CheckModel implements Checker.
func (r *Router) CheckModel(ctx context.Context, host, model string) error {
	host = r.resolve(host)
	if IsOpenAIURL(host) {
		return r.openai.CheckModel(ctx, host, model)
	}
	o, err := r.ollamaFor(host)
	if err != nil {
		return err
	}
	return o.CheckModel(ctx, host, model)
}

// errNoCapabilities says the OpenAI API tells nothing of what a model can do.
var errNoCapabilities = errors.New("an OpenAI-compatible server does not list a model's capabilities")

// Capabilities implements CapabilityReader; OpenAI-compatible hosts cannot
// say, so the engine leaves their think settings to the user.
func (r *Router) Capabilities(ctx context.Context, host, model string) (Capabilities, error) {
	host = r.resolve(host)
	if IsOpenAIURL(host) {
		return Capabilities{}, fmt.Errorf("%s at %s: %w", model, host, errNoCapabilities)
	}
	o, err := r.ollamaFor(host)
	if err != nil {
		return Capabilities{}, err
	}
	return o.Capabilities(ctx, host, model)
}

// Models lists a host's models with their telemetry.
func (r *Router) Models(ctx context.Context, host string, meter *Meter) ([]ModelInfo, error) {
	host = r.resolve(host)
	if IsOpenAIURL(host) {
		return r.openai.Models(ctx, host, meter)
	}
	o, err := r.ollamaFor(host)
	if err != nil {
		return nil, err
	}
	return o.Models(ctx, host, meter)
}
