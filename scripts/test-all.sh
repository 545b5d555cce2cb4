#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, and the whole cargo test suite
# (unit, property, golden-vector, integration and doc tests). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

need_component() {
  if ! cargo "$1" --version >/dev/null 2>&1; then
    echo "cargo $1 is missing; installing the rustup component $2" >&2
    rustup component add "$2"
  fi
}
need_component fmt rustfmt
need_component clippy clippy

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
echo "== cargo test"
cargo test
