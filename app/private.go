package app

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/nsed/nsed/models"
)

// warnPlainHTTP says, once per host, which servers the session reaches
// over plain HTTP off this machine: every prompt and answer crosses the
// network readable. Loopback hosts and https:// hosts are fine.
func (s *Session) warnPlainHTTP() {
	hosts := s.hosts()
	for _, a := range s.Agents {
		if a.Host != "" {
			hosts = append(hosts, a.Host)
		}
	}
	for _, msg := range plainHTTPWarnings(hosts) {
		s.warn(msg)
	}
}

// plainHTTPWarnings is one warning per distinct non-loopback plain-HTTP
// host, in the order given.
func plainHTTPWarnings(hosts []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range hosts {
		key, err := models.NormalizeHost(h)
		if err != nil || seen[key] || !plainRemote(key) {
			continue
		}
		seen[key] = true
		name, port := nameAndPort(key)
		local := "localhost:" + port
		if strings.Contains(key, "://") { // an OpenAI-compatible URL keeps its path
			local = strings.Replace(key, net.JoinHostPort(name, port), local, 1)
		}
		out = append(out, fmt.Sprintf("%s is reached over plain HTTP: prompts and answers cross the network unencrypted; "+
			"use an SSH tunnel (ssh -L %s:localhost:%s %s, then --host %s) or a TLS proxy and an https:// host", key, port, port, name, local))
	}
	return out
}

// plainRemote says whether a normalized host ("host:port", an https://
// URL, or an OpenAI-compatible http://host:port/v1 URL) is plain HTTP to
// another machine.
func plainRemote(key string) bool {
	if strings.HasPrefix(key, "https://") {
		return false
	}
	name, _ := nameAndPort(key)
	if strings.EqualFold(name, "localhost") || strings.HasSuffix(strings.ToLower(name), ".localhost") {
		return false
	}
	ip := net.ParseIP(name)
	return ip == nil || !ip.IsLoopback()
}

// nameAndPort is a normalized host's machine name and port, whether it is
// written "host:port" or as a URL (OpenAI-compatible hosts keep theirs).
func nameAndPort(key string) (name, port string) {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil {
			port = u.Port()
			if port == "" {
				port = map[string]string{"https": "443"}[u.Scheme]
				port = cmp.Or(port, "80")
			}
			return u.Hostname(), port
		}
	}
	name, port, err := net.SplitHostPort(key)
	if err != nil {
		return key, "11434"
	}
	return name, port
}
