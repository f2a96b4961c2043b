#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a while (SECONDS_EACH, default 60) with
# cargo-fuzz on the nightly toolchain (RUSTC_BOOTSTRAP=1 on stable where there
# is none). Crashes are kept in fuzz/artifacts/; the corpus in fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH="${SECONDS_EACH:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list | grep -q nightly; then
    FUZZ=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    FUZZ=(cargo fuzz)
fi
for t in $("${FUZZ[@]}" list); do
    echo "== $t ($SECONDS_EACH s)"
    "${FUZZ[@]}" run "$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048
done
