#!/usr/bin/env bash
# How berthd's lookups scale with the containers it holds (issue: engine
# core): `GET /containers/json` as `docker ps` asks it (running containers
# only) and a query to the embedded DNS, with 100 and with 1000 containers
# on the daemon (10 running on a user network, the rest created and never
# started). Target: at 1000 no more than at 100 plus 10%. `?all=1` is shown
# too; it lists every container, so it grows with them by nature. Then the
# start of a container publishing a port beside 10 and 200 that do.
# Prints medians and rewrites the `scale` section of docs/benchmarks.md.
# Needs root. Traffic: DNS queries to 127.0.0.11 inside one container's own
# network namespace, nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
berth_install_deps
RUNS="${RUNS:-300}"

cargo build --release --workspace >&2
BIN="$PWD/target/release"
WORK="$(mktemp -d /tmp/berth-bench-scale.XXXXXX)"
SOCK="$WORK/berth.sock"
BERTHD_PID=""
cleanup() {
    if [ -n "$BERTHD_PID" ]; then
        python3 - "$SOCK" <<'PY' || true
import http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
def call(method, path):
    c = C("localhost"); c.request(method, path); r = c.getresponse(); body = r.read(); c.close(); return body
for ct in json.loads(call("GET", "/containers/json?all=1")):
    call("DELETE", f"/containers/{ct['Id']}?force=1")
call("DELETE", "/networks/scalenet")
PY
        kill "$BERTHD_PID" 2>/dev/null || true
        wait "$BERTHD_PID" 2>/dev/null || true
    fi
    ip link del bscale0 2>/dev/null || true
    # The user network's bridge, should its removal above have failed.
    [ -f "$WORK/net-bridge" ] && ip link del "$(cat "$WORK/net-bridge")" 2>/dev/null || true
    nft delete table ip berth_bench_scale 2>/dev/null || true
    { grep -o " $WORK[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
    for c in /sys/fs/cgroup/*/berth-bench-scale /sys/fs/cgroup/berth-bench-scale; do
        [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

echo '{"cgroup-parent": "berth-bench-scale", "bridge": "bscale0", "nftables-table": "berth_bench_scale", "registry-loopback-only": true}' >"$WORK/daemon.json"
"$BIN/berthd" -H "unix://$SOCK" --data-root "$WORK/data" --exec-root "$WORK/exec" --config-file "$WORK/daemon.json" --log-level warn 2>"$WORK/berthd.log" &
BERTHD_PID=$!
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
berth_busybox_tar "$WORK/busybox.tar"
"$BIN/berth" -H "unix://$SOCK" import -c 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null

python3 - "$SOCK" "$RUNS" "$WORK" <<'PY'
import datetime, http.client, json, os, platform, socket, statistics, struct, subprocess, sys, time
sys.path.insert(0, "bench")
from doc_section import replace_section, table
sock, runs, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sock)
conn = C("localhost")
def call(method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse(); data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:200]}")
    return json.loads(data) if data else None

net = call("POST", "/networks/create", {"Name": "scalenet", "IPAM": {"Config": [{"Subnet": "10.213.0.0/24"}]}})
bridge = "br-" + net["Id"][:12]
open(os.path.join(work, "net-bridge"), "w").write(bridge)
for i in range(10):
    c = call("POST", f"/containers/create?name=r{i}", {"Image": "busybox", "Cmd": ["sleep", "100000"],
             "HostConfig": {"NetworkMode": "scalenet"}})
    call("POST", f"/containers/{c['Id']}/start")
pid = call("GET", "/containers/r0/json")["State"]["Pid"]

def create_until(n):
    have = len(call("GET", "/containers/json?all=1"))
    for i in range(have, n):
        call("POST", f"/containers/create?name=idle{i}", {"Image": "busybox", "Cmd": ["true"]})

def timed(path):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter(); call("GET", path); out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)

# DNS: queries for r5 from inside r0's network namespace, to its embedded server.
DNS = r'''
import socket, statistics, struct, sys, time
n = int(sys.argv[1])
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x02r5\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
out = []
for _ in range(n):
    t0 = time.perf_counter(); s.sendto(q, ("127.0.0.11", 53)); r = s.recv(512); out.append((time.perf_counter() - t0) * 1e6)
    assert struct.unpack(">H", r[6:8])[0] >= 1, "no answer"
print(statistics.median(out))
'''
def dns():
    r = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "python3", "-c", DNS, str(runs)],
                       check=True, capture_output=True, text=True)
    return float(r.stdout.strip())

def measure():
    timed("/containers/json")  # warm-up
    return {"ps": timed("/containers/json"), "all": timed("/containers/json?all=1"), "dns": dns()}

# 100, 1000, then 100 again (the 900 removed): the two runs at 100 bracket
# the one at 1000, so drift on this shared machine falls on both sides.
create_until(100)
before = measure()
create_until(1000)
res = {1000: measure()}
for i in range(100, 1000):
    call("DELETE", f"/containers/idle{i}")
after = measure()
res[100] = {k: (before[k] + after[k]) / 2 for k in before}
print(before, res[1000], after, file=sys.stderr)

# Published ports: a start and stop of a container publishing one port, with
# 10 and then 200 running containers that publish one each. Each start adds
# its own elements to the DNAT maps; no start re-renders the others' rules.
PORT_RUNS = max(20, runs // 10)
def publisher(name):
    c = call("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["sleep", "100000"],
             "ExposedPorts": {"80/tcp": {}}, "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": ""}]}}})
    return c["Id"]
def start_stop():
    probe = publisher("probe")
    out = []
    for _ in range(PORT_RUNS):
        t0 = time.perf_counter()
        call("POST", f"/containers/{probe}/start")
        call("POST", f"/containers/{probe}/kill")
        call("POST", f"/containers/{probe}/wait")
        out.append((time.perf_counter() - t0) * 1000)
    call("DELETE", f"/containers/{probe}?force=1")
    return statistics.median(out)
published = []
def publish_until(n):
    while len(published) < n:
        i = len(published)
        published.append(publisher(f"pub{i}"))
        call("POST", f"/containers/{published[-1]}/start")
publish_until(10)
ports = {10: start_stop()}
publish_until(200)
ports[200] = start_stop()
for c in published:
    call("DELETE", f"/containers/{c}?force=1")
print(ports, file=sys.stderr)

ratio = lambda k: res[1000][k] / res[100][k]
rows = [
    ("`GET /containers/json` (running only): 100 / 1000 containers", f"{res[100]['ps']:.2f} ms / {res[1000]['ps']:.2f} ms ({ratio('ps'):.2f}×)", "≤ 1.10×"),
    ("embedded DNS query (from inside a container): 100 / 1000", f"{res[100]['dns']:.0f} µs / {res[1000]['dns']:.0f} µs ({ratio('dns'):.2f}×)", "≤ 1.10×"),
    ("`GET /containers/json?all=1` (every container, for scale): 100 / 1000", f"{res[100]['all']:.2f} ms / {res[1000]['all']:.2f} ms ({ratio('all'):.2f}×)", ""),
    ("start + kill + wait of a container publishing a port, beside 10 / 200 running ones that publish one each", f"{ports[10]:.1f} ms / {ports[200]:.1f} ms ({ports[200] / ports[10]:.2f}×)", ""),
]
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
out = [
    "## Scale: lookups with 100 and 1000 containers (`bench/scale.sh`)",
    "",
    f"Measured by `bench/scale.sh` on {date}, {platform.node()} (2 cores, Debian 12, kernel",
    f"{platform.release()}), release build, medians of {runs} requests (at 100: the mean of a",
    "run before and one after the run at 1000); 10 containers running on a user network, the",
    "rest created. A name is found through a name → ID index and the",
    "embedded DNS answers from a per-network table, so neither looks at every container;",
    "`ps` walks a set of the running containers only. A published port is an element of",
    f"Berth's DNAT maps, added and removed per container (medians of {PORT_RUNS} start/stop cycles):",
    "adding one costs the same at any size (~4 ms of `nft`); what still grows with the running",
    "containers is the kernel's /proc/self/mountinfo (a line per container root) that each",
    "container's supervisor reads through libcontainer (cgroup v1 mount points, the root's",
    "parent mount), as runc does for dockerd, and an element's removal (`nft` looks the map up).",
    "",
    *table(rows),
]
replace_section("docs/benchmarks.md", "scale", "\n".join(out))
print("\n".join(out))
PY
