#!/usr/bin/env bash
# Three Lumen instances sharing one PostgreSQL database (and one sealing
# key), on ports 3001-3003: sign in on one, enter the code on another,
# try the same code on the third. Ctrl-C stops all three.
#
#   scripts/three-instances.sh [postgres://URL] [SCHEMA]
#
# The automated version of this check is
#   cargo test -p lumen --test instances
set -euo pipefail
cd "$(dirname "$0")/.."

url="${1:-postgres://postgres@127.0.0.1:5432/test}"
schema="${2:-lumen_shared}"
key="${LUMEN_SEALING_KEY:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}"

cargo build -q --release -p lumen
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
for port in 3001 3002 3003; do
    LUMEN_SEALING_KEY="$key" target/release/lumen \
        --addr "127.0.0.1:$port" --database "$url" --schema "$schema" &
    pids+=("$!")
    sleep 1 # the first one creates the schema
done
echo "Three instances on one database: http://127.0.0.1:3001/ http://127.0.0.1:3002/ http://127.0.0.1:3003/"
wait
