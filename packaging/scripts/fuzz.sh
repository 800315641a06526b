#!/bin/sh
# fuzz.sh: runs every native Go fuzzer of the module, and of the plugin SDK
# module, for FUZZTIME each (default 30s), one after the other. Fuzzers are
# found with `go test -list '^Fuzz'`, so a new one is run without listing it
# here. Inputs that fail are written under the package's testdata/fuzz/<Fuzzer>/
# by go test; commit them with the fix, they then run in every `go test`.
#
#   FUZZTIME      time per fuzzer (go test -fuzztime: "30s", "2m", "10000x")
#   FUZZPKG       package pattern, default ./... (e.g. ./daemon/... ./media/sip)
#   FUZZPARALLEL  fuzzing workers per fuzzer (go test -parallel), default 2
#
# Exits non-zero when a fuzzer finds a failing input or a package's tests do
# not build: a fuzzer that cannot be listed is a failure, never a skip.
set -eu
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZPKG=${FUZZPKG:-./...}
FUZZPARALLEL=${FUZZPARALLEL:-2}
failed=""
count=0

run_module() {
	# $1: package patterns of this module.
	for pkg in $($GO list $1); do
		if ! list=$($GO test -list '^Fuzz' "$pkg" 2>&1); then
			echo "$list" >&2
			failed="$failed $pkg(list)"
			continue
		fi
		for name in $(echo "$list" | grep '^Fuzz' || true); do
			echo "== $pkg $name ($FUZZTIME)"
			count=$((count + 1))
			if ! $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" \
				-parallel "$FUZZPARALLEL" "$pkg"; then
				failed="$failed $pkg.$name"
			fi
		done
	done
}

root=$(pwd)
run_module "$FUZZPKG"
if [ "$FUZZPKG" = "./..." ]; then
	cd "$root/plugins/sdk"
	run_module ./...
	cd "$root"
fi
if [ -n "$failed" ]; then
	echo "fuzzers that failed:$failed" >&2
	exit 1
fi
if [ "$count" -eq 0 ]; then
	echo "no fuzzer found under $FUZZPKG" >&2
	exit 1
fi
echo "$count fuzzers each ran $FUZZTIME without a failure"
