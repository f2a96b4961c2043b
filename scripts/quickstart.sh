#!/usr/bin/env bash
# Quick start, as root on Debian 12: install what is missing, build, start
# berthd, make a busybox image from Debian's busybox-static, run a container.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
berth_install_deps

cargo build --release --workspace
BIN="$PWD/target/release"
SOCK=/run/berth/berth.sock
B=("$BIN/berth" -H "unix://$SOCK")

# berth's man pages (`man berth-run`) and bash completion.
"$BIN/berth" man-pages /usr/local/share/man/man1
mkdir -p /usr/local/share/bash-completion/completions
"$BIN/berth" completion bash >/usr/local/share/bash-completion/completions/berth

if ! "${B[@]}" version >/dev/null 2>&1; then
    mkdir -p /var/log
    nohup "$BIN/berthd" >>/var/log/berthd.log 2>&1 &
    echo "berthd started (pid $!), logging to /var/log/berthd.log" >&2
    for _ in $(seq 1 100); do
        [ -S "$SOCK" ] && "${B[@]}" version >/dev/null 2>&1 && break
        sleep 0.1
    done
fi

if ! "${B[@]}" image inspect busybox >/dev/null 2>&1; then
    tarball="$(mktemp --suffix=.tar)"
    berth_busybox_tar "$tarball"
    "${B[@]}" import -c 'CMD ["sh"]' "$tarball" busybox >/dev/null
    rm -f "$tarball"
fi

"${B[@]}" run --rm busybox echo hello
