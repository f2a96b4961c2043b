#!/usr/bin/env python3
"""Berth and Docker side by side: one private berthd and one private dockerd
on this machine, the same busybox image in both, every workload run against
both in alternation (A B A B ...) after a warm-up, through the same docker CLI.
Writes a table to docs/benchmarks.md and a bar chart of the ratios to
docs/compare.svg. `--quick` runs Berth alone, briefly, and writes nothing.

Both daemons get their own data root, exec root, socket and pid file; dockerd
runs without iptables, bridge, forwarding or masquerade, and containers of both
run with `--network none` (Berth's bridge costs are measured in bench/run.sh).
Everything started here is stopped by PID and removed, also on failure."""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from doc_section import replace_section  # noqa: E402

DOCKER_CLI = "/usr/local/bin/docker"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


def get(sock, path):
    c = UnixHTTP(sock)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def descendants_and_tagged(root_pid, tag):
    """PIDs of the engine: the daemon, its descendants, and every process whose
    command line names this engine's private directory (shims that re-parented)."""
    parents, cmdlines = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            parents[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
            cmdlines[int(d)] = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    pids = {root_pid} if root_pid in parents else set()
    changed = True
    while changed:
        changed = False
        for p, pp in parents.items():
            if pp in pids and p not in pids:
                pids.add(p)
                changed = True
    pids |= {p for p, c in cmdlines.items() if tag in c and p in parents}
    return pids


def memory_kb(pids):
    rss = pss = 0
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


class Engine:
    name = ""

    def __init__(self, work):
        self.dir = os.path.join(work, self.name)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "engine.sock")
        self.proc = None

    def env(self):
        return dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_BUILDKIT="0",
                    DOCKER_CONFIG=os.path.join(self.dir, "docker-config"))

    def cli(self, *args, check=True, stdin=None):
        r = subprocess.run([DOCKER_CLI, *args], env=self.env(), capture_output=True, stdin=stdin)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name}: docker {' '.join(args)}: {r.stderr.decode()}")
        return r.stdout.decode()

    def start(self):
        """Starts the daemon and returns the seconds to its first answered /_ping."""
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.command(), stdout=open(os.path.join(self.dir, "log"), "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        while time.monotonic() - t0 < 60:
            try:
                if get(self.sock, "/_ping")[0] == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.dir}/log")
            time.sleep(0.002)
        raise RuntimeError(f"{self.name} did not answer /_ping")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def processes(self):
        return descendants_and_tagged(self.proc.pid, self.dir) if self.proc else set()

    def remove_all(self):
        ids = self.cli("ps", "-aq").split()
        for chunk in range(0, len(ids), 50):
            self.cli("rm", "-f", *ids[chunk:chunk + 50], check=False)


class Berth(Engine):
    name = "berth"

    def __init__(self, work, bin_dir):
        super().__init__(work)
        self.bin_dir = bin_dir
        with open(os.path.join(self.dir, "daemon.json"), "w") as f:
            json.dump({"bridge": "bcmp0", "nftables-table": "berth_compare", "cgroup-parent": "berth-compare",
                       "registry-loopback-only": True}, f)

    def command(self):
        return [os.path.join(self.bin_dir, "berthd"), "-H", f"unix://{self.sock}",
                "--data-root", os.path.join(self.dir, "data"), "--exec-root", os.path.join(self.dir, "exec"),
                "--config-file", os.path.join(self.dir, "daemon.json"), "--log-level", "warn"]

    def version(self):
        return "Berth " + self.cli("version", "--format", "{{.Server.Version}}").strip()

    def cleanup(self):
        subprocess.run(["ip", "link", "del", "bcmp0"], capture_output=True)
        subprocess.run(["nft", "delete", "table", "ip", "berth_compare"], capture_output=True)
        remove_cgroup("berth-compare")


class Docker(Engine):
    name = "docker"

    def command(self):
        return ["dockerd", "--data-root", os.path.join(self.dir, "data"), "--exec-root", os.path.join(self.dir, "exec"),
                "-H", f"unix://{self.sock}", "--pidfile", os.path.join(self.dir, "dockerd.pid"),
                "--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
                # Its containers' cgroups under a parent of its own, removed after.
                "--cgroup-parent", "berth-compare-docker"]

    def version(self):
        return "Docker " + self.cli("version", "--format", "{{.Server.Version}}").strip()

    def cleanup(self):
        remove_cgroup("berth-compare-docker")


def remove_cgroup(name):
    """The (empty) cgroup a daemon made its containers' parent, in every hierarchy."""
    for c in [f"/sys/fs/cgroup/{name}"] + [f"/sys/fs/cgroup/{d}/{name}" for d in os.listdir("/sys/fs/cgroup")]:
        try:
            os.rmdir(c)
        except OSError:
            pass


def timed(f):
    t0 = time.monotonic()
    f()
    return time.monotonic() - t0


def busybox_tar(path):
    root = tempfile.mkdtemp()
    try:
        for d in ["bin", "etc", "tmp", "root"]:
            os.makedirs(os.path.join(root, d))
        shutil.copy("/bin/busybox", os.path.join(root, "bin/busybox"))
        apps = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True).stdout.split()
        for a in apps:
            if a != "busybox":
                os.symlink("busybox", os.path.join(root, "bin", a))
        open(os.path.join(root, "etc/passwd"), "w").write("root:x:0:0:root:/root:/bin/sh\n")
        open(os.path.join(root, "etc/group"), "w").write("root:x:0:\n")
        subprocess.run(["tar", "-C", root, "-cf", path, "."], check=True)
    finally:
        shutil.rmtree(root)


class Workloads:
    """Each workload takes an engine and returns seconds (or None to skip)."""

    def __init__(self, work, quick):
        self.work = work
        self.quick = quick
        self.many = 10 if quick else 100
        self.ctx = os.path.join(work, "buildctx")
        os.makedirs(self.ctx)
        with open(os.path.join(self.ctx, "big.bin"), "wb") as f:
            f.write(os.urandom((5 if quick else 50) * 1024 * 1024))
        self.write_dockerfile("5")
        self.tree = os.path.join(work, "tree")
        os.makedirs(self.tree)
        for i in range(2 if quick else 10):
            with open(os.path.join(self.tree, f"f{i}"), "wb") as f:
                f.write(os.urandom(10 * 1024 * 1024))

    def write_dockerfile(self, last):
        steps = "".join(f"RUN echo {i} > /s{i}\n" for i in range(1, 5))
        with open(os.path.join(self.ctx, "Dockerfile"), "w") as f:
            f.write(f"FROM busybox\n{steps}RUN echo {last} > /s5\nCOPY big.bin /big.bin\nCMD [\"sh\"]\n")

    def run_rm(self, e):
        return timed(lambda: e.cli("run", "--rm", "--network", "none", "busybox", "true"))

    def lifecycle(self, e):
        """create, start, wait and rm, each timed."""
        t = {}
        t0 = time.monotonic()
        cid = e.cli("create", "--network", "none", "busybox", "true").strip()
        t["create"] = time.monotonic() - t0
        t["start"] = timed(lambda: e.cli("start", cid))
        t["wait"] = timed(lambda: e.cli("wait", cid))
        t["rm"] = timed(lambda: e.cli("rm", cid))
        return t

    def start_many(self, e, clients):
        """`many` containers `run -d ... sleep`, by `clients` parallel clients; then the
        engine's memory per running container."""
        e.remove_all()
        before = memory_kb(e.processes())
        args = ["run", "-d", "--network", "none", "busybox", "sleep", "100000"]
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda _: e.cli(*args), range(self.many)))
        took = time.monotonic() - t0
        time.sleep(1)
        after = memory_kb(e.processes())
        e.remove_all()
        per = ((after[0] - before[0]) / self.many, (after[1] - before[1]) / self.many)
        return took, per

    def at_scale(self, e, n):
        """With n (created, not started) containers there: GET /containers/json?all=1,
        `ps -a`, and one more container's create and start (what grows with the
        number of containers an engine keeps)."""
        e.remove_all()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: e.cli("create", "--network", "none", "busybox", "true"), range(n)))
        t = {"`GET /containers/json?all=1`": statistics.median(
            [timed(lambda: get(e.sock, "/containers/json?all=1")) for _ in range(10)])}
        t["`ps -a`"] = statistics.median([timed(lambda: e.cli("ps", "-a")) for _ in range(5)])
        creates, starts = [], []
        for _ in range(5):
            t0 = time.monotonic()
            cid = e.cli("create", "--network", "none", "busybox", "true").strip()
            creates.append(time.monotonic() - t0)
            starts.append(timed(lambda: e.cli("start", cid)))
        t["`create`"] = statistics.median(creates)
        t["`start`"] = statistics.median(starts)
        e.remove_all()
        return t

    def exec_latency(self, e):
        cid = e.cli("run", "-d", "--network", "none", "busybox", "sleep", "100000").strip()
        samples = [timed(lambda: e.cli("exec", cid, "true")) for _ in range(5)]
        e.cli("rm", "-f", cid)
        return statistics.median(samples)

    def build(self, e):
        t = {}
        t["build, cold"] = timed(lambda: e.cli("build", "-q", "--no-cache", "-t", "cmp-build", self.ctx))
        t["build, cached"] = timed(lambda: e.cli("build", "-q", "-t", "cmp-build", self.ctx))
        self.write_dockerfile(str(time.time_ns()))
        t["build, last step changed"] = timed(lambda: e.cli("build", "-q", "-t", "cmp-build", self.ctx))
        return t

    def cp(self, e):
        cid = e.cli("run", "-d", "--network", "none", "busybox", "sleep", "100000").strip()
        out = os.path.join(self.work, f"cp-out-{e.name}")
        t = {"cp into a container": timed(lambda: e.cli("cp", self.tree, f"{cid}:/"))}
        os.makedirs(out)
        t["cp out of a container"] = timed(lambda: e.cli("cp", f"{cid}:/tree", out))
        shutil.rmtree(out)
        e.cli("rm", "-f", cid)
        return t


def fmt_time(samples):
    m = statistics.median(samples)
    unit, k = ("s", 1) if m >= 10 else ("ms", 1000)
    return f"{m * k:.1f} {unit} ({min(samples) * k:.1f}–{max(samples) * k:.1f})"


def fmt_mem(kb):
    return f"{kb / 1024:.1f} MiB"


def chart(rows, path):
    """Horizontal bars of Berth/Docker ratios on a log scale; 1 is parity."""
    import math
    w, left, bar, gap = 760, 300, 18, 8
    h = 40 + len(rows) * (bar + gap)
    lo, hi = math.log10(0.01), math.log10(10)
    x = lambda r: left + (math.log10(min(max(r, 0.01), 10)) - lo) / (hi - lo) * (w - left - 20)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="16">Berth / Docker (log scale; left of the line: Berth is faster or smaller)</text>']
    for tick in [0.01, 0.1, 1, 10]:
        out.append(f'<line x1="{x(tick):.1f}" y1="24" x2="{x(tick):.1f}" y2="{h - 8}" stroke="{"#000" if tick == 1 else "#ccc"}"/>')
        out.append(f'<text x="{x(tick) - 8:.1f}" y="{h}" font-size="10">{tick:g}×</text>')
    for i, (name, ratio) in enumerate(rows):
        y = 30 + i * (bar + gap)
        x0, x1 = sorted([x(1), x(ratio)])
        color = "#2a7" if ratio <= 1 else "#c44"
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{name}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar}" fill="{color}"/>')
        out.append(f'<text x="{x1 + 4:.1f}" y="{y + 13}">{ratio:.2f}×</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--with-docker", action="store_true", help="compare against a private dockerd (Debian's docker.io)")
    ap.add_argument("--quick", action="store_true", help="Berth alone, few repetitions, nothing written (for CI)")
    ap.add_argument("--rounds", type=int, default=None, help="measured rounds per workload (default 5, quick 2)")
    ap.add_argument("--bin-dir", default="target/release", help="where berthd is")
    a = ap.parse_args()
    rounds = a.rounds or (2 if a.quick else 5)
    work = tempfile.mkdtemp(prefix="berth-compare.")
    engines = [Berth(work, os.path.abspath(a.bin_dir))]
    if a.with_docker and not a.quick:
        engines.append(Docker(work))
    results = {}  # workload -> engine -> [samples]
    memory = {}  # row -> engine -> kB
    versions = {}

    def add(workload, engine, value):
        results.setdefault(workload, {}).setdefault(engine.name, []).append(value)

    try:
        tar = os.path.join(work, "busybox.tar")
        busybox_tar(tar)
        for e in engines:
            e.start()
            with open(tar, "rb") as f:
                e.cli("import", "-c", 'CMD ["sh"]', "-", "busybox", stdin=f)
            versions[e.name] = e.version()
        wl = Workloads(work, a.quick)
        time.sleep(2)
        for e in engines:
            memory.setdefault("idle daemon (RSS / PSS)", {})[e.name] = memory_kb(e.processes())
        # Warm-up, then rounds in alternation: A B A B ...
        for e in engines:
            wl.run_rm(e)
            wl.exec_latency(e)
            wl.build(e)
        for r in range(rounds):
            order = engines if r % 2 == 0 else engines[::-1]
            for e in order:
                add("`run --rm busybox true`", e, wl.run_rm(e))
                for phase, secs in wl.lifecycle(e).items():
                    add(f"`{phase}` (create, start, wait, rm)", e, secs)
                add("`exec <running> true`", e, wl.exec_latency(e))
                for name, secs in wl.build(e).items():
                    add(name, e, secs)
                for name, secs in wl.cp(e).items():
                    add(f"{name}, {'20' if a.quick else '100'} MB", e, secs)
        # The heavier workloads: fewer rounds.
        for r in range(max(1, rounds // 2)):
            order = engines if r % 2 == 0 else engines[::-1]
            for e in order:
                for clients in (1, 8):
                    took, per = wl.start_many(e, clients)
                    add(f"{wl.many} × `run -d … sleep`, {clients} client{'s' if clients > 1 else ''}", e, took)
                    memory.setdefault(f"per running container ({wl.many} running, {clients} client{'s' if clients > 1 else ''})", {})[e.name] = per
                for n in ([100] if a.quick else [100, 1000]):
                    for name, secs in wl.at_scale(e, n).items():
                        add(f"{name}, {n} containers", e, secs)
        for r in range(rounds):
            order = engines if r % 2 == 0 else engines[::-1]
            for e in order:
                e.stop()
                time.sleep(0.5)
                add("daemon cold start to first `/_ping`", e, e.start())
    finally:
        for e in engines:
            try:
                if e.proc:
                    e.remove_all()
            except Exception:
                pass
            e.stop()
            e.cleanup()
        mounts = [l.split()[1] for l in open("/proc/self/mounts") if work in l]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    names = [e.name for e in engines]
    lines = ["| workload | " + " | ".join(f"{n} median (min–max)" for n in names)
             + (" | Berth / Docker |" if len(names) > 1 else " |"),
             "| --- |" + " --- |" * (len(names) + (1 if len(names) > 1 else 0))]
    ratios = []
    for w, by in results.items():
        cells = [fmt_time(by[n]) for n in names]
        row = f"| {w} | " + " | ".join(cells)
        if len(names) > 1:
            ratio = statistics.median(by["berth"]) / statistics.median(by["docker"])
            ratios.append((w.replace("`", ""), ratio))
            row += f" | {ratio:.2f} |"
        else:
            row += " |"
        lines.append(row)
    for m, by in memory.items():
        cells = [f"{fmt_mem(by[n][0])} / {fmt_mem(by[n][1])}" for n in names]
        row = f"| memory: {m} | " + " | ".join(cells)
        if len(names) > 1:
            ratio = by["berth"][1] / by["docker"][1] if by["docker"][1] else float("nan")
            ratios.append((f"memory: {m.split(' (')[0]} (PSS)", ratio))
            row += f" | {ratio:.2f} (PSS) |"
        else:
            row += " |"
        lines.append(row)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        "## Berth and Docker side by side (`bench/compare`)",
        "",
        f"Measured on {date}, {platform.node()}: {os.cpu_count()} cores, kernel {platform.release()};"
        f" {', '.join(versions.values())}; the same docker CLI ({DOCKER_CLI}) against both.",
        f"{rounds} rounds in alternation after a warm-up; containers with `--network none`;",
        "memory is the engine's whole process tree from /proc (daemon, containerd and shims;",
        "berthd and its supervisors). Push/pull waits for the registry issue.",
        "",
    ]
    text = "\n".join(header + lines)
    print(text)
    if len(names) > 1:
        chart(ratios, "docs/compare.svg")
        replace_section("docs/benchmarks.md", "compare", text + "\n\n![Berth / Docker ratios](compare.svg)")


if __name__ == "__main__":
    main()
