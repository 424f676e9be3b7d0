// Command nsed runs N-Way Self-Evaluating Deliberation among local models
// served by Ollama: live in a terminal UI, headless, or as a benchmark.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/nsed/nsed/app"
	"github.com/nsed/nsed/internal/buildinfo"
)

// Exit codes: scripts rely on them.
const (
	exitOK          = 0
	exitFailed      = 1 // the run or command failed for another reason
	exitUsage       = 2 // bad flags, arguments or configuration
	exitUnreachable = 3 // no Ollama server answered
	exitNoModel     = 4 // a model is missing on its server
	exitCancelled   = 130
)

// stdio is what a command may read and write; tests substitute buffers.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand. run returns the process exit code.
type command struct {
	summary string
	run     func(ctx context.Context, io stdio, args []string) int
}

// commands is filled by each subcommand's file in an init function, so the
// subcommands stay independent of each other.
var commands = map[string]command{}

// defaultCommand runs when nsed is started with no subcommand.
var defaultCommand = "run"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, stdio{os.Stdin, os.Stdout, os.Stderr}, os.Args[1:]))
}

func dispatch(ctx context.Context, io stdio, args []string) int {
	name := defaultCommand
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "--help" || a == "help":
			usage(io.out)
			return exitOK
		case a == "--version" || a == "version":
			fmt.Fprintln(io.out, versionLine(buildinfo.Read()))
			return exitOK
		case a != "" && a[0] != '-':
			if _, ok := commands[a]; !ok {
				// A bare question is a run: `nsed "what is 2+2?"`.
				if _, isCmd := commands[a]; !isCmd && len(args) == 1 && containsSpace(a) {
					break
				}
				fmt.Fprintf(io.err, "nsed: unknown command %q; see `nsed help`\n", a)
				return exitUsage
			}
			name, args = a, args[1:]
		}
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(io.err, "nsed: command %q is not built into this binary\n", name)
		return exitUsage
	}
	return cmd.run(ctx, io, args)
}

func containsSpace(s string) bool {
	for _, r := range s {
		if r == ' ' {
			return true
		}
	}
	return false
}

// version, when set at link time (-ldflags "-X main.version=v1.2.0"),
// names a release build; else the module version Go stamped is shown.
var version = "dev"

// versionLine is `nsed --version`: the version, the VCS revision and its
// date, whether the tree was modified, the binary's hash and Go's version.
func versionLine(in buildinfo.Info) string {
	if version != "dev" {
		in.Version = version
	}
	return "nsed " + in.String()
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "nsed — watch, steer and measure N-Way Self-Evaluating Deliberation among local models.")
	fmt.Fprintln(w, "\nUsage: nsed <command> [flags] [arguments]   (nsed with no command opens the live TUI)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `nsed <command> -h` for a command's flags.")
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	return map[app.Failure]int{
		app.OK: exitOK, app.Failed: exitFailed, app.Usage: exitUsage,
		app.Unreachable: exitUnreachable, app.NoModel: exitNoModel, app.Cancelled: exitCancelled,
	}[app.Classify(err)]
}
