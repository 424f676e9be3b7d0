// Package nsed holds the default configuration, embedded so that the nsed
// binary works with no file (go:embed cannot reach a parent folder, hence
// this tiny root package).
package nsed

import _ "embed"

// DefaultConfig is nsed.toml as shipped.
//
//go:embed nsed.toml
var DefaultConfig []byte
