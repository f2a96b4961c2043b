//! A container's configuration turned into an OCI runtime spec
//! (https://github.com/opencontainers/runtime-spec/blob/main/config.md), with
//! Docker's defaults: its capability set, mounts, masked and read-only paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBlockIo, LinuxDevice, LinuxDeviceCgroup, LinuxIdMapping, LinuxSeccomp, Mount, PosixRlimit,
};

use crate::error::{Result, RuntimeError};
use crate::user::ResolvedUser;

mod oci;
pub use oci::{bind_mount, build_spec, capability_set, device_rule, mount};

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

/// Every capability, for `--privileged` and `--cap-add ALL`, in the
/// kernel's order (`linux/capability.h`): its position is its number.
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
    /// The container's own mounts (volumes, binds, tmpfs, the `--init`
    /// binary), mounted after Docker's standard ones, in this order.
    pub mounts: Vec<Mount>,
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
    pub seccomp: Option<LinuxSeccomp>,
    /// That section compiled beforehand (`seccomp::precompiled`), for the
    /// built-in runtime to load as it is.
    pub seccomp_program: Option<PathBuf>,
    pub no_new_privileges: bool,
    /// A cgroup namespace of its own (`--cgroupns private`).
    pub cgroupns_private: bool,
    /// `--security-opt writable-cgroups=true`.
    pub writable_cgroups: bool,
    /// `process.rlimits` entries (`--ulimit`).
    pub rlimits: Vec<PosixRlimit>,
    pub oom_score_adj: Option<i64>,
    pub sysctls: BTreeMap<String, String>,
    /// Device nodes to create (`linux.devices`) and the cgroup rules that allow them.
    pub devices: Vec<LinuxDevice>,
    pub device_rules: Vec<LinuxDeviceCgroup>,
    /// `linux.resources.blockIO`, when any blkio option is set.
    pub block_io: Option<LinuxBlockIo>,
    pub ipc: Namespace,
    pub pid: Namespace,
    pub uts: Namespace,
    /// Mount the host's /dev/shm (`--ipc host`) or none (`--ipc none`).
    pub shm: Shm,
    /// A user namespace with these `uidMappings` and `gidMappings` (`userns-remap`).
    pub userns: Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>,
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
            // The built-in profile always converts (seccomp's tests).
            seccomp: Some(
                crate::seccomp::Profile::builtin()
                    .section(&caps, &crate::seccomp::Host::current())
                    .expect("the built-in seccomp profile"),
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

/// The kernel's number for a capability.
fn cap_number(name: &str) -> Option<u32> {
    ALL_CAPS.iter().position(|c| *c == name).map(|n| n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
