#!/usr/bin/env bash
# The project's test command (README, .ci/run): formatting, lints, and every test of the workspace, including
# the Cilium filter conformance suite (read from ../shared/conformance when present).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# Queued-ingestion tests use the Azurite storage emulator (npm). Install it into the project's cache when npm
# is present; the tests that need it say so loudly and skip when it is not.
if [ -x crates/hubble-adx/scripts/azurite.sh ] && command -v npm >/dev/null 2>&1; then
  echo "== azurite (storage emulator for queued-ingestion tests)"
  crates/hubble-adx/scripts/azurite.sh install
fi

# Network-input tests drive the daemon with real Fluentd clients: fluent-logger (Fluentd's own Python client),
# msgpack for hand-built Forward frames, zstandard for zstd HTTP bodies; tests/adx_sdk.rs drives Microsoft's
# Kusto SDK (azure-kusto-ingest) against the ADX stand-in. Installed into a gitignored venv; the tests find it
# through HUBBLE_INGEST_TEST_PYTHON (or .cache/pyenv) and skip loudly without it.
if command -v python3 >/dev/null 2>&1; then
  echo "== python test clients (.cache/pyenv)"
  scripts/pyenv.sh
  export HUBBLE_INGEST_TEST_PYTHON="$PWD/.cache/pyenv/bin/python"
fi

# The report test (tests/report.rs) opens the HTML report in headless Chromium: Debian's `chromium` package.
# Install it when it is missing and apt-get exists (quietly; the log goes to target/). The test says loudly
# when it cannot run Chromium and then skips only its browser part.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "== chromium (headless browser for the HTML report test)"
  mkdir -p target
  as_root=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then as_root="sudo -n"; fi
  if ! { $as_root apt-get -qq update \
      && DEBIAN_FRONTEND=noninteractive $as_root apt-get -y -qq -o DPkg::Lock::Timeout=300 \
        install --no-install-recommends chromium; } >target/apt-chromium.log 2>&1; then
    echo "WARNING: could not install chromium (see target/apt-chromium.log); the report test will skip its browser part" >&2
  fi
fi

echo "== cargo test (workspace)"
cargo test --workspace --locked --all-targets
cargo test --workspace --locked --doc
