//! A container's configuration turned into an OCI runtime spec
//! (https://github.com/opencontainers/runtime-spec/blob/main/config.md), with
//! Docker's defaults: its capability set, mounts, masked and read-only paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Result, RuntimeError};
use crate::user::ResolvedUser;

/// Docker's default capabilities (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability, for `--privileged` and `--cap-add ALL`.
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's default masked paths, as inspect shows them.
pub fn default_masked_paths() -> Vec<String> {
    MASKED_PATHS.iter().map(|p| p.to_string()).collect()
}

/// Docker's default read-only paths, as inspect shows them.
pub fn default_readonly_paths() -> Vec<String> {
    READONLY_PATHS.iter().map(|p| p.to_string()).collect()
}

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Where the container's network namespace comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkNamespace {
    /// The host's own (`--network host`).
    Host,
    /// An existing namespace file, e.g. `/proc/<pid>/ns/net`.
    Path(PathBuf),
    /// A fresh one with only loopback.
    New,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub cpu_shares: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub memory_swappiness: Option<i64>,
}

impl Resources {
    /// Checks limits the way dockerd does before anything is created.
    pub fn validate(&self) -> Result<()> {
        if self.memory != 0 && self.memory < 6 * 1024 * 1024 {
            return Err(RuntimeError::Invalid(
                "Minimum memory limit allowed is 6MB".into(),
            ));
        }
        if self.memory_swap > 0 && self.memory > 0 && self.memory_swap < self.memory {
            return Err(RuntimeError::Invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
            ));
        }
        if self.memory_swap > 0 && self.memory == 0 {
            return Err(RuntimeError::Invalid(
                "You should always set the Memory limit when using Memoryswap limit, see usage"
                    .into(),
            ));
        }
        if self.cpu_period != 0 && !(1000..=1_000_000).contains(&self.cpu_period) {
            return Err(RuntimeError::Invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)".into()));
        }
        if self.cpu_quota > 0 && self.cpu_quota < 1000 {
            return Err(RuntimeError::Invalid(
                "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
            ));
        }
        if self.cpu_shares < 0 {
            return Err(RuntimeError::Invalid(
                "invalid CPU shares: must be positive".into(),
            ));
        }
        if self.cpuset_cpus.contains('\0') || self.cpuset_mems.contains('\0') {
            return Err(RuntimeError::Invalid("invalid cpuset: a NUL byte".into()));
        }
        if !self.cpuset_cpus.is_empty() && !valid_cpu_list(&self.cpuset_cpus) {
            return Err(RuntimeError::Invalid(format!(
                "Invalid value {} for cpuset cpus",
                self.cpuset_cpus
            )));
        }
        if !self.cpuset_mems.is_empty() && !valid_cpu_list(&self.cpuset_mems) {
            return Err(RuntimeError::Invalid(format!(
                "Invalid value {} for cpuset mems",
                self.cpuset_mems
            )));
        }
        // What the kernel would refuse at start (a 500 there), refused here.
        if self.memory < -1 || self.memory_reservation < 0 {
            return Err(RuntimeError::Invalid(format!(
                "invalid memory limit {}: must be positive",
                self.memory.min(self.memory_reservation)
            )));
        }
        if self.memory_swap < -1 {
            return Err(RuntimeError::Invalid(format!(
                "invalid memory swap limit {}: -1 (unlimited) or positive",
                self.memory_swap
            )));
        }
        if self.memory > i64::MAX / 2 && self.memory_swap == 0 {
            return Err(RuntimeError::Invalid(format!(
                "Memory limit {} is too large: the default swap limit is twice the memory limit; set MemorySwap",
                self.memory
            )));
        }
        if self.cpu_quota < -1 {
            return Err(RuntimeError::Invalid(
                "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
            ));
        }
        if self.cpu_quota > MAX_CFS_QUOTA {
            return Err(RuntimeError::Invalid(format!(
                "CPU cfs quota can not be more than {MAX_CFS_QUOTA} (the kernel's limit)"
            )));
        }
        if self.cpu_shares > MAX_CPU_SHARES {
            return Err(RuntimeError::Invalid(format!(
                "invalid CPU shares {}: at most {MAX_CPU_SHARES}",
                self.cpu_shares
            )));
        }
        if let Some(p) = self.pids_limit.filter(|p| *p > MAX_PIDS) {
            return Err(RuntimeError::Invalid(format!(
                "invalid PIDs limit {p}: the kernel allows at most {MAX_PIDS}"
            )));
        }
        if let Some(sw) = self.memory_swappiness.filter(|s| !(-1..=100).contains(s)) {
            return Err(RuntimeError::Invalid(format!(
                "Invalid value: {sw}, valid memory swappiness range is 0-100"
            )));
        }
        Ok(())
    }

    /// `Requested CPUs are not available` as dockerd says it, for CPUs
    /// (or memory nodes) this machine does not have.
    pub fn check_available(&self) -> Result<()> {
        for (list, what, file) in [
            (&self.cpuset_cpus, "CPUs", "/sys/devices/system/cpu/online"),
            (
                &self.cpuset_mems,
                "memory nodes",
                "/sys/devices/system/node/online",
            ),
        ] {
            if list.is_empty() {
                continue;
            }
            let available = std::fs::read_to_string(file).unwrap_or_else(|_| "0".into());
            let available = available.trim();
            let have = cpu_numbers(available);
            if !cpu_numbers(list).iter().all(|c| have.contains(c)) {
                return Err(RuntimeError::Invalid(format!(
                    "Requested {what} are not available - requested {list}, available: {available}"
                )));
            }
        }
        Ok(())
    }
}

/// The kernel's limits on what `execve` takes: one string (MAX_ARG_STRLEN),
/// a path (PATH_MAX), and all of them with the environment (ARG_MAX).
const MAX_ARG_STRLEN: usize = 32 * 4096;
const PATH_MAX: usize = 4096;

/// Refuses a command the kernel could never run, before anything starts.
pub fn check_command(args: &[String], env: &[String]) -> Result<()> {
    let Some(program) = args.first() else {
        return Ok(());
    };
    if program.len() >= PATH_MAX {
        return Err(RuntimeError::Invalid(format!(
            "the command name is {} bytes long: longer than a path can be ({PATH_MAX})",
            program.len()
        )));
    }
    if let Some(a) = args.iter().chain(env).find(|a| a.len() >= MAX_ARG_STRLEN) {
        return Err(RuntimeError::Invalid(format!(
            "an argument or environment entry is {} bytes long: the kernel takes at most {MAX_ARG_STRLEN}",
            a.len()
        )));
    }
    if args.iter().chain(env).any(|a| a.contains('\0')) {
        return Err(RuntimeError::Invalid(
            "an argument or environment entry contains a NUL byte".into(),
        ));
    }
    // SAFETY: sysconf has no preconditions.
    let arg_max = unsafe { libc::sysconf(libc::_SC_ARG_MAX) }.max(PATH_MAX as i64) as usize;
    // Each string costs its bytes, a NUL and a pointer.
    let total: usize = args.iter().chain(env).map(|a| a.len() + 1 + 8).sum();
    if total >= arg_max {
        return Err(RuntimeError::Invalid(format!(
            "argument list too long: {total} bytes with the environment, the kernel takes at most {arg_max}"
        )));
    }
    Ok(())
}

/// cfs_quota_us above 2^44 - 1 µs is refused by the kernel.
const MAX_CFS_QUOTA: i64 = (1 << 44) - 1;
/// cpu.shares' kernel maximum.
const MAX_CPU_SHARES: i64 = 262_144;
/// PID_MAX_LIMIT: pids.max takes no more.
const MAX_PIDS: i64 = 4_194_304;

/// The numbers of a list like `0-3,8`, bounded: `0-999999999` is refused by
/// `check_available` without making a billion numbers.
fn cpu_numbers(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let mut it = part.splitn(2, '-');
        let a = it.next().and_then(|x| x.trim().parse::<u32>().ok());
        let b = it.next().and_then(|x| x.trim().parse::<u32>().ok());
        match (a, b) {
            (Some(a), None) => out.push(a),
            (Some(a), Some(b)) => {
                // Past 4096 CPUs no machine has them; one number stands for the rest.
                out.extend(a..=b.min(a.saturating_add(4096)));
                if b > a.saturating_add(4096) {
                    out.push(b);
                }
            }
            _ => {}
        }
    }
    out
}

fn valid_cpu_list(s: &str) -> bool {
    s.split(',').all(|part| {
        let mut it = part.splitn(2, '-');
        let a = it.next().and_then(|x| x.parse::<u32>().ok());
        match (a, it.next()) {
            (Some(_), None) => true,
            (Some(a), Some(b)) => b.parse::<u32>().is_ok_and(|b| b >= a),
            _ => false,
        }
    })
}

pub struct SpecInput<'a> {
    pub rootfs: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: ResolvedUser,
    pub hostname: String,
    pub tty: bool,
    pub network: NetworkNamespace,
    /// Files bind-mounted over the image's (hosts, hostname, resolv.conf).
    pub etc_files: Vec<(PathBuf, &'static str)>,
    pub resources: Resources,
    pub cgroups_path: String,
    pub readonly_rootfs: bool,
    pub shm_size: i64,
    pub confinement: Confinement,
}

/// How a namespace other than the network's is set up (`--ipc`, `--pid`, `--uts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Namespace {
    /// A new one of the container's own.
    #[default]
    Private,
    /// The host's (the namespace is left out of the spec).
    Host,
    /// Another container's, by its namespace file (`/proc/<pid>/ns/ipc`).
    Join(PathBuf),
}

/// What confines a container: everything the user may loosen or tighten.
/// `Confinement::default()` is Docker's default for an unprivileged container.
#[derive(Debug, Clone)]
pub struct Confinement {
    /// `--privileged`: every device, rw `/sys` and cgroups, no masked paths.
    pub privileged: bool,
    /// `HostConfig.MaskedPaths` / `ReadonlyPaths`; `None`: Docker's defaults.
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    /// The capability set (bounding, effective, permitted), `CAP_…` names.
    pub caps: Vec<String>,
    /// The OCI `linux.seccomp` section; `None` runs unconfined.
    pub seccomp: Option<Value>,
    /// That section compiled beforehand (`seccomp::precompiled`), for the
    /// built-in runtime to load as it is.
    pub seccomp_program: Option<PathBuf>,
    pub no_new_privileges: bool,
    /// A cgroup namespace of its own (`--cgroupns private`).
    pub cgroupns_private: bool,
    /// `--security-opt writable-cgroups=true`.
    pub writable_cgroups: bool,
    /// `process.rlimits` entries (`--ulimit`).
    pub rlimits: Vec<Value>,
    pub oom_score_adj: Option<i64>,
    pub sysctls: BTreeMap<String, String>,
    /// Device nodes to create (`linux.devices`) and the cgroup rules that allow them.
    pub devices: Vec<Value>,
    pub device_rules: Vec<Value>,
    /// `linux.resources.blockIO`, when any blkio option is set.
    pub block_io: Option<Value>,
    pub ipc: Namespace,
    pub pid: Namespace,
    pub uts: Namespace,
    /// Mount the host's /dev/shm (`--ipc host`) or none (`--ipc none`).
    pub shm: Shm,
    /// A user namespace with these `uidMappings` and `gidMappings` (`userns-remap`).
    pub userns: Option<(Value, Value)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Shm {
    #[default]
    Own,
    Host,
    None,
}

impl Default for Confinement {
    fn default() -> Confinement {
        let caps: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
        Confinement {
            privileged: false,
            masked_paths: None,
            readonly_paths: None,
            seccomp: Some(
                crate::seccomp::Profile::builtin().to_oci(&caps, &crate::seccomp::Host::current()),
            ),
            caps,
            seccomp_program: None,
            no_new_privileges: false,
            cgroupns_private: false,
            writable_cgroups: false,
            rlimits: Vec::new(),
            oom_score_adj: None,
            sysctls: BTreeMap::new(),
            devices: Vec::new(),
            device_rules: Vec::new(),
            block_io: None,
            ipc: Namespace::Private,
            pid: Namespace::Private,
            uts: Namespace::Private,
            shm: Shm::Own,
            userns: None,
        }
    }
}

fn normalise_cap(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// The capability set of a container: Docker's default or every
/// capability (`--privileged`), with `--cap-add`/`--cap-drop` applied (names
/// with or without `CAP_`, `ALL`), then limited to what `bounding` (the
/// daemon's own bounding set) holds: no one can grant what it lacks.
pub fn capabilities(
    privileged: bool,
    add: &[String],
    drop: &[String],
    bounding: &[String],
) -> Result<Vec<String>> {
    let known = |c: &str| ALL_CAPS.contains(&c);
    let mut caps: Vec<String> = if privileged {
        ALL_CAPS.iter().map(|s| s.to_string()).collect()
    } else {
        DEFAULT_CAPS.iter().map(|s| s.to_string()).collect()
    };
    for c in add {
        let c = normalise_cap(c);
        if c == "CAP_ALL" {
            caps = ALL_CAPS.iter().map(|s| s.to_string()).collect();
        } else if !known(&c) {
            return Err(RuntimeError::Invalid(format!(
                "invalid CapAdd: unknown capability: \"{c}\""
            )));
        } else if !caps.contains(&c) {
            caps.push(c);
        }
    }
    for c in drop {
        let c = normalise_cap(c);
        if c == "CAP_ALL" {
            caps.clear();
        } else if !known(&c) {
            return Err(RuntimeError::Invalid(format!(
                "invalid CapDrop: unknown capability: \"{c}\""
            )));
        } else {
            caps.retain(|x| *x != c);
        }
    }
    caps.retain(|c| bounding.contains(c));
    Ok(caps)
}

/// The calling process's bounding set, as `CAP_…` names (from /proc).
pub fn own_bounding_set() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(u64::MAX);
    ALL_CAPS
        .iter()
        .filter(|c| cap_number(c).is_some_and(|n| mask & (1 << n) != 0))
        .map(|c| c.to_string())
        .collect()
}

/// The kernel's number for a capability (`linux/capability.h`).
fn cap_number(name: &str) -> Option<u32> {
    // ALL_CAPS is in a different order; this one is the kernel's.
    const ORDER: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    ORDER.iter().position(|c| *c == name).map(|n| n as u32)
}

pub fn build_spec(input: &SpecInput) -> Result<Value> {
    input.resources.validate()?;
    let c = &input.confinement;
    let shm = if input.shm_size > 0 {
        input.shm_size
    } else {
        64 * 1024 * 1024
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        // In a user namespace that does not own its network namespace the
        // kernel refuses a new sysfs: the host's, read-only all the way down
        // (as runc and dockerd do for remapped containers).
        if c.userns.is_some() {
            json!({"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "rro", "nosuid", "noexec", "nodev"]})
        } else {
            json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", if c.privileged { "rw" } else { "ro" }]})
        },
    ];
    mounts.extend(cgroup_mounts(input));
    mounts.push(json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}));
    match c.shm {
        Shm::Own => mounts.push(json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm}")]})),
        Shm::Host => mounts.push(json!({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "rprivate"]})),
        Shm::None => {}
    }
    for (src, dest) in &input.etc_files {
        mounts.push(json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}));
    }
    let mut namespaces = vec![json!({"type": "mount"})];
    for (kind, ns) in [("pid", &c.pid), ("ipc", &c.ipc), ("uts", &c.uts)] {
        match ns {
            Namespace::Private => namespaces.push(json!({"type": kind})),
            Namespace::Host => {}
            Namespace::Join(p) => namespaces.push(json!({"type": kind, "path": p})),
        }
    }
    if c.cgroupns_private {
        namespaces.push(json!({"type": "cgroup"}));
    }
    if c.userns.is_some() {
        namespaces.push(json!({"type": "user"}));
    }
    match &input.network {
        NetworkNamespace::Host => {}
        NetworkNamespace::New => namespaces.push(json!({"type": "network"})),
        NetworkNamespace::Path(p) => namespaces.push(json!({"type": "network", "path": p})),
    }
    let mut resources = resources(&input.resources);
    let mut devices = if c.privileged {
        vec![json!({"allow": true, "access": "rwm"})]
    } else {
        default_device_rules()
    };
    devices.extend(c.device_rules.iter().cloned());
    resources.insert("devices".into(), Value::Array(devices));
    if let Some(b) = &c.block_io {
        resources.insert("blockIO".into(), b.clone());
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "resources": resources,
        "cgroupsPath": input.cgroups_path,
    });
    if !c.privileged {
        linux["maskedPaths"] = match &c.masked_paths {
            Some(p) => json!(p),
            None => json!(MASKED_PATHS),
        };
        linux["readonlyPaths"] = match &c.readonly_paths {
            Some(p) => json!(p),
            None => json!(READONLY_PATHS),
        };
    }
    if let Some(sc) = &c.seccomp {
        linux["seccomp"] = sc.clone();
    }
    if !c.devices.is_empty() {
        linux["devices"] = json!(c.devices);
    }
    if !c.sysctls.is_empty() {
        linux["sysctl"] = json!(c.sysctls);
    }
    if let Some((uids, gids)) = &c.userns {
        linux["uidMappings"] = uids.clone();
        linux["gidMappings"] = gids.clone();
    }
    let mut process = json!({
        "terminal": input.tty,
        "user": {"uid": input.user.uid, "gid": input.user.gid, "additionalGids": input.user.additional_gids},
        "args": input.args,
        "env": input.env,
        "cwd": if input.cwd.is_empty() { "/" } else { input.cwd.as_str() },
        "capabilities": {"bounding": c.caps, "effective": c.caps, "permitted": c.caps},
    });
    // Left out when false: libcontainer loads the seccomp filter before
    // dropping capabilities only when the field is absent.
    if c.no_new_privileges {
        process["noNewPrivileges"] = json!(true);
    }
    if !c.rlimits.is_empty() {
        process["rlimits"] = json!(c.rlimits);
    }
    if let Some(adj) = c.oom_score_adj {
        process["oomScoreAdj"] = json!(adj);
    }
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": input.rootfs, "readonly": input.readonly_rootfs},
        "mounts": mounts,
        "linux": linux,
    });
    if let Some(p) = &c.seccomp_program {
        spec["annotations"] = json!({ libcontainer::seccomp::PRECOMPILED_ANNOTATION: p });
    }
    // Only a UTS namespace of its own can have a name of its own.
    if c.uts != Namespace::Host {
        spec["hostname"] = json!(input.hostname);
    }
    Ok(spec)
}

/// `linux.resources` for the limits, devices aside.
fn resources(r: &Resources) -> serde_json::Map<String, Value> {
    let mut memory = serde_json::Map::new();
    if r.memory > 0 {
        memory.insert("limit".into(), json!(r.memory));
        // Docker: unset swap means swap = 2 x memory; -1 means unlimited.
        let swap = match r.memory_swap {
            0 => r.memory.saturating_mul(2),
            s => s,
        };
        memory.insert("swap".into(), json!(swap));
    }
    if r.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(r.memory_reservation));
    }
    if let Some(sw) = r.memory_swappiness.filter(|s| *s >= 0) {
        memory.insert("swappiness".into(), json!(sw));
    }
    let mut cpu = serde_json::Map::new();
    if r.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(r.cpu_shares));
    }
    if r.cpu_quota != 0 {
        cpu.insert("quota".into(), json!(r.cpu_quota));
    }
    if r.cpu_period != 0 {
        cpu.insert("period".into(), json!(r.cpu_period));
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(r.cpuset_mems));
    }
    let mut resources = serde_json::Map::new();
    if !memory.is_empty() {
        resources.insert("memory".into(), Value::Object(memory));
    }
    if !cpu.is_empty() {
        resources.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = r.pids_limit.filter(|p| *p != 0) {
        resources.insert("pids".into(), json!({"limit": if p < 0 { -1 } else { p }}));
    }
    resources
}

/// `/sys/fs/cgroup` as the container sees it. Unprivileged, it is read-only
/// and shows only the container's own cgroup: on cgroup v1 (and the hybrid
/// layout) a tmpfs holding a read-only bind of the container's cgroup in each
/// hierarchy, then made read-only itself; on v2 a fresh read-only cgroup2
/// mount in the container's cgroup namespace, or a read-only bind of its
/// cgroup without one. Privileged, the runtime mounts them writable.
fn cgroup_mounts(input: &SpecInput) -> Vec<Value> {
    const FLAGS: [&str; 3] = ["nosuid", "noexec", "nodev"];
    let c = &input.confinement;
    let rw = if c.writable_cgroups { "rw" } else { "ro" };
    if c.privileged {
        return vec![
            json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["rw", "nosuid", "noexec", "nodev"]}),
        ];
    }
    let rel = input.cgroups_path.trim_start_matches('/');
    if crate::cgroups::version() == crate::cgroups::CgroupVersion::V2 {
        if c.cgroupns_private {
            return vec![
                json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": [rw, "nosuid", "noexec", "nodev"]}),
            ];
        }
        return vec![
            json!({"destination": "/sys/fs/cgroup", "type": "bind", "source": Path::new("/sys/fs/cgroup").join(rel), "options": ["rbind", rw, "nosuid", "noexec", "nodev"]}),
        ];
    }
    let mut out = vec![
        json!({"destination": "/sys/fs/cgroup", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "nodev", "mode=755"]}),
    ];
    for h in crate::cgroups::hierarchies() {
        if h.mount_point == Path::new("/sys/fs/cgroup") {
            continue;
        }
        out.push(json!({
            "destination": h.mount_point,
            "type": "bind",
            "source": h.mount_point.join(rel),
            "options": ["rbind", rw, FLAGS[0], FLAGS[1], FLAGS[2]],
        }));
    }
    // The tmpfs itself, read-only now that its mount points are made: a bind
    // of it onto itself (before pivot_root the runtime sees it in the root).
    out.push(json!({
        "destination": "/sys/fs/cgroup",
        "type": "bind",
        "source": input.rootfs.join("sys/fs/cgroup"),
        "options": ["rbind", "ro", FLAGS[0], FLAGS[1], FLAGS[2]],
    }));
    out
}

/// Docker's device cgroup allow-list: deny all, then the standard nodes
/// (null, zero, full, random, urandom, tty, console, ptmx, pts, tun).
fn default_device_rules() -> Vec<Value> {
    let allow = |major: i64, minor: Option<i64>| {
        let mut r = json!({"allow": true, "type": "c", "major": major, "access": "rwm"});
        if let Some(m) = minor {
            r["minor"] = json!(m);
        }
        r
    };
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
        (10, 200),
    ] {
        rules.push(allow(major, Some(minor)));
    }
    rules.push(allow(136, None));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(rootfs: &Path) -> SpecInput<'_> {
        let all: Vec<String> = ALL_CAPS.iter().map(|c| c.to_string()).collect();
        SpecInput {
            rootfs,
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            cwd: String::new(),
            user: ResolvedUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![],
                home: "/root".into(),
            },
            hostname: "abc".into(),
            tty: false,
            network: NetworkNamespace::New,
            etc_files: vec![(PathBuf::from("/x/hosts"), "/etc/hosts")],
            resources: Resources {
                memory: 64 << 20,
                pids_limit: Some(10),
                cpu_quota: 50000,
                cpu_period: 100000,
                ..Default::default()
            },
            cgroups_path: "/berth/abc".into(),
            readonly_rootfs: false,
            shm_size: 0,
            confinement: Confinement {
                caps: capabilities(false, &["net_admin".into()], &["MKNOD".into()], &all).unwrap(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn spec_is_valid_oci() {
        let v = build_spec(&input(Path::new("/r"))).unwrap();
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v.clone()).unwrap();
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .as_ref()
            .unwrap()
            .clone();
        assert!(caps.iter().any(|c| c.to_string().contains("NET_ADMIN")));
        assert!(!caps.iter().any(|c| c.to_string().contains("MKNOD")));
        assert_eq!(v["linux"]["resources"]["memory"]["swap"], json!(128 << 20));
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], json!(10));
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        // Absent, not false: libcontainer then loads seccomp with its capabilities.
        assert!(v["process"].get("noNewPrivileges").is_none());
        // Every cgroup mount an unprivileged container gets is read-only.
        let cg: Vec<&Value> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| {
                m["destination"]
                    .as_str()
                    .unwrap()
                    .starts_with("/sys/fs/cgroup")
            })
            .collect();
        assert!(!cg.is_empty());
        for m in cg {
            let opts = m["options"].as_array().unwrap();
            assert!(m["type"] == "tmpfs" || opts.contains(&json!("ro")), "{m}");
        }
    }

    #[test]
    fn capabilities_are_limited_to_the_bounding_set() {
        let some: Vec<String> = vec!["CAP_CHOWN".into(), "CAP_SYS_ADMIN".into()];
        let all = capabilities(true, &[], &[], &some).unwrap();
        assert_eq!(all, some);
        let added = capabilities(false, &["ALL".into()], &["chown".into()], &some).unwrap();
        assert_eq!(added, ["CAP_SYS_ADMIN"]);
        let e = capabilities(false, &["NOT_A_CAP".into()], &[], &some).unwrap_err();
        assert!(e
            .to_string()
            .contains("unknown capability: \"CAP_NOT_A_CAP\""));
        assert_eq!(cap_number("CAP_SYS_RESOURCE"), Some(24));
        assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert!(own_bounding_set().contains(&"CAP_CHOWN".to_string()));
    }

    #[test]
    fn rejects_bad_limits() {
        let d = PathBuf::from("/r");
        let mut i = input(&d);
        i.resources.memory = 1024;
        assert!(build_spec(&i)
            .unwrap_err()
            .to_string()
            .contains("Minimum memory"));
        let mut i = input(&d);
        i.resources.cpuset_cpus = "0-x".into();
        assert!(build_spec(&i).is_err());
    }
}
