package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits bound one sandboxed execution.
type Limits struct {
	Wall      time.Duration // wall-clock limit (default 10s)
	CPU       time.Duration // CPU-time limit, RLIMIT_CPU (default 5s)
	Memory    int64         // address-space limit in bytes, RLIMIT_AS (default 512 MiB)
	Output    int64         // bytes of stdout+stderr kept before the run is killed (default 1 MiB)
	FileSize  int64         // largest file it may write, RLIMIT_FSIZE (default 8 MiB)
	Processes int           // RLIMIT_NPROC, for the unprivileged user it runs as (default 32)
}

func (l Limits) withDefaults() Limits {
	if l.Wall <= 0 {
		l.Wall = 10 * time.Second
	}
	if l.CPU <= 0 {
		l.CPU = 5 * time.Second
	}
	if l.Memory <= 0 {
		l.Memory = 512 << 20
	}
	if l.Output <= 0 {
		l.Output = 1 << 20
	}
	if l.FileSize <= 0 {
		l.FileSize = 8 << 20
	}
	if l.Processes <= 0 {
		l.Processes = 32
	}
	return l
}

// Exec outcomes.
const (
	ExecOK        = "ok"
	ExecError     = "error"   // non-zero exit (exception, syntax error, …)
	ExecTimeout   = "timeout" // wall or CPU limit
	ExecMemory    = "memory"  // MemoryError or killed allocating
	ExecOutput    = "output"  // printed more than Limits.Output
	ExecNoSandbox = "unavailable"
)

// ExecResult is what a sandboxed program did.
type ExecResult struct {
	Status   string        `json:"status"`
	ExitCode int           `json:"exit_code"`
	Stdout   string        `json:"-"`
	Stderr   string        `json:"stderr,omitempty"`
	Wall     time.Duration `json:"wall_ns"`
}

// Sandbox runs untrusted Python solutions. Each run gets a fresh temporary
// directory (removed afterwards) and, via prlimit(1), limits on CPU time,
// address space, file size, process count and core dumps; a wall-clock
// timer and an output cap kill its whole process group. Where the OS
// allows it (root, or unprivileged user namespaces) the program runs in
// new network and PID namespaces via unshare(1) — no network, and nothing
// it forks survives it — and, when started as root, as the unprivileged
// user nobody via setpriv(1) so the process limit applies and the rest of
// the filesystem is out of reach. Describe says what this machine allowed.
type Sandbox struct {
	Limits Limits
	// Python is the interpreter; default python3 on PATH (resolved to a
	// binary nobody can run, /usr/bin/python3 preferred, when dropping root).
	Python string

	once    sync.Once
	prefix  []string // wrapper commands before the interpreter
	python  string
	notes   []string
	initErr error
}

func (s *Sandbox) init() {
	s.once.Do(func() {
		s.python = s.Python
		if s.python == "" {
			s.python = "python3"
		}
		if p, err := exec.LookPath(s.python); err == nil {
			s.python = p
		} else {
			s.initErr = fmt.Errorf("sandbox: no Python interpreter %q: %w", s.python, err)
			return
		}
		l := s.Limits.withDefaults()
		if _, err := exec.LookPath("prlimit"); err != nil {
			s.initErr = errors.New("sandbox: prlimit(1) is needed (util-linux) to set resource limits")
			return
		}
		cpu := int64((l.CPU + time.Second - 1) / time.Second)
		s.prefix = []string{"prlimit",
			"--cpu=" + strconv.FormatInt(cpu, 10),
			"--as=" + strconv.FormatInt(l.Memory, 10),
			"--fsize=" + strconv.FormatInt(l.FileSize, 10),
			"--nproc=" + strconv.Itoa(l.Processes),
			"--core=0", "--"}
		s.notes = append(s.notes, fmt.Sprintf("prlimit: cpu %ds, address space %d MiB, file size %d MiB, %d processes, no core dumps", cpu, l.Memory>>20, l.FileSize>>20, l.Processes))
		if try("unshare", "-n", "-p", "-f", "--kill-child", "true") == nil {
			s.prefix = append(s.prefix, "unshare", "-n", "-p", "-f", "--kill-child")
			s.notes = append(s.notes, "unshare: no network (new network namespace), new PID namespace (forks die with it)")
		} else if try("unshare", "-r", "-n", "true") == nil {
			s.prefix = append(s.prefix, "unshare", "-r", "-n")
			s.notes = append(s.notes, "unshare -r -n: no network (user+network namespace)")
		} else {
			s.notes = append(s.notes, "network NOT isolated: unshare is not permitted here")
		}
		if os.Geteuid() == 0 {
			drop := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
			for _, py := range []string{s.python, "/usr/bin/python3"} {
				if try(append(drop, py, "-c", "pass")...) == nil {
					s.python = py
					s.prefix = append(s.prefix, drop...)
					s.notes = append(s.notes, "setpriv: runs as nobody (uid 65534), so the process limit applies")
					break
				}
			}
			if !strings.Contains(strings.Join(s.prefix, " "), "setpriv") {
				s.notes = append(s.notes, "runs as root (setpriv could not drop privileges): the process limit does not apply, the PID namespace and process-group kill still bound forks")
			}
		}
		s.notes = append(s.notes, fmt.Sprintf("wall %s and %d KiB output cap kill the process group", l.Wall, l.Output>>10))
	})
}

func try(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, args[0], args[1:]...).Run()
}

// Describe says which isolation this machine allowed.
func (s *Sandbox) Describe() string {
	s.init()
	if s.initErr != nil {
		return s.initErr.Error()
	}
	return strings.Join(s.notes, "; ")
}

// capWriter keeps up to max bytes and calls over once when more arrive.
// Stdout's and stderr's share n, the run's total output, and are written by
// two copying goroutines at once: hence an atomic counter, not the mutex.
type capWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	max  int64
	n    *atomic.Int64
	over func()
	hit  bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	total := w.n.Add(int64(len(p)))
	if room := w.max - int64(w.buf.Len()); room > 0 {
		w.buf.Write(p[:min(int64(len(p)), room)])
	}
	if total > w.max && !w.hit {
		w.hit = true
		go w.over()
	}
	return len(p), nil
}

// Run executes code with stdin in a fresh directory under the limits.
func (s *Sandbox) Run(ctx context.Context, code, stdin string) (ExecResult, error) {
	s.init()
	if s.initErr != nil {
		return ExecResult{Status: ExecNoSandbox}, s.initErr
	}
	l := s.Limits.withDefaults()
	dir, err := os.MkdirTemp("", "nsed-sandbox-")
	if err != nil {
		return ExecResult{}, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil { // the unprivileged user works in it
		return ExecResult{}, err
	}
	file := filepath.Join(dir, "solution.py")
	if err := os.WriteFile(file, []byte(code), 0o644); err != nil {
		return ExecResult{}, err
	}
	args := append(append([]string{}, s.prefix...), s.python, "-I", "solution.py")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + dir, "PYTHONHASHSEED=0", "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8"}
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var total atomic.Int64
	var killOnce sync.Once
	var killedFor string
	kill := func(why string) {
		killOnce.Do(func() {
			killedFor = why
			if cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		})
	}
	out := &capWriter{max: l.Output, n: &total, over: func() { kill(ExecOutput) }}
	errw := &capWriter{max: 64 << 10, n: &total, over: func() { kill(ExecOutput) }}
	errw.max = min(l.Output, 64<<10)
	cmd.Stdout, cmd.Stderr = out, errw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return ExecResult{}, fmt.Errorf("sandbox: %w", err)
	}
	timer := time.AfterFunc(l.Wall, func() { kill(ExecTimeout) })
	stop := context.AfterFunc(ctx, func() { kill("cancelled") })
	werr := cmd.Wait()
	timer.Stop()
	stop()
	// A kill the timer or the context started may still be running on its
	// own goroutine: Do returns only once it is done, so killedFor is read
	// after it was written (the race detector caught the bare read), and no
	// kill can start from now on.
	killOnce.Do(func() {})
	// Whatever it left behind in its group goes too.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	res := ExecResult{Wall: time.Since(start), Stdout: out.buf.String(), Stderr: errw.buf.String()}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	var ee *exec.ExitError
	switch {
	case killedFor != "":
		res.Status, res.ExitCode = killedFor, -1
	case out.hit || errw.hit: // over the cap, but it exited before its kill ran (Wait has joined the copiers)
		res.Status, res.ExitCode = ExecOutput, -1
	case werr == nil:
		res.Status = ExecOK
	case errors.As(werr, &ee):
		res.ExitCode = ee.ExitCode()
		res.Status = ExecError
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			switch ws.Signal() {
			case syscall.SIGXCPU, syscall.SIGKILL:
				res.Status = ExecTimeout
			case syscall.SIGXFSZ:
				res.Status = ExecOutput
			case syscall.SIGSEGV, syscall.SIGABRT:
				res.Status = ExecMemory
			}
		}
		if strings.Contains(res.Stderr, "MemoryError") || strings.Contains(res.Stderr, "Cannot allocate memory") {
			res.Status = ExecMemory
		}
		if res.ExitCode == 137 || res.ExitCode == 152 { // killed / SIGXCPU through the wrapper
			res.Status = ExecTimeout
		}
		// RLIMIT_CPU ends it with SIGXCPU, which a wrapper may report as a
		// plain failure: the CPU time it used tells.
		if ps := cmd.ProcessState; ps != nil {
			cpuLimit := time.Duration((l.CPU+time.Second-1)/time.Second) * time.Second
			if ps.UserTime()+ps.SystemTime() >= cpuLimit*95/100 {
				res.Status = ExecTimeout
			}
		}
	default:
		return res, fmt.Errorf("sandbox: %w", werr)
	}
	return res, nil
}
