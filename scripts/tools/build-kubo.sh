#!/usr/bin/env bash
# Build kubo (the IPFS daemon) from the Go module proxy at a pinned tag: no kubo binary is on any
# registry this project can reach. Usage: build-kubo.sh OUTPUT_PATH. The Go module cache makes reruns fast.
set -euo pipefail
KUBO_VERSION=v0.38.1   # keep in step with python/opendpg/content/daemon.py KUBO_VERSION
# kubo 0.38.1 pins a cockroachdb/swiss that introspects the Go runtime and refuses Go >= 1.26;
# this later commit of the same module supports it.
SWISS_VERSION=v0.0.0-20260820225851-333444432258
out=$(realpath -m "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'module opendpg.local/kubo-build\n\ngo 1.25\n' > go.mod
export GOFLAGS=-buildvcs=false
go get "github.com/ipfs/kubo/cmd/ipfs@${KUBO_VERSION}"
go get "github.com/cockroachdb/swiss@${SWISS_VERSION}"
mkdir -p "$(dirname "$out")"
go build -trimpath -o "$out.tmp" github.com/ipfs/kubo/cmd/ipfs
mv "$out.tmp" "$out"
"$out" version
