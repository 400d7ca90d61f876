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

echo "== cargo test (workspace)"
cargo test --workspace --locked --all-targets
cargo test --workspace --locked --doc
