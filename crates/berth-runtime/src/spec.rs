//! A container's configuration turned into an OCI runtime spec
//! (https://github.com/opencontainers/runtime-spec/blob/main/config.md), with
//! Docker's defaults: its capability set, mounts, masked and read-only paths.

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
        if !self.cpuset_cpus.is_empty() && !valid_cpu_list(&self.cpuset_cpus) {
            return Err(RuntimeError::Invalid(format!(
                "Invalid value {} for cpuset cpus",
                self.cpuset_cpus
            )));
        }
        Ok(())
    }
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
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub shm_size: i64,
}

fn normalise_cap(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

pub fn capabilities(privileged: bool, add: &[String], drop: &[String]) -> Result<Vec<String>> {
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
                "unknown capability: \"{c}\""
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
                "unknown capability: \"{c}\""
            )));
        } else {
            caps.retain(|x| *x != c);
        }
    }
    Ok(caps)
}

pub fn build_spec(input: &SpecInput) -> Result<Value> {
    input.resources.validate()?;
    let caps = capabilities(input.privileged, &input.cap_add, &input.cap_drop)?;
    let shm = if input.shm_size > 0 {
        input.shm_size
    } else {
        64 * 1024 * 1024
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", if input.privileged { "rw" } else { "ro" }]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm}")]}),
    ];
    for (src, dest) in &input.etc_files {
        mounts.push(json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}));
    }
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    match &input.network {
        NetworkNamespace::Host => {}
        NetworkNamespace::New => namespaces.push(json!({"type": "network"})),
        NetworkNamespace::Path(p) => namespaces.push(json!({"type": "network", "path": p})),
    }
    let r = &input.resources;
    let mut memory = serde_json::Map::new();
    if r.memory > 0 {
        memory.insert("limit".into(), json!(r.memory));
        // Docker: unset swap means swap = 2 x memory; -1 means unlimited.
        let swap = match r.memory_swap {
            0 => r.memory * 2,
            s => s,
        };
        memory.insert("swap".into(), json!(swap));
    }
    if r.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(r.memory_reservation));
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
    resources.insert(
        "devices".into(),
        if input.privileged {
            json!([{"allow": true, "access": "rwm"}])
        } else {
            default_device_rules()
        },
    );
    if !memory.is_empty() {
        resources.insert("memory".into(), Value::Object(memory));
    }
    if !cpu.is_empty() {
        resources.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = r.pids_limit.filter(|p| *p != 0) {
        resources.insert("pids".into(), json!({"limit": if p < 0 { -1 } else { p }}));
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "resources": resources,
        "cgroupsPath": input.cgroups_path,
    });
    if !input.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": input.tty,
            "user": {"uid": input.user.uid, "gid": input.user.gid, "additionalGids": input.user.additional_gids},
            "args": input.args,
            "env": input.env,
            "cwd": if input.cwd.is_empty() { "/" } else { input.cwd.as_str() },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": false,
        },
        "root": {"path": input.rootfs, "readonly": input.readonly_rootfs},
        "hostname": input.hostname,
        "mounts": mounts,
        "linux": linux,
    }))
}

/// Docker's device cgroup allow-list: deny all, then the standard nodes.
fn default_device_rules() -> Value {
    json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
        {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
        {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
        {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
        {"allow": true, "type": "c", "major": 136, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(rootfs: &Path) -> SpecInput<'_> {
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
            privileged: false,
            cap_add: vec!["net_admin".into()],
            cap_drop: vec!["MKNOD".into()],
            shm_size: 0,
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
    }

    #[test]
    fn rejects_bad_limits_and_caps() {
        let d = PathBuf::from("/r");
        let mut i = input(&d);
        i.resources.memory = 1024;
        assert!(build_spec(&i)
            .unwrap_err()
            .to_string()
            .contains("Minimum memory"));
        let mut i = input(&d);
        i.cap_add = vec!["NOT_A_CAP".into()];
        assert!(build_spec(&i).is_err());
        let mut i = input(&d);
        i.resources.cpuset_cpus = "0-x".into();
        assert!(build_spec(&i).is_err());
    }
}
