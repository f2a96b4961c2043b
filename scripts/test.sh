#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the integration
# tests that start real berthd daemons (as root: namespaces, cgroups, mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
berth_install_deps
# The interop tests run the reference registry from here.
BERTH_DISTRIBUTION="$(berth_distribution)"
export BERTH_DISTRIBUTION

cargo fmt --all -- --check
cargo build --workspace --all-targets
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# The side-by-side benchmark, Berth alone and briefly, so it never rots (no thresholds).
bench/compare --quick >/dev/null
