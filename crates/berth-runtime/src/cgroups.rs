//! Reading a container's cgroup: stats, OOM kills and member processes, on
//! cgroup v1, v2, and the hybrid layout (v1 controllers beside a cgroup2
//! mount with no controllers, where the v1 hierarchy is the one in use).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

const ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

pub fn version() -> CgroupVersion {
    // SAFETY: statfs on a constant path into a zeroed struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let p = c"/sys/fs/cgroup";
    if unsafe { libc::statfs(p.as_ptr(), &mut st) } == 0 && st.f_type == libc::CGROUP2_SUPER_MAGIC {
        CgroupVersion::V2
    } else {
        CgroupVersion::V1
    }
}

/// One cgroup hierarchy mounted under /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount_point: PathBuf,
    /// Its controllers, and `name=…` for a named v1 hierarchy.
    pub options: Vec<String>,
    pub v2: bool,
}

/// The v1 controllers libcgroups makes a cgroup in for each container; a
/// hierarchy with none of them (`name=systemd`, hybrid's cgroup2) is one the
/// supervisor joins itself (`join_unmanaged`).
const MANAGED_V1: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "hugetlb",
    "memory",
    "pids",
    "perf_event",
    "blkio",
    "net_prio",
    "net_cls",
    "freezer",
];

impl Hierarchy {
    /// Whether libcgroups' v1 manager makes the container's cgroup here.
    fn managed(&self) -> bool {
        !self.v2
            && self
                .options
                .iter()
                .any(|o| MANAGED_V1.contains(&o.as_str()))
    }

    /// Whether a `/proc/<pid>/cgroup` line's controller field names this hierarchy.
    fn is_named_by(&self, controllers: &str) -> bool {
        if self.v2 {
            return controllers.is_empty();
        }
        !controllers.is_empty()
            && controllers
                .split(',')
                .all(|c| self.options.iter().any(|o| o == c))
    }
}

/// The cgroup hierarchies mounted at or under /sys/fs/cgroup, from
/// mountinfo, read once per process: they do not change under a running
/// daemon, and mountinfo grows with every container's root (reading it on
/// each start made starts slower the more containers ran).
pub fn hierarchies() -> Vec<Hierarchy> {
    static ONCE: std::sync::OnceLock<Vec<Hierarchy>> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        parse_hierarchies(&read(PathBuf::from("/proc/self/mountinfo")).unwrap_or_default())
    })
    .clone()
}

fn parse_hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount_point = PathBuf::from(pre.split(' ').nth(4)?);
            let mut post = post.split(' ');
            let fstype = post.next()?;
            let opts = post.nth(1).unwrap_or_default();
            if !mount_point.starts_with(ROOT) || !matches!(fstype, "cgroup" | "cgroup2") {
                return None;
            }
            let options = opts
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains("relatime"))
                .map(String::from)
                .collect();
            Some(Hierarchy {
                mount_point,
                options,
                v2: fstype == "cgroup2",
            })
        })
        .collect()
}

/// A container's cgroup, given the spec's `cgroupsPath` (e.g. `/berth/<id>`).
#[derive(Debug, Clone)]
pub struct Cgroup {
    rel: String,
    version: CgroupVersion,
}

fn read(p: PathBuf) -> Option<String> {
    fs::read_to_string(p).ok()
}

fn read_u64(p: PathBuf) -> Option<u64> {
    read(p)?.trim().parse().ok()
}

/// `key value` files (memory.stat, cpu.stat, memory.events).
fn read_kv(p: PathBuf) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for line in read(p).unwrap_or_default().lines() {
        if let Some((k, v)) = line.split_once(' ') {
            if let Ok(n) = v.trim().parse::<u64>() {
                m.insert(k.to_string(), json!(n));
            }
        }
    }
    m
}

impl Cgroup {
    pub fn new(cgroups_path: &str) -> Cgroup {
        Cgroup {
            rel: cgroups_path.trim_start_matches('/').to_string(),
            version: version(),
        }
    }

    fn v1(&self, controller: &str) -> PathBuf {
        Path::new(ROOT).join(controller).join(&self.rel)
    }

    fn v2(&self) -> PathBuf {
        Path::new(ROOT).join(&self.rel)
    }

    /// Where this cgroup is in each hierarchy.
    fn dirs(&self) -> Vec<PathBuf> {
        hierarchies()
            .into_iter()
            .map(|h| h.mount_point.join(&self.rel))
            .collect()
    }

    /// Removes the cgroup in every hierarchy, child cgroups the container
    /// made first (bottom-up: a cgroup with children cannot be removed).
    /// What is already gone is fine; a cgroup still holding processes stays.
    pub fn remove_tree(&self) {
        if self.rel.is_empty() {
            return;
        }
        for d in self.dirs() {
            remove_bottom_up(&d);
        }
    }

    /// Moves the calling process into this cgroup in the hierarchies the
    /// runtime does not manage (a named `name=systemd` one, hybrid's
    /// cgroup2), so that the container it starts is in its own cgroup
    /// everywhere. Returns where the process was, for `leave`.
    pub fn join_unmanaged(&self) -> std::io::Result<Vec<(PathBuf, String)>> {
        let mut was = Vec::new();
        if self.version == CgroupVersion::V2 {
            return Ok(was);
        }
        let own = read(PathBuf::from("/proc/self/cgroup")).unwrap_or_default();
        for h in hierarchies().into_iter().filter(|h| !h.managed()) {
            let Some(path) = own.lines().find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
                h.is_named_by(ctl).then(|| path.to_string())
            }) else {
                continue;
            };
            let dir = h.mount_point.join(&self.rel);
            fs::create_dir_all(&dir)?;
            fs::write(dir.join("cgroup.procs"), std::process::id().to_string())?;
            was.push((h.mount_point.clone(), path));
        }
        Ok(was)
    }

    pub fn exists(&self) -> bool {
        match self.version {
            CgroupVersion::V1 => self.v1("memory").exists() || self.v1("pids").exists(),
            CgroupVersion::V2 => self.v2().exists(),
        }
    }

    /// PIDs (host view) of every process in the container.
    pub fn pids(&self) -> Vec<i32> {
        let f = match self.version {
            CgroupVersion::V1 => self.v1("pids").join("cgroup.procs"),
            CgroupVersion::V2 => self.v2().join("cgroup.procs"),
        };
        read(f)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Freezes or thaws every process of the container (pause / unpause).
    pub fn freeze(&self, frozen: bool) -> std::io::Result<()> {
        match self.version {
            CgroupVersion::V1 => {
                let f = self.v1("freezer").join("freezer.state");
                let want = if frozen { "FROZEN" } else { "THAWED" };
                fs::write(&f, want)?;
                // Freezing is asynchronous in v1: wait until the kernel says it is done.
                for _ in 0..500 {
                    if fs::read_to_string(&f)?.trim() == want {
                        return Ok(());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(std::io::Error::other(format!(
                    "cgroup did not become {want}"
                )))
            }
            CgroupVersion::V2 => fs::write(
                self.v2().join("cgroup.freeze"),
                if frozen { "1" } else { "0" },
            ),
        }
    }

    /// Applies changed limits to a running container (`docker update`).
    /// Zero fields are left as they are.
    pub fn update(&self, r: &crate::spec::Resources) -> std::io::Result<()> {
        let write = |p: PathBuf, v: String| {
            fs::write(&p, v)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))
        };
        match self.version {
            CgroupVersion::V1 => {
                let mem = self.v1("memory");
                if r.memory > 0 {
                    let swap = if r.memory_swap != 0 {
                        r.memory_swap
                    } else {
                        r.memory * 2
                    };
                    let swap_v = if swap < 0 {
                        "-1".to_string()
                    } else {
                        swap.to_string()
                    };
                    let memsw = mem.join("memory.memsw.limit_in_bytes");
                    // The memory limit may not exceed memory+swap: raise that first when growing.
                    if write(mem.join("memory.limit_in_bytes"), r.memory.to_string()).is_err() {
                        if memsw.exists() {
                            write(memsw.clone(), swap_v.clone())?;
                        }
                        write(mem.join("memory.limit_in_bytes"), r.memory.to_string())?;
                    }
                    if memsw.exists() {
                        write(memsw, swap_v)?;
                    }
                }
                if r.memory_reservation > 0 {
                    write(
                        mem.join("memory.soft_limit_in_bytes"),
                        r.memory_reservation.to_string(),
                    )?;
                }
                if r.cpu_shares > 0 {
                    write(self.v1("cpu").join("cpu.shares"), r.cpu_shares.to_string())?;
                }
                if r.cpu_period > 0 {
                    write(
                        self.v1("cpu").join("cpu.cfs_period_us"),
                        r.cpu_period.to_string(),
                    )?;
                }
                if r.cpu_quota != 0 {
                    write(
                        self.v1("cpu").join("cpu.cfs_quota_us"),
                        r.cpu_quota.to_string(),
                    )?;
                }
                if !r.cpuset_cpus.is_empty() {
                    write(self.v1("cpuset").join("cpuset.cpus"), r.cpuset_cpus.clone())?;
                }
                if let Some(p) = r.pids_limit {
                    write(
                        self.v1("pids").join("pids.max"),
                        if p <= 0 { "max".into() } else { p.to_string() },
                    )?;
                }
            }
            CgroupVersion::V2 => {
                let d = self.v2();
                if r.memory > 0 {
                    write(d.join("memory.max"), r.memory.to_string())?;
                    let swap = match r.memory_swap {
                        0 => r.memory,
                        s if s < 0 => -1,
                        s => s - r.memory,
                    };
                    if d.join("memory.swap.max").exists() {
                        write(
                            d.join("memory.swap.max"),
                            if swap < 0 {
                                "max".into()
                            } else {
                                swap.to_string()
                            },
                        )?;
                    }
                }
                if r.cpu_shares > 0 {
                    write(
                        d.join("cpu.weight"),
                        (1 + ((r.cpu_shares - 2).max(0) * 9999) / 262142).to_string(),
                    )?;
                }
                if r.cpu_quota != 0 || r.cpu_period > 0 {
                    let period = if r.cpu_period > 0 {
                        r.cpu_period
                    } else {
                        100_000
                    };
                    let quota = if r.cpu_quota > 0 {
                        r.cpu_quota.to_string()
                    } else {
                        "max".into()
                    };
                    write(d.join("cpu.max"), format!("{quota} {period}"))?;
                }
                if !r.cpuset_cpus.is_empty() {
                    write(d.join("cpuset.cpus"), r.cpuset_cpus.clone())?;
                }
                if let Some(p) = r.pids_limit {
                    write(
                        d.join("pids.max"),
                        if p <= 0 { "max".into() } else { p.to_string() },
                    )?;
                }
            }
        }
        Ok(())
    }

    /// How many times the kernel's OOM killer acted in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let m = match self.version {
            CgroupVersion::V1 => read_kv(self.v1("memory").join("memory.oom_control")),
            CgroupVersion::V2 => read_kv(self.v2().join("memory.events")),
        };
        m.get("oom_kill").and_then(Value::as_u64).unwrap_or(0)
    }

    /// The `cpu_stats`, `memory_stats` and `pids_stats` parts of a Docker stats object.
    pub fn stats(&self) -> Value {
        let online = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let system = system_cpu_usage();
        match self.version {
            CgroupVersion::V1 => {
                let cpuacct = self.v1("cpuacct");
                let percpu: Vec<u64> = read(cpuacct.join("cpuacct.usage_percpu"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                let ticks = read_kv(cpuacct.join("cpuacct.stat"));
                let tick_ns = 1_000_000_000 / clock_ticks();
                let cpu_stat = read_kv(self.v1("cpu").join("cpu.stat"));
                let mem = self.v1("memory");
                let limit = read_u64(mem.join("memory.limit_in_bytes")).unwrap_or(0);
                json!({
                    "cpu_stats": {
                        "cpu_usage": {
                            "total_usage": read_u64(cpuacct.join("cpuacct.usage")).unwrap_or(0),
                            "percpu_usage": percpu,
                            "usage_in_usermode": ticks.get("user").and_then(Value::as_u64).unwrap_or(0) * tick_ns,
                            "usage_in_kernelmode": ticks.get("system").and_then(Value::as_u64).unwrap_or(0) * tick_ns,
                        },
                        "system_cpu_usage": system,
                        "online_cpus": online,
                        "throttling_data": {
                            "periods": cpu_stat.get("nr_periods").cloned().unwrap_or(json!(0)),
                            "throttled_periods": cpu_stat.get("nr_throttled").cloned().unwrap_or(json!(0)),
                            "throttled_time": cpu_stat.get("throttled_time").cloned().unwrap_or(json!(0)),
                        },
                    },
                    "memory_stats": {
                        "usage": read_u64(mem.join("memory.usage_in_bytes")).unwrap_or(0),
                        "max_usage": read_u64(mem.join("memory.max_usage_in_bytes")).unwrap_or(0),
                        "failcnt": read_u64(mem.join("memory.failcnt")).unwrap_or(0),
                        "limit": limit.min(host_memory()),
                        "stats": read_kv(mem.join("memory.stat")),
                    },
                    "pids_stats": {
                        "current": read_u64(self.v1("pids").join("pids.current")).unwrap_or(0),
                        "limit": read_u64(self.v1("pids").join("pids.max")).unwrap_or(0),
                    },
                    "blkio_stats": blkio_v1(&self.v1("blkio")),
                })
            }
            CgroupVersion::V2 => {
                let d = self.v2();
                let cpu = read_kv(d.join("cpu.stat"));
                let us = |k: &str| cpu.get(k).and_then(Value::as_u64).unwrap_or(0) * 1000;
                let limit = read_u64(d.join("memory.max")).unwrap_or(u64::MAX);
                json!({
                    "cpu_stats": {
                        "cpu_usage": {
                            "total_usage": us("usage_usec"),
                            "usage_in_usermode": us("user_usec"),
                            "usage_in_kernelmode": us("system_usec"),
                        },
                        "system_cpu_usage": system,
                        "online_cpus": online,
                        "throttling_data": {
                            "periods": cpu.get("nr_periods").cloned().unwrap_or(json!(0)),
                            "throttled_periods": cpu.get("nr_throttled").cloned().unwrap_or(json!(0)),
                            "throttled_time": us("throttled_usec"),
                        },
                    },
                    "memory_stats": {
                        "usage": read_u64(d.join("memory.current")).unwrap_or(0),
                        "limit": limit.min(host_memory()),
                        "stats": read_kv(d.join("memory.stat")),
                    },
                    "pids_stats": {
                        "current": read_u64(d.join("pids.current")).unwrap_or(0),
                        "limit": read_u64(d.join("pids.max")).unwrap_or(0),
                    },
                    "blkio_stats": blkio_v2(&read(d.join("io.stat")).unwrap_or_default()),
                })
            }
        }
    }
}

/// One `blkio_stats` entry, as dockerd writes them.
fn blkio_entry(dev: &str, op: &str, value: u64) -> Option<Value> {
    let (major, minor) = dev.split_once(':')?;
    Some(json!({
        "major": major.parse::<u64>().ok()?,
        "minor": minor.parse::<u64>().ok()?,
        "op": op,
        "value": value,
    }))
}

/// cgroup v1 `blkio.throttle.*` lines: `8:0 Read 1234` (the device-less
/// `Total` line left out, as dockerd does). The lists the kernel keeps no
/// data for here (CFQ's queue and time counters) are empty, not null.
fn blkio_v1(dir: &Path) -> Value {
    let entries = |file: &str| -> Vec<Value> {
        read(dir.join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let (dev, op, value) = (f.next()?, f.next()?, f.next()?.parse().ok()?);
                blkio_entry(dev, op, value)
            })
            .collect()
    };
    json!({
        "io_service_bytes_recursive": entries("blkio.throttle.io_service_bytes_recursive"),
        "io_serviced_recursive": entries("blkio.throttle.io_serviced_recursive"),
        "io_queue_recursive": [],
        "io_service_time_recursive": [],
        "io_wait_time_recursive": [],
        "io_merged_recursive": [],
        "io_time_recursive": [],
        "sectors_recursive": [],
    })
}

/// cgroup v2 `io.stat` lines (`8:0 rbytes=… wbytes=… rios=… wios=…`) as
/// dockerd maps them: bytes and operations, read and write, per device;
/// the lists v2 has nothing for are null there too.
fn blkio_v2(io_stat: &str) -> Value {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for line in io_stat.lines() {
        let mut f = line.split_whitespace();
        let Some(dev) = f.next() else { continue };
        let kv: BTreeMap<&str, u64> = f
            .filter_map(|x| x.split_once('='))
            .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
            .collect();
        let get = |k: &str| kv.get(k).copied().unwrap_or(0);
        bytes.extend(blkio_entry(dev, "read", get("rbytes")));
        bytes.extend(blkio_entry(dev, "write", get("wbytes")));
        ios.extend(blkio_entry(dev, "read", get("rios")));
        ios.extend(blkio_entry(dev, "write", get("wios")));
    }
    json!({
        "io_service_bytes_recursive": bytes,
        "io_serviced_recursive": ios,
        "io_queue_recursive": null,
        "io_service_time_recursive": null,
        "io_wait_time_recursive": null,
        "io_merged_recursive": null,
        "io_time_recursive": null,
        "sectors_recursive": null,
    })
}

/// Moves the calling process back to where `join_unmanaged` found it.
pub fn leave(was: &[(PathBuf, String)]) {
    for (mount, path) in was {
        let dir = mount.join(path.trim_start_matches('/'));
        let _ = fs::write(dir.join("cgroup.procs"), std::process::id().to_string());
    }
}

fn remove_bottom_up(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            // Only directories are child cgroups; a cgroup's files are not removable.
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_bottom_up(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Host CPU time in nanoseconds, from the first line of /proc/stat.
pub fn system_cpu_usage() -> u64 {
    let s = read(PathBuf::from("/proc/stat")).unwrap_or_default();
    let ticks: u64 = s
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum();
    ticks * (1_000_000_000 / clock_ticks())
}

pub fn host_memory() -> u64 {
    let s = read(PathBuf::from("/proc/meminfo")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchies_from_mountinfo() {
        let info = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:40 / /mnt/other rw - cgroup cgroup rw,memory
bad line";
        let h = parse_hierarchies(info);
        assert_eq!(h.len(), 3, "{h:?}");
        assert_eq!(h[0].mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(h[0].options, ["cpu", "cpuacct"]);
        assert!(h[0].managed());
        assert_eq!(h[1].options, ["xattr", "name=systemd"]);
        assert!(!h[1].managed());
        assert!(h[1].is_named_by("name=systemd") && !h[1].is_named_by("cpu"));
        assert!(h[2].v2 && !h[2].managed() && h[2].is_named_by(""));
        assert!(h[0].is_named_by("cpu,cpuacct") && !h[0].is_named_by(""));
    }

    #[test]
    fn host_readings() {
        assert!(system_cpu_usage() > 0);
        assert!(host_memory() > 1 << 20);
        let missing = Cgroup::new("/berth-test/does-not-exist");
        assert!(!missing.exists());
        assert!(missing.pids().is_empty());
        assert_eq!(missing.oom_kills(), 0);
    }

    #[test]
    fn blkio_lists_as_dockerd_writes_them() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("blkio.throttle.io_service_bytes_recursive"),
            "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n",
        )
        .unwrap();
        let v1 = blkio_v1(d.path());
        assert_eq!(
            v1["io_service_bytes_recursive"],
            json!([
                {"major": 8, "minor": 0, "op": "Read", "value": 4096},
                {"major": 8, "minor": 0, "op": "Write", "value": 512},
                {"major": 8, "minor": 0, "op": "Total", "value": 4608},
            ])
        );
        assert_eq!(
            v1["io_serviced_recursive"],
            json!([]),
            "no file: empty, not null"
        );
        assert_eq!(v1["sectors_recursive"], json!([]));
        let v2 = blkio_v2("253:1 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\ngarbage\n");
        assert_eq!(
            v2["io_service_bytes_recursive"],
            json!([
                {"major": 253, "minor": 1, "op": "read", "value": 10},
                {"major": 253, "minor": 1, "op": "write", "value": 20},
            ])
        );
        assert_eq!(v2["io_serviced_recursive"][1]["value"], 2);
        assert_eq!(blkio_v2("")["io_serviced_recursive"], json!([]));
    }
}
