// Package config reads nsed.toml and owns its format (file.go). Precedence,
// highest first: command-line flags (applied by package app), --config
// FILE, else ./nsed.toml, then the default configuration embedded in the
// binary. Each file is decoded on top of the one below, so a file need only
// name what it changes. Unknown keys and bad values are errors naming the
// file, line and key, and what is allowed.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/nsed/nsed"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// Duration is a time.Duration written as "5m" in TOML.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"5m\" or \"90s\": %w", err)
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Error is a configuration mistake, with where it is and how to fix it.
type Error struct {
	File string
	Line int // 0 when unknown
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// EmbeddedName is how errors name the built-in configuration.
const EmbeddedName = "(built-in nsed.toml)"

// Load reads the configuration: the embedded default, then path if given,
// else ./nsed.toml if it exists.
func Load(path string) (*File, error) {
	if path == "" {
		if _, err := os.Stat("nsed.toml"); err == nil {
			path = "nsed.toml"
		}
	}
	if path == "" {
		return Parse(nil, "")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse reads one configuration file's contents (name is used in errors;
// empty data with an empty name means the defaults alone) on top of the
// embedded default.
func Parse(data []byte, name string) (*File, error) {
	var f File
	if err := f.decode(nsed.DefaultConfig, EmbeddedName); err != nil {
		return nil, err
	}
	if name != "" {
		defAgents, defHosts := f.Agents, f.Ollama.Hosts
		// Arrays replace rather than merge: a file that lists agents lists
		// all of them.
		f.Agents, f.Ollama.Hosts = nil, nil
		if err := f.decode(data, name); err != nil {
			return nil, err
		}
		if len(f.Agents) == 0 {
			f.Agents = defAgents
		}
		if len(f.Ollama.Hosts) == 0 && len(f.Hosts) == 0 {
			// [[hosts]] given alone list all the servers: the default
			// local Ollama is not added in front of them.
			f.Ollama.Hosts = defHosts
		}
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (f *File) decode(data []byte, name string) error {
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line := pe.Position.Line
			if line == 0 { // an error at the very end (a lone backslash) comes without a line: the last one
				line = 1 + bytes.Count(bytes.TrimRight(data, "\n"), []byte("\n"))
			}
			return &Error{File: name, Line: line, Key: pe.LastKey, Msg: pe.Message}
		}
		// Type mismatches come as plain errors, the line in the text when
		// the decoder knows it, else found from the key.
		msg, line, key := err.Error(), 0, ""
		if m := typeErr.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			key, msg = m[2], m[3]
			if line == 0 && key != "" {
				line = lineOf(data, toml.Key(strings.Split(key, ".")))
			}
		}
		return &Error{File: name, Line: line, Key: key, Msg: msg}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return &Error{File: name, Line: lineOf(data, k), Key: k.String(),
			Msg: fmt.Sprintf("unknown key; allowed here: %s", strings.Join(allowedKeys(k), ", "))}
	}
	f.Source = append(f.Source, name)
	f.lines = append(f.lines, sourceLines{name: name, data: data})
	return nil
}

var typeErr = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)

// Validate checks values, naming the file and line of the offending key.
func (f *File) Validate() error {
	if len(f.Agents) < 2 {
		return f.errAt("agents", fmt.Sprintf("need at least 2 [[agents]] for peer review, have %d", len(f.Agents)))
	}
	if len(f.Agents) > 8 {
		return f.errAt("agents", fmt.Sprintf("at most 8 agents are supported, have %d", len(f.Agents)))
	}
	for i, a := range f.Agents {
		if strings.TrimSpace(a.Model) == "" {
			return f.errAt("agents", fmt.Sprintf("agent %d has no model: add model = \"NAME\" (see `nsed models`)", i+1))
		}
		if a.Role != "" {
			if _, ok := f.Roles[a.Role]; !ok {
				return f.errAt("agents", fmt.Sprintf("agent %d plays role %q, which no [roles.%s] table defines (defined: %s)", i+1, a.Role, a.Role, strings.Join(sortedKeys(f.Roles), ", ")))
			}
		}
		if a.Host != "" {
			if _, err := models.NormalizeHost(a.Host); err != nil {
				return f.errAt("agents", fmt.Sprintf("agent %d: %v", i+1, err))
			}
		}
		if err := f.validAgentOptions(i, a); err != nil {
			return err
		}
	}
	for _, h := range f.Ollama.Hosts {
		if _, err := models.NormalizeHost(h); err != nil {
			return f.errAt("ollama.hosts", err.Error())
		}
	}
	for i, h := range f.Hosts {
		if err := validHost(h); err != nil {
			return f.errAt("hosts", fmt.Sprintf("[[hosts]] %d: %v", i+1, err))
		}
		if err := f.validCapacity(i, h); err != nil {
			return err
		}
	}
	if why := engine.QuorumProblem(f.Deliberation.Quorum, len(f.Agents)); why != "" {
		return f.errAt("deliberation.quorum", why)
	}
	if err := f.Settings().Validate(); err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		return f.errAt(tableOf(key), msg)
	}
	for _, phase := range []string{"propose", "review", "summary"} {
		o := map[string]Options{"propose": f.Sampling.Propose, "review": f.Sampling.Review, "summary": f.Sampling.Summary}[phase]
		if !slices.Contains(models.ThinkValues, o.Think) {
			return f.errAt("sampling."+phase+".think", thinkMsg(o.Think))
		}
		if o.ThinkBudget < 0 {
			return f.errAt("sampling."+phase+".think_budget", fmt.Sprintf("must be 0 (no extra room for thinking) or more tokens, not %d", o.ThinkBudget))
		}
	}
	switch f.TUI.Theme {
	case "", "dark", "light", "high-contrast":
	default:
		return f.errAt("tui.theme", fmt.Sprintf("unknown theme %q: use dark, light or high-contrast", f.TUI.Theme))
	}
	if f.Broker.Diversity < 0 || f.Broker.Diversity > 1 {
		return f.errAt("broker.diversity", "must be in [0, 1]: the error correlation between copies of one model")
	}
	if f.Broker.DefaultPrior < 0 || f.Broker.DefaultPrior > 1 {
		return f.errAt("broker.default_prior", "must be in [0, 1]")
	}
	if f.Broker.VRAMBudget != "" {
		if _, err := ParseBytes(f.Broker.VRAMBudget); err != nil {
			return f.errAt("broker.vram_budget", err.Error())
		}
	}
	return nil
}

// thinkMsg explains a bad think value.
func thinkMsg(v string) string {
	return fmt.Sprintf("unknown value %q: use \"true\" or \"false\" (qwen3, deepseek-r1, …), \"low\", \"medium\" or \"high\" (gpt-oss only), or leave it out for the model's default", v)
}

// validAgentOptions checks agent i's own model options.
func (f *File) validAgentOptions(i int, a Agent) error {
	switch {
	case !slices.Contains(models.ThinkValues, a.Think):
		return f.agentErrAt(i, "think", thinkMsg(a.Think))
	case a.ThinkBudget != nil && *a.ThinkBudget < 0:
		return f.agentErrAt(i, "think_budget", fmt.Sprintf("must be 0 (no extra room for thinking) or more tokens, not %d", *a.ThinkBudget))
	case a.NumPredict < -2:
		return f.agentErrAt(i, "num_predict", fmt.Sprintf("must be a positive token count (or -1: no limit), not %d", a.NumPredict))
	case a.NumPredict > 0 && a.NumPredict < f.Sampling.Review.NumPredict:
		// An agent's key wins in every phase, its reviews too, and a
		// structured review cut short is an abstention.
		return f.agentErrAt(i, "num_predict", fmt.Sprintf("%d is below [sampling.review] num_predict (%d), and an agent's num_predict holds for its reviews too, where a review cut short is an abstention: raise it, or lower [sampling.propose] num_predict instead", a.NumPredict, f.Sampling.Review.NumPredict))
	case a.NumCtx < 0:
		return f.agentErrAt(i, "num_ctx", fmt.Sprintf("must be a positive token count, not %d", a.NumCtx))
	case a.Temperature != nil && (*a.Temperature < 0 || *a.Temperature > 2):
		return f.agentErrAt(i, "temperature", fmt.Sprintf("must be in [0, 2], not %g", *a.Temperature))
	case a.TopP != nil && (*a.TopP <= 0 || *a.TopP > 1):
		return f.agentErrAt(i, "top_p", fmt.Sprintf("must be in (0, 1], not %g", *a.TopP))
	}
	return nil
}

// validCapacity checks the memory and speed of the i-th [[hosts]] table:
// sizes that parse, and model sizes and speeds only where the server does
// not report them (an OpenAI-compatible one).
func (f *File) validCapacity(i int, h Host) error {
	if _, err := parseOptionalBytes(h.VRAMBudget); err != nil {
		return f.arrayErrAt("hosts", i, "vram_budget", err.Error())
	}
	openai := h.API == "openai"
	if len(h.ModelMemory) > 0 && !openai {
		return f.arrayErrAt("hosts", i, "model_memory", "is for api = \"openai\" hosts: Ollama reports each model's memory itself")
	}
	for _, name := range sortedKeys(h.ModelMemory) {
		if _, err := ParseBytes(h.ModelMemory[name]); err != nil {
			return f.arrayErrAt("hosts", i, "model_memory", fmt.Sprintf("model %q: %v", name, err))
		}
	}
	switch {
	case h.TokensPerSec != 0 && !openai:
		return f.arrayErrAt("hosts", i, "tokens_per_sec", "is for api = \"openai\" hosts: nsed derives an Ollama model's speed from its size until it measures it")
	case h.TokensPerSec < 0 || math.IsNaN(h.TokensPerSec) || math.IsInf(h.TokensPerSec, 0):
		return f.arrayErrAt("hosts", i, "tokens_per_sec", fmt.Sprintf("must be a positive speed in output tokens per second, not %g", h.TokensPerSec))
	}
	return nil
}

// agentErrAt names the line of key in the i-th [[agents]] table of the
// highest-precedence file that lists agents (the table's header when the
// key is not written there).
func (f *File) agentErrAt(i int, key, msg string) error {
	return f.arrayErrAt("agents", i, key, msg)
}

// arrayErrAt names the line of key in the i-th [[table]] of the
// highest-precedence file that has one (the table's header when the key is
// not written there).
func (f *File) arrayErrAt(table string, i int, key, msg string) error {
	k := fmt.Sprintf("%s[%d].%s", table, i+1, key)
	for j := len(f.lines) - 1; j >= 0; j-- {
		if l := arrayLine(f.lines[j].data, table, i, key); l > 0 {
			return &Error{File: f.lines[j].name, Line: l, Key: k, Msg: msg}
		}
	}
	return f.errAt(table, k+": "+msg)
}

// arrayLine finds "key =" inside the i-th (0-based) [[table]], or that
// table's header; 0 when the data has fewer such tables.
func arrayLine(data []byte, table string, i int, key string) int {
	sc := bufio.NewScanner(bytes.NewReader(data))
	n, seen, header := 0, -1, 0
	inside := false
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			if inside {
				break
			}
			if strings.HasPrefix(line, "[[") && strings.EqualFold(strings.Trim(strings.SplitN(line, "#", 2)[0], "[] "), table) {
				seen++
				if seen == i {
					inside, header = true, n
				}
			}
			continue
		}
		if k, ok := keyOfLine(line); inside && ok && len(k) == 1 && strings.EqualFold(k[0], key) {
			return n
		}
	}
	return header
}

// tableOf maps a Settings key to where it lives in nsed.toml.
func tableOf(key string) string {
	switch key {
	case "min_rounds", "max_rounds", "credits", "seed", "reasoning_chars", "proposal_chars", "max_ctx", "call_timeout", "quorum":
		return "deliberation." + key
	}
	return key
}

// TranscriptDir is where run transcripts go.
func (f *File) TranscriptDir() string {
	if f.Transcript.Dir != "" {
		return expandHome(f.Transcript.Dir)
	}
	return filepath.Join(DataDir(), "runs")
}

// DataDir is nsed's directory for user data: $XDG_DATA_HOME/nsed, else
// ~/.local/share/nsed.
func DataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "nsed")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "nsed")
	}
	return filepath.Join(os.TempDir(), "nsed")
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return p
}

// ParseBytes reads sizes like "8GiB", "512MB", "1.5G" or a plain byte count.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	units := []struct {
		suffix string
		mult   float64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	var v float64
	if _, err := fmt.Sscanf(t, "%g", &v); err != nil || v <= 0 {
		return 0, fmt.Errorf("bad size %q: want a positive size such as 8GiB or 512MB", s)
	}
	return int64(v * mult), nil
}

// ---- error positions ----

type sourceLines struct {
	name string
	data []byte
}

// errAt names the highest-precedence file that sets key, and its line.
func (f *File) errAt(key, msg string) error {
	k := toml.Key(strings.Split(key, "."))
	for i := len(f.lines) - 1; i >= 0; i-- {
		if l := lineOf(f.lines[i].data, k); l > 0 {
			return &Error{File: f.lines[i].name, Line: l, Key: key, Msg: msg}
		}
	}
	name := EmbeddedName
	if n := len(f.lines); n > 0 {
		name = f.lines[n-1].name
	}
	return &Error{File: name, Key: key, Msg: msg}
}

// lineOf finds the line that sets key: "key =" inside its table, or the
// table header itself for tables and arrays of tables.
func lineOf(data []byte, key toml.Key) int {
	if len(key) == 0 {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var table []string
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			table, _ = parseKey(strings.TrimLeft(line, "["))
			if equalKeys(table, key) {
				return n
			}
			continue
		}
		k, ok := keyOfLine(line)
		if !ok {
			continue
		}
		full := append(append([]string(nil), table...), k...)
		// The line sets key itself, a table above it ("gate = {…}") or a
		// key inside it ("effort.x = 0" where effort is a number).
		if equalKeys(full, key) || (len(key) > len(full) && equalKeys(full, key[:len(full)])) ||
			(len(full) > len(key) && equalKeys(full[:len(key)], key)) {
			return n
		}
	}
	return 0
}

// keyOfLine is the key a "key = value" line sets.
func keyOfLine(line string) ([]string, bool) {
	k, rest := parseKey(line)
	return k, len(k) > 0 && strings.HasPrefix(strings.TrimSpace(rest), "=")
}

// parseKey reads the dotted key at the start of s — bare, "quoted" or
// 'literal' parts, so `"a.b" = 1` is one part and `"=" = 1` is a key —
// and returns its parts and the text after it.
func parseKey(s string) (parts []string, rest string) {
	for {
		s = strings.TrimLeft(s, " \t")
		var part string
		switch {
		case strings.HasPrefix(s, `"`):
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return parts, ""
			}
			var err error
			if part, err = strconv.Unquote(s[:end+1]); err != nil {
				part = s[1:end]
			}
			s = s[end+1:]
		case strings.HasPrefix(s, "'"):
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return parts, ""
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := strings.IndexFunc(s, func(r rune) bool {
				return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
			})
			if end < 0 {
				end = len(s)
			}
			if end == 0 {
				return parts, s
			}
			part, s = s[:end], s[end:]
		}
		parts = append(parts, part)
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return parts, s
		}
		s = s[1:]
	}
}

// equalKeys compares keys as the decoder matches them to fields: without
// regard to case ("[Sampling.Review]" sets sampling.review).
func equalKeys(a []string, b toml.Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// allowedKeys lists what may appear in the table that holds key.
func allowedKeys(key toml.Key) []string {
	allowed := map[string][]string{
		"hosts":        {"url", "api", "api_key_env", "vram_budget", "model_memory", "tokens_per_sec"},
		"":             {"ollama", "hosts", "agents", "roles", "deliberation", "stopping", "gate", "review", "sampling", "transcript", "tui", "broker", "bench"},
		"ollama":       {"hosts", "keep_alive"},
		"agents":       {"role", "model", "host", "temperature", "seed", "top_p", "num_ctx", "num_predict", "think", "think_budget"},
		"deliberation": {"min_rounds", "max_rounds", "credits", "seed", "reasoning_chars", "proposal_chars", "max_ctx", "call_timeout", "quorum"},
		"stopping":     {"effort", "p_g", "p_v", "lambda", "beta", "patience"},
		"gate":         {"budget_tokens", "gamma", "drop_below", "summarise", "synthesis_role"},
		"review":       {"max_claims", "claim_chars", "critique_chars", "retries"},
		"sampling":     {"propose", "review", "summary"},
		"transcript":   {"dir", "tokens"},
		"tui":          {"theme"},
		"bench":        {"reference"},
		"broker":       {"vram_budget", "priors", "default_prior", "diversity"},
		"roles":        {"persona"},
	}
	parent := ""
	if len(key) > 1 {
		parent = key[0]
	}
	if parent == "sampling" {
		return []string{"temperature", "seed", "top_p", "num_ctx", "num_predict", "think", "think_budget"}
	}
	if parent == "roles" {
		return allowed["roles"]
	}
	return allowed[parent]
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validHost checks a [[hosts]] table: the URL fits its API, and
// api_key_env names a variable rather than holding a key.
func validHost(h Host) error {
	if strings.TrimSpace(h.URL) == "" {
		return errors.New("no url: add url = \"http://HOST:PORT/v1\" (OpenAI-compatible) or \"HOST:11434\" (Ollama)")
	}
	if _, err := models.NormalizeHost(h.URL); err != nil {
		return err
	}
	openai := models.IsOpenAIURL(h.URL)
	switch h.API {
	case "openai":
		if !openai {
			return fmt.Errorf("url %q: an OpenAI-compatible server's url ends in /v1, e.g. http://gpu1:8000/v1", h.URL)
		}
	case "", "ollama":
		if openai {
			return fmt.Errorf("url %q ends in /v1, an OpenAI-compatible server: set api = \"openai\"", h.URL)
		}
		if h.APIKeyEnv != "" {
			return errors.New("api_key_env is for api = \"openai\" hosts")
		}
	default:
		return fmt.Errorf("api %q: want \"openai\" or \"ollama\"", h.API)
	}
	if h.APIKeyEnv != "" && !envName.MatchString(h.APIKeyEnv) {
		return errors.New("api_key_env names the environment variable that holds the key (e.g. VLLM_API_KEY), not the key itself: keys never go in nsed.toml")
	}
	return nil
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
