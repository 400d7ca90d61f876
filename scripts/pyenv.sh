#!/usr/bin/env bash
# Creates (once) the Python venv the tests use as real clients, under the gitignored .cache/pyenv: Fluentd
# clients for the network inputs, and Microsoft's Kusto SDK (azure-kusto-ingest) to prove the ADX stand-ins
# answer as ADX does (tests/adx_sdk.rs).
# Idempotent and quiet: does nothing when the pinned versions are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/pyenv
pins=(fluent-logger==0.11.1 msgpack==1.1.0 zstandard==0.23.0 azure-kusto-data==6.0.4 azure-kusto-ingest==6.0.4)
stamp="$venv/.pins"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${pins[*]}" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
echo "${pins[*]}" >"$stamp"
