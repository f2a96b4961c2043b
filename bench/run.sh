#!/usr/bin/env bash
# Whole-process benchmarks, side by side in one run (issue: engine foundation):
#   1. `berth run --rm busybox true` end to end (CLI -> daemon -> container -> exit -> removal)
#      against the same busybox bundle under bare `runc run`;
#   2. berthd's idle memory;
#   3. memory added per running container (supervisor and daemon bookkeeping);
#   4. exec, cp and commit against runc exec and tar;
#   5. networking: what the default bridge adds to `run --rm` against `--network none`,
#      and iperf3 throughput through a published port against straight to the
#      container's address (loopback and Berth's own bridge only);
#   6. builds (FROM busybox, 5 RUN, COPY of 50 MB, CMD): cold, fully cached, and after
#      changing the last RUN, against Docker 20.10's legacy builder (Debian's docker.io,
#      run here with its own data root and no iptables, bridge or forwarding changes).
# Prints medians and ratios and rewrites docs/benchmarks.md. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
berth_install_deps
for pkg in hyperfine:hyperfine iperf3:iperf3 dockerd:docker.io; do
    command -v "${pkg%%:*}" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkg##*:}" >/dev/null; }
done
RUNS="${RUNS:-40}"
CONTAINERS="${CONTAINERS:-10}"

cargo build --release --workspace >&2
BIN="$PWD/target/release"
WORK="$(mktemp -d /tmp/berth-bench.XXXXXX)"
SOCK="$WORK/berth.sock"
BERTHD_PID=""
DOCKERD_PID=""
cleanup() {
    if [ -n "$DOCKERD_PID" ]; then
        kill "$DOCKERD_PID" 2>/dev/null || true
        wait "$DOCKERD_PID" 2>/dev/null || true
    fi
    if [ -n "$BERTHD_PID" ]; then
        for id in $("$BIN/berth" -H "unix://$SOCK" ps -aq 2>/dev/null); do "$BIN/berth" -H "unix://$SOCK" rm -f "$id" >/dev/null 2>&1 || true; done
        kill "$BERTHD_PID" 2>/dev/null || true
        wait "$BERTHD_PID" 2>/dev/null || true
    fi
    ip link del berthbench0 2>/dev/null || true
    nft delete table ip berth_bench 2>/dev/null || true
    nft delete table ip6 berth_bench 2>/dev/null || true
    { grep -o " $WORK[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
    for c in /sys/fs/cgroup/*/berth-bench /sys/fs/cgroup/berth-bench /sys/fs/cgroup/*/berth-bench-docker /sys/fs/cgroup/berth-bench-docker; do rmdir "$c" 2>/dev/null || true; done
    rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

# Its own bridge and nftables table, so a berthd already running here is not touched.
echo '{"cgroup-parent": "berth-bench", "bridge": "berthbench0", "nftables-table": "berth_bench", "registry-loopback-only": true}' >"$WORK/daemon.json"
"$BIN/berthd" -H "unix://$SOCK" --data-root "$WORK/data" --exec-root "$WORK/exec" --config-file "$WORK/daemon.json" --log-level warn 2>"$WORK/berthd.log" &
BERTHD_PID=$!
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
B=("$BIN/berth" -H "unix://$SOCK")

berth_busybox_tar "$WORK/busybox.tar"
"${B[@]}" import -c 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null

# The same root file system as a runc bundle.
mkdir -p "$WORK/bundle/rootfs"
tar -C "$WORK/bundle/rootfs" -xf "$WORK/busybox.tar"
(cd "$WORK/bundle" && runc spec)
python3 - "$WORK/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["process"]["terminal"] = False
s["process"]["args"] = ["true"]
s["root"]["readonly"] = False
json.dump(s, open(p, "w"))
PY

# Let the build's and the setup's writes reach the disk first: background
# write-back otherwise lands in the first measurements.
sync
sleep 3
IDLE_RSS_KB=$(awk '/^VmRSS/ {print $2}' /proc/$BERTHD_PID/status)
IDLE_PSS_KB=$(awk '/^Pss:/ {print $2}' /proc/$BERTHD_PID/smaps_rollup)

hyperfine --style basic --warmup 3 --runs "$RUNS" --export-json "$WORK/run.json" \
    -n "berth run --rm busybox true" "${B[*]} run --rm busybox true" \
    -n "runc run (same bundle)" "runc --root $WORK/runc run --bundle $WORK/bundle bench-\$\$" >&2

# Exec into a running container: berth (CLI -> daemon -> berth-shim exec) against
# `runc exec` into a runc container from the same bundle.
EXEC_ID=$("${B[@]}" run -d busybox sleep 100000)
cp "$WORK/bundle/config.json" "$WORK/bundle/config.run.json"
python3 - "$WORK/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["process"]["args"] = ["sleep", "100000"]
json.dump(s, open(p, "w"))
PY
runc --root "$WORK/runc" run -d --bundle "$WORK/bundle" bench-exec </dev/null >/dev/null 2>&1
hyperfine --style basic --warmup 3 --runs "$RUNS" --export-json "$WORK/exec.json" \
    -n "berth exec <running> true" "${B[*]} exec $EXEC_ID true" \
    -n "runc exec <running> true" "runc --root $WORK/runc exec bench-exec true" >&2
runc --root "$WORK/runc" kill bench-exec KILL >/dev/null 2>&1 || true
sleep 0.2
runc --root "$WORK/runc" delete -f bench-exec >/dev/null 2>&1 || true
"${B[@]}" rm -f "$EXEC_ID" >/dev/null

# docker cp of a 500 MB tree into and out of a container, against tar | tar
# between the same directories; commit of 100 MB of changes against tarring them.
CP_MB="${CP_MB:-500}"
mkdir -p "$WORK/tree"
for i in $(seq 1 $((CP_MB / 10))); do head -c $((10 * 1024 * 1024)) /dev/urandom >"$WORK/tree/f$i"; done
CP_ID=$("${B[@]}" run -d busybox sleep 100000)
UPPER="$WORK/data/containers/$CP_ID/upper"
hyperfine --style basic --warmup 1 --runs "${CP_RUNS:-5}" --export-json "$WORK/cp.json" \
    --prepare "rm -rf $WORK/out && mkdir -p $WORK/out" \
    -n "tar | tar (reference)" "tar -C $WORK -cf - tree | tar -C $WORK/out -xf -" \
    -n "berth cp into a container" "${B[*]} cp $WORK/tree $CP_ID:/" \
    -n "berth cp out of a container" "${B[*]} cp $CP_ID:/tree $WORK/out/" >&2
"${B[@]}" rm -f "$CP_ID" >/dev/null
CM_ID=$("${B[@]}" run -d busybox sh -c 'head -c 104857600 /dev/urandom > /data.bin; sleep 100000')
for _ in $(seq 1 100); do "${B[@]}" exec "$CM_ID" sh -c 'test $(stat -c %s /data.bin) -eq 104857600' && break; sleep 0.2; done
UPPER="$WORK/data/containers/$CM_ID/upper"
hyperfine --style basic --warmup 1 --runs "${CP_RUNS:-5}" --export-json "$WORK/commit.json" \
    -n "tar of the 100 MB of changes (reference)" "tar -C $UPPER -cf - . | cat >/dev/null" \
    -n "berth commit (100 MB of changes)" "${B[*]} commit $CM_ID bench-commit:latest" >&2
"${B[@]}" rm -f "$CM_ID" >/dev/null

# Networking. What the default bridge (veth, address, rules, /etc/hosts) adds to a
# whole `run --rm`, against no network, in the same hyperfine run.
hyperfine --style basic --warmup 3 --runs "$RUNS" --export-json "$WORK/net.json" \
    -n "berth run --rm --network none busybox true" "${B[*]} run --rm --network none busybox true" \
    -n "berth run --rm busybox true (default bridge)" "${B[*]} run --rm busybox true" >&2
# iperf3 through a published port on 127.0.0.1 (DNAT in Berth's table) against straight
# to the container's address on the bridge. The server is the host's iperf3, bind-mounted.
IPERF_ID=$("${B[@]}" run -d -p 127.0.0.1::5201 -v /usr:/usr:ro -v /lib:/lib:ro -v /lib64:/lib64:ro busybox /usr/bin/iperf3 -s)
IPERF_PUBLISHED=$("${B[@]}" port "$IPERF_ID" 5201)
IPERF_IP=$("${B[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' "$IPERF_ID")
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/$IPERF_IP/5201") 2>/dev/null && break; sleep 0.1; done
IPERF_SECONDS="${IPERF_SECONDS:-5}"
for i in 1 2 3; do
    iperf3 -c "$IPERF_IP" -p 5201 -t "$IPERF_SECONDS" -J >"$WORK/iperf-direct-$i.json"
    iperf3 -c "${IPERF_PUBLISHED%:*}" -p "${IPERF_PUBLISHED##*:}" -t "$IPERF_SECONDS" -J >"$WORK/iperf-published-$i.json"
done
"${B[@]}" rm -f "$IPERF_ID" >/dev/null

# Builds, against Docker 20.10's legacy builder on the same context. dockerd gets its
# own data root and socket, and no iptables rules, bridge, forwarding or masquerade.
dockerd --data-root "$WORK/docker" --exec-root "$WORK/docker-exec" -H "unix://$WORK/docker.sock" \
    --pidfile "$WORK/docker.pid" --iptables=false --ip-forward=false --ip-masq=false --bridge=none --cgroup-parent berth-bench-docker \
    >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
D=(env DOCKER_HOST="unix://$WORK/docker.sock" DOCKER_BUILDKIT=0 /usr/bin/docker)
for _ in $(seq 1 100); do "${D[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
"${D[@]}" import -c 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null
CTX="$WORK/buildctx"
mkdir -p "$CTX"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$CTX/big.bin"
cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM busybox
RUN echo 1 > /s1
RUN echo 2 > /s2
RUN echo 3 > /s3
RUN echo 4 > /s4
RUN echo 5 > /s5
COPY big.bin /big.bin
CMD ["sh"]
DOCKERFILE
# The last RUN's text changes before every run of the "last step" case.
BUMP="sed -i \"s|^RUN echo 5 .*|RUN echo 5 \$(date +%s%N) > /s5|\" $CTX/Dockerfile"
hyperfine --style basic --warmup 1 --runs "${BUILD_RUNS:-10}" --export-json "$WORK/build.json" \
    -n "berth build, cold" "${B[*]} build -q --no-cache -t bench-build $CTX" \
    -n "docker 20.10 build, cold" "${D[*]} build -q --no-cache -t bench-build $CTX" \
    -n "berth build, fully cached" "${B[*]} build -q -t bench-build $CTX" \
    -n "docker 20.10 build, fully cached" "${D[*]} build -q -t bench-build $CTX" >&2
hyperfine --style basic --warmup 1 --runs "${BUILD_RUNS:-10}" --export-json "$WORK/build2.json" \
    --prepare "$BUMP" \
    -n "berth build, last RUN changed" "${B[*]} build -q -t bench-build $CTX" \
    -n "docker 20.10 build, last RUN changed" "${D[*]} build -q -t bench-build $CTX" >&2
DOCKER_VERSION=$("${D[@]}" version --format '{{.Server.Version}}')
kill "$DOCKERD_PID"
wait "$DOCKERD_PID" 2>/dev/null || true
DOCKERD_PID=""

# Memory per running container: supervisors' PSS plus what berthd grew by.
BEFORE_KB=$(awk '/^Pss:/ {print $2}' /proc/$BERTHD_PID/smaps_rollup)
for i in $(seq 1 "$CONTAINERS"); do "${B[@]}" run -d busybox sleep 1000 >/dev/null; done
sleep 1
AFTER_KB=$(awk '/^Pss:/ {print $2}' /proc/$BERTHD_PID/smaps_rollup)
SHIM_KB=0
SHIM_RSS_KB=0
for pid in $(ps -eo pid,args | awk -v w="$WORK" 'index($2, "berth-shim") && index($0, w) {print $1}'); do
    SHIM_KB=$((SHIM_KB + $(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup)))
    SHIM_RSS_KB=$((SHIM_RSS_KB + $(awk '/^VmRSS/ {print $2}' /proc/$pid/status)))
done

python3 - "$WORK" "$CP_MB" "$IDLE_RSS_KB" "$IDLE_PSS_KB" "$BEFORE_KB" "$AFTER_KB" "$SHIM_KB" "$SHIM_RSS_KB" "$CONTAINERS" "$RUNS" "$IPERF_SECONDS" "$DOCKER_VERSION" <<'PY'
import json, sys, statistics, datetime, platform, subprocess
sys.path.insert(0, "bench")
from doc_section import replace_section, table
work, cp_mb, idle_rss, idle_pss, before, after, shim_pss, shim_rss, n, runs, iperf_seconds, docker_version = sys.argv[1:]
res = {}
for f in ("run", "exec", "cp", "commit", "net", "build", "build2"):
    res.update({r["command"]: r for r in json.load(open(f"{work}/{f}.json"))["results"]})
med = lambda k: statistics.median(res[k]["times"]) * 1000
tar_ref, cp_in, cp_out = med("tar | tar (reference)"), med("berth cp into a container"), med("berth cp out of a container")
tar_commit, commit = med("tar of the 100 MB of changes (reference)"), med("berth commit (100 MB of changes)")
bexec = statistics.median(res["berth exec <running> true"]["times"]) * 1000
rexec = statistics.median(res["runc exec <running> true"]["times"]) * 1000
berth = statistics.median(res["berth run --rm busybox true"]["times"]) * 1000
runc = statistics.median(res["runc run (same bundle)"]["times"]) * 1000
n = int(n)
per_container_kb = (int(shim_pss) + (int(after) - int(before))) / n
no_net, bridge = med("berth run --rm --network none busybox true"), med("berth run --rm busybox true (default bridge)")
gbps = lambda kind: statistics.median(
    json.load(open(f"{work}/iperf-{kind}-{i}.json"))["end"]["sum_received"]["bits_per_second"] / 1e9 for i in (1, 2, 3))
direct, published = gbps("direct"), gbps("published")
runc_version = subprocess.run(["runc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
rows = [
    ("`berth run --rm busybox true`, median", f"{berth:.1f} ms", "≤ 40 ms"),
    ("`runc run` of the same bundle, median", f"{runc:.1f} ms", "(reference)"),
    ("ratio berth / runc", f"{berth / runc:.2f}", ""),
    ("`berth exec <running> true`, median", f"{bexec:.1f} ms", "≤ 25 ms"),
    ("`runc exec` into a running runc container, median", f"{rexec:.1f} ms", "(reference)"),
    ("ratio berth exec / runc exec", f"{bexec / rexec:.2f}", ""),
    (f"`berth cp` {cp_mb} MB into a container / tar \\| tar, throughput", f"{tar_ref / cp_in * 100:.0f}% ({cp_in:.0f} ms vs {tar_ref:.0f} ms)", "≥ 70%"),
    (f"`berth cp` {cp_mb} MB out of a container / tar \\| tar, throughput", f"{tar_ref / cp_out * 100:.0f}% ({cp_out:.0f} ms vs {tar_ref:.0f} ms)", "≥ 70%"),
    ("`berth commit` of 100 MB of changes / tar of them", f"{commit / tar_commit:.2f}× ({commit:.0f} ms vs {tar_commit:.0f} ms)", "≤ 2×"),
    ("`berth run --rm` on the default bridge − with `--network none`, medians", f"{bridge - no_net:+.1f} ms ({bridge:.1f} vs {no_net:.1f} ms)", "≤ 10 ms"),
    ("iperf3 through a published port / straight to the container", f"{published / direct * 100:.0f}% ({published:.1f} vs {direct:.1f} Gbit/s)", "≥ 80%"),
    *[
        (f"`berth build`, {case}, median / Docker {docker_version}", f"{med('berth build, ' + case):.0f} ms / {med('docker 20.10 build, ' + case):.0f} ms = {med('berth build, ' + case) / med('docker 20.10 build, ' + case):.2f}", target)
        for case, target in [("cold", "≤ 0.5"), ("fully cached", "≤ 100 ms"), ("last RUN changed", "≤ 0.5")]
    ],
    ("berthd idle RSS (PSS)", f"{int(idle_rss) / 1024:.1f} MiB ({int(idle_pss) / 1024:.1f} MiB)", "≤ 15 MiB"),
    (f"memory added per running container ({n} running)", f"{per_container_kb / 1024:.2f} MiB PSS", "≤ 2 MiB"),
    ("  of which berth-shim (PSS / RSS each)", f"{int(shim_pss) / n / 1024:.2f} / {int(shim_rss) / n / 1024:.2f} MiB", ""),
    ("  of which berthd growth", f"{(int(after) - int(before)) / n / 1024:.2f} MiB", ""),
]
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
out = [
    "## Per-issue targets (`bench/run.sh`)",
    "",
    "Measured by `bench/run.sh` (whole processes, side by side in one run, release build,",
    f"hyperfine with {runs} runs after 3 warm-ups) on {date}, {platform.node()}: 2 cores,",
    f"Debian 12, kernel {platform.release()}, hybrid cgroups, {runc_version}.",
    "These shared machines are noisy: read the ratios, not the absolute times.",
    "",
    *table(rows),
]
out += [
    "",
    "Reference figures from the issue, measured earlier on this kind of machine: Docker 20.10",
    "`docker run --rm` about 440 ms; dockerd + containerd idle 126 MiB; about 13 MiB per",
    "containerd-shim. The build rows run Debian's Docker 20.10 (legacy builder) side by side",
    "in the same run; the rest of the Docker comparison is the subject of its own issue.",
    "",
    "Memory per container is proportional set size (PSS), so the pages of the `berth-shim`",
    "binary shared by all supervisors count once overall, not once per container; RSS counts",
    "them in full for each.",
    "",
    "Networking: the bridge figure is the difference of two medians from one hyperfine run",
    "(veth pair made inside the container's namespace, address, nftables rules rebuilt, and",
    f"all of it removed again). iperf3 runs 3 times each way ({iperf_seconds} s each) against the",
    "host's iperf3 server bind-mounted into a busybox container; \"published\" goes to 127.0.0.1",
    "and a published port (DNAT in Berth's table, no userland proxy), \"straight\" to the",
    "container's address on the bridge. Both stay on this host.",
    "",
    "Builds: FROM busybox, five RUN steps, COPY of a 50 MB file, CMD; `build -q` through",
    "each engine's own CLI, the context sent over its UNIX socket each time. \"last RUN",
    "changed\" edits the fifth RUN before each run, so it and the COPY after it are rebuilt.",
]
replace_section("docs/benchmarks.md", "run", "\n".join(out))
print("\n".join(out))
PY
