package app

import (
	"fmt"
	"net"
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
		name, _, _ := net.SplitHostPort(key)
		out = append(out, fmt.Sprintf("%s is reached over plain HTTP: prompts and answers cross the network unencrypted; "+
			"use an SSH tunnel (ssh -L 11434:localhost:11434 %s, then --host localhost:11434) or a TLS proxy and an https:// host", key, name))
	}
	return out
}

// plainRemote says whether a normalized host ("host:port", or an https://
// URL) is plain HTTP to another machine.
func plainRemote(key string) bool {
	if strings.HasPrefix(key, "https://") {
		return false
	}
	name, _, err := net.SplitHostPort(key)
	if err != nil {
		name = key
	}
	if strings.EqualFold(name, "localhost") || strings.HasSuffix(strings.ToLower(name), ".localhost") {
		return false
	}
	ip := net.ParseIP(name)
	return ip == nil || !ip.IsLoopback()
}
