#!/usr/bin/env bash
# Creates (once) the Python venv the network-input tests use as real clients, under the gitignored .cache/pyenv.
# Idempotent and quiet: does nothing when the pinned versions are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/pyenv
pins=(fluent-logger==0.11.1 msgpack==1.1.0 zstandard==0.23.0)
stamp="$venv/.pins"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${pins[*]}" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
echo "${pins[*]}" >"$stamp"
