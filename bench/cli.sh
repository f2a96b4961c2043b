#!/usr/bin/env bash
# The CLI's own cost (issue: the berth CLI prints what the docker CLI prints):
# `berth ps` and the docker CLI 28's `docker ps` against one idle berthd (a
# private one, 3 containers, release build), alternating in each round, as
# whole processes; also `images` and `inspect`, and `--help`, which reaches no
# daemon. Target: `berth ps` at most 0.5x `docker ps`. Prints medians and
# rewrites the `cli` section of docs/benchmarks.md. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
berth_install_deps
RUNS="${RUNS:-200}"
DOCKER="${DOCKER:-/usr/local/bin/docker}"

cargo build --release --workspace >&2
BIN="$PWD/target/release"
WORK="$(mktemp -d /tmp/berth-bench-cli.XXXXXX)"
SOCK="$WORK/berth.sock"
BERTHD_PID=""
cleanup() {
    if [ -n "$BERTHD_PID" ]; then
        for id in $("$BIN/berth" -H "unix://$SOCK" ps -aq 2>/dev/null); do
            "$BIN/berth" -H "unix://$SOCK" rm -f "$id" >/dev/null 2>&1 || true
        done
        kill "$BERTHD_PID" 2>/dev/null || true
        wait "$BERTHD_PID" 2>/dev/null || true
    fi
    { grep -o " $WORK[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
    for c in /sys/fs/cgroup/*/berth-bench-cli /sys/fs/cgroup/berth-bench-cli; do
        [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    ip link del bbcli0 2>/dev/null || true
    nft delete table ip berth_bench_cli 2>/dev/null || true
    rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

echo '{"cgroup-parent": "berth-bench-cli", "bridge": "bbcli0", "nftables-table": "berth_bench_cli", "registry-loopback-only": true}' >"$WORK/daemon.json"
"$BIN/berthd" -H "unix://$SOCK" --data-root "$WORK/data" --exec-root "$WORK/exec" --config-file "$WORK/daemon.json" --log-level warn 2>"$WORK/berthd.log" &
BERTHD_PID=$!
for _ in $(seq 1 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
berth_busybox_tar "$WORK/busybox.tar"
B=("$BIN/berth" -H "unix://$SOCK")
"${B[@]}" import -c 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null
for n in 1 2 3; do "${B[@]}" run -d --network none --name "idle$n" busybox sleep 1d >/dev/null; done

python3 - "$BIN/berth" "$DOCKER" "$SOCK" "$RUNS" "$WORK" <<'PY'
import os, random, statistics, subprocess, sys, time, datetime, platform
sys.path.insert(0, "bench")
from doc_section import replace_section, table
berth, docker, sock, runs, work = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
env = dict(os.environ, DOCKER_HOST=f"unix://{sock}", DOCKER_CONFIG=f"{work}/docker-config",
           BERTH_CONFIG=f"{work}/berth-config")
env.pop("BERTH_HOST", None)
forms = {"ps": ["ps"], "images": ["images"], "inspect": ["inspect", "idle1"], "--help": ["--help"]}
times = {(p, f): [] for p in ("berth", "docker") for f in forms}
def once(prog, args):
    t = time.perf_counter()
    r = subprocess.run([prog, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{prog} {' '.join(args)} failed")
    return took
for _ in range(5):
    for f, args in forms.items():
        once(berth, args); once(docker, args)
for _ in range(runs):
    order = [(p, f) for p in ("berth", "docker") for f in forms]
    random.shuffle(order)
    for p, f in order:
        times[(p, f)].append(once(berth if p == "berth" else docker, forms[f]))
med = {k: statistics.median(v) * 1000 for k, v in times.items()}
ver = subprocess.run([docker, "--version"], capture_output=True, text=True).stdout.strip()
rows = []
for f in forms:
    b, d = med[("berth", f)], med[("docker", f)]
    target = "≤ 0.5×" if f == "ps" else ""
    rows.append((f"`{f}`: berth / docker", f"{b:.1f} ms / {d:.1f} ms ({b / d:.2f}×)", target))
    print(f"{f:8} berth {b:6.1f} ms  docker {d:6.1f} ms  ratio {b / d:.2f}", file=sys.stderr)
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
text = "\n".join([
    "## The CLI's own cost: `berth` and the docker CLI (`bench/cli.sh`)",
    "",
    f"Measured by `bench/cli.sh` on {when}, {platform.node()} ({os.cpu_count()} cores, kernel",
    f"{platform.release()}), release build, {runs} rounds after 5 of warm-up, the eight commands",
    "shuffled in each round, whole processes, medians. Both CLIs talk to one idle berthd holding",
    f"3 running containers; the docker CLI is {ver}, with an empty config.",
    "",
    *table(rows),
    "",
    "`berth` is one Rust binary that loads no plugins; it reads its config.json only for",
    "credentials, or to find the current context when neither `-H` nor `DOCKER_HOST` names the",
    "daemon. The docker CLI is a Go binary that loads its config and looks for CLI plugins on",
    "every start (`--help` lists them).",
])
replace_section("docs/benchmarks.md", "cli", text)
PY
