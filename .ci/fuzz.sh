#!/usr/bin/env bash
# Runs every fuzz target (a func FuzzX in a _test.go file) for a short,
# bounded time each: FUZZTIME (default 10s). Plain go test already runs each
# target's seed corpus (its f.Add inputs and testdata/fuzz/FuzzX/) as tests;
# this searches beyond them. Prints one line per target; on a failure, go
# test's report, which names the input it wrote to the package's
# testdata/fuzz/FuzzX/ — commit that file with the fix, and it stays a test.
# Exits non-zero if any target fails.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
log=$(mktemp -t nsed-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
n=0
for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$file"); do
		n=$((n + 1))
		t=$SECONDS
		# A short minimize time: shrinking each new interesting input may
		# otherwise take the whole run (the default is 60s).
		if go test "$pkg" -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s >"$log" 2>&1; then
			execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 || true)
			echo "fuzz $pkg $target: ok, ${execs:-execs: ?} in $((SECONDS - t))s"
		else
			echo "fuzz $pkg $target: FAILED in $((SECONDS - t))s"
			cat "$log"
			status=1
		fi
	done
done
if [[ $n == 0 ]]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi
exit $status
