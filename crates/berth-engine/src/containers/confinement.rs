//! What confines a container, from its `HostConfig` and the daemon's
//! defaults: `--security-opt` (seccomp, no-new-privileges, AppArmor and
//! SELinux labels, writable cgroups), capabilities limited to the daemon's own
//! bounding set, `--cgroupns`, `--ipc`/`--pid`/`--uts`, `--ulimit`,
//! `--oom-score-adj`, `--sysctl`, `--device`, `--device-cgroup-rule` and the
//! blkio limits. Checked at create (a 400 with dockerd's message, never a 500
//! at start), turned into the runtime's `Confinement` at start.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::Error;
use berth_api::types::{HostConfig, ThrottleDevice, Ulimit};
use berth_runtime::seccomp::{Host, Profile};
use berth_runtime::spec::{capabilities, device_rule, Confinement, Namespace, Shm};
use oci_spec::runtime::{
    LinuxBlockIo, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder, PosixRlimitBuilder, PosixRlimitType,
};

use crate::engine::Engine;
use crate::Result;

/// The daemon-wide seccomp choice (daemon.json `seccomp-profile`).
#[derive(Debug, Clone)]
pub enum DaemonSeccomp {
    Builtin,
    Unconfined,
    /// A profile file, by its path (what `docker info` shows).
    File {
        path: String,
        profile: Profile,
    },
}

/// The daemon's defaults for confinement (daemon.json).
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    pub seccomp: DaemonSeccomp,
    /// `no-new-privileges`: every container gets it unless it says otherwise.
    pub no_new_privileges: bool,
    /// `default-cgroupns-mode`: private (cgroup v2's default) or host (v1's).
    pub cgroupns_private: bool,
    /// `default-ulimits`, by name.
    pub default_ulimits: BTreeMap<String, Ulimit>,
    /// The daemon's own bounding set: no container gets more.
    pub bounding: Vec<String>,
}

impl Default for SecurityConfig {
    fn default() -> SecurityConfig {
        SecurityConfig {
            seccomp: DaemonSeccomp::Builtin,
            no_new_privileges: false,
            cgroupns_private: berth_runtime::cgroups::version()
                == berth_runtime::cgroups::CgroupVersion::V2,
            default_ulimits: BTreeMap::new(),
            bounding: berth_runtime::spec::own_bounding_set(),
        }
    }
}

/// The built-in profile, made once.
fn builtin() -> &'static Profile {
    static PROFILE: std::sync::OnceLock<Profile> = std::sync::OnceLock::new();
    PROFILE.get_or_init(Profile::builtin)
}

/// A container's seccomp choice (`--security-opt seccomp=…`).
#[derive(Debug, Clone)]
enum Seccomp {
    Unconfined,
    Builtin,
    Profile(Box<Profile>),
}

/// `--security-opt`, parsed as dockerd does (`key=value`, the old `key:value`,
/// and the bare `no-new-privileges`).
#[derive(Debug, Clone, Default)]
struct SecurityOpts {
    seccomp: Option<Seccomp>,
    no_new_privileges: Option<bool>,
    writable_cgroups: Option<bool>,
}

fn invalid_opt(n: u8, opt: &str) -> Error {
    Error::bad_request(format!("invalid --security-opt {n}: {opt:?}"))
}

fn parse_bool(opt: &str, v: &str) -> Result<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(invalid_opt(2, opt)),
    }
}

fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts> {
    let mut out = SecurityOpts::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            out.no_new_privileges = Some(true);
            continue;
        }
        // `label=disable`'s short form; SELinux is not enabled here (see below).
        if opt == "disable" {
            continue;
        }
        let (k, v) = opt
            .split_once('=')
            .or_else(|| opt.split_once(':'))
            .ok_or_else(|| invalid_opt(1, opt))?;
        match k {
            "seccomp" => {
                out.seccomp = Some(match v {
                    "unconfined" => Seccomp::Unconfined,
                    "builtin" | "" => Seccomp::Builtin,
                    json => Seccomp::Profile(Box::new(Profile::parse(json).map_err(Error::from)?)),
                })
            }
            "no-new-privileges" => out.no_new_privileges = Some(parse_bool(opt, v)?),
            "writable-cgroups" => out.writable_cgroups = Some(parse_bool(opt, v)?),
            // As dockerd on a host with neither AppArmor nor SELinux enabled:
            // accepted, kept in the record, and without effect.
            "apparmor" | "label" => {}
            _ => return Err(invalid_opt(2, opt)),
        }
    }
    Ok(out)
}

/// Namespace modes as dockerd spells them: `host`, `container:<name|id>`, …
fn ns_mode<'a>(what: &str, mode: &'a str, allowed: &[&str]) -> Result<Option<&'a str>> {
    if let Some(other) = mode.strip_prefix("container:") {
        if other.is_empty() {
            return Err(Error::bad_request(format!("invalid {what} mode: {mode}")));
        }
        return Ok(Some(other));
    }
    if !allowed.contains(&mode) {
        return Err(Error::bad_request(format!("invalid {what} mode: {mode}")));
    }
    Ok(None)
}

const ULIMITS: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

pub fn check_ulimit(u: &Ulimit) -> Result<()> {
    if !ULIMITS.contains(&u.name.as_str()) {
        return Err(Error::bad_request(format!(
            "invalid ulimit type: {}",
            u.name
        )));
    }
    // -1 is "unlimited"; other negative values mean nothing.
    if u.soft < -1 || u.hard < -1 {
        return Err(Error::bad_request(format!(
            "invalid ulimit {}: limits are -1 (unlimited) or positive",
            u.name
        )));
    }
    let unl = |v: i64| if v == -1 { u64::MAX } else { v as u64 };
    if unl(u.soft) > unl(u.hard) {
        return Err(Error::bad_request(format!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            u.soft, u.hard
        )));
    }
    Ok(())
}

/// The namespaced sysctls a container may set (runc's list), and the
/// namespace each needs.
fn sysctl_namespace(key: &str) -> Option<&'static str> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some("ipc")
    } else if key.starts_with("net.") {
        Some("net")
    } else if matches!(key, "kernel.domainname" | "kernel.hostname") {
        Some("uts")
    } else {
        None
    }
}

/// `c 1:3 rwm`, `b *:* m`, `a` — a device cgroup rule.
fn parse_device_rule(rule: &str) -> Result<LinuxDeviceCgroup> {
    let bad = || Error::bad_request(format!("invalid device cgroup rule format: '{rule}'"));
    let parts: Vec<&str> = rule.split_whitespace().collect();
    let (kind, numbers, access) = match parts.as_slice() {
        ["a"] => ("a", "*:*", "rwm"),
        [k, n, a] => (*k, *n, *a),
        _ => return Err(bad()),
    };
    if !matches!(kind, "a" | "b" | "c") {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| -> Result<Option<i64>> {
        match s {
            "*" => Ok(None),
            n => n.parse::<u32>().map(|v| Some(v as i64)).map_err(|_| bad()),
        }
    };
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) || access.len() > 3 {
        return Err(bad());
    }
    Ok(device_rule(
        true,
        Some(device_type(kind)),
        num(major)?,
        num(minor)?,
        access,
    ))
}

fn device_type(kind: &str) -> LinuxDeviceType {
    match kind {
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => LinuxDeviceType::A,
    }
}

/// A host device node: (type, major, minor, mode, uid, gid).
fn device_node(path: &Path) -> Option<(&'static str, u64, u64, u32, u32, u32)> {
    let m = std::fs::metadata(path).ok()?;
    let kind = if m.file_type().is_char_device() {
        "c"
    } else if m.file_type().is_block_device() {
        "b"
    } else {
        return None;
    };
    let rdev = m.rdev();
    Some((
        kind,
        nix::sys::stat::major(rdev),
        nix::sys::stat::minor(rdev),
        m.mode() & 0o777,
        m.uid(),
        m.gid(),
    ))
}

/// Every device node under the host's /dev, for `--privileged` (the
/// pseudo-terminals, shared memory and file descriptors are the container's own).
fn host_devices() -> Vec<(String, LinuxDevice)> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("/dev")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                let skip = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
                if !skip.iter().any(|s| e.file_name() == *s) {
                    stack.push(p);
                }
                continue;
            }
            // Links (/dev/stdin → /proc/self/fd/0) are not devices of their own.
            if ft.is_symlink() || p == Path::new("/dev/console") || p == Path::new("/dev/ptmx") {
                continue;
            }
            if let Some(node) = device_node(&p) {
                let path = p.display().to_string();
                out.push((path.clone(), device(&path, node)));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn device(
    path: &str,
    (kind, major, minor, mode, uid, gid): (&str, u64, u64, u32, u32, u32),
) -> LinuxDevice {
    let mut d = LinuxDevice::default();
    d.set_path(path.into());
    d.set_typ(device_type(kind));
    d.set_major(major as i64);
    d.set_minor(minor as i64);
    d.set_file_mode(Some(mode));
    d.set_uid(Some(uid));
    d.set_gid(Some(gid));
    d
}

/// `--device host[:container][:perms]` (a directory maps every node under it).
fn mapped_devices(hc: &HostConfig) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>)> {
    let mut nodes = Vec::new();
    let mut rules = Vec::new();
    for d in hc.devices.iter().flatten() {
        let perms = if d.cgroup_permissions.is_empty() {
            "rwm"
        } else {
            d.cgroup_permissions.as_str()
        };
        if !perms.chars().all(|c| "rwm".contains(c)) {
            return Err(Error::bad_request(format!("invalid device mode: {perms}")));
        }
        let host = Path::new(&d.path_on_host);
        let in_ctr = if d.path_in_container.is_empty() {
            d.path_on_host.as_str()
        } else {
            d.path_in_container.as_str()
        };
        if !in_ctr.starts_with('/') || in_ctr.contains('\0') {
            return Err(Error::bad_request(format!(
                "invalid device path in container: {in_ctr:?}"
            )));
        }
        let mut found = Vec::new();
        if host.is_dir() {
            for e in walk_dir(host) {
                if let Some(node) = device_node(&e) {
                    let rel = e.strip_prefix(host).unwrap_or(&e);
                    found.push((Path::new(in_ctr).join(rel).display().to_string(), node));
                }
            }
        } else {
            let node = device_node(host).ok_or_else(|| {
                Error::bad_request(format!(
                    "error gathering device information while adding custom device {:?}: not a device node",
                    d.path_on_host
                ))
            })?;
            found.push((in_ctr.to_string(), node));
        }
        for (path, node) in found {
            rules.push(device_rule(
                true,
                Some(device_type(node.0)),
                Some(node.1 as i64),
                Some(node.2 as i64),
                perms,
            ));
            nodes.push(device(&path, node));
        }
    }
    Ok((nodes, rules))
}

fn walk_dir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if !t.is_symlink() => out.push(e.path()),
                _ => {}
            }
        }
    }
    out
}

/// `linux.resources.blockIO` from the blkio options; the weights only where
/// the kernel has them (dockerd discards them with a warning otherwise).
fn block_io(hc: &HostConfig, warnings: &mut Vec<String>) -> Result<Option<LinuxBlockIo>> {
    let weight_supported = [
        "blkio.weight",
        "blkio.bfq.weight",
        "io.weight",
        "io.bfq.weight",
    ]
    .iter()
    .any(|f| {
        Path::new("/sys/fs/cgroup/blkio").join(f).exists()
            || Path::new("/sys/fs/cgroup").join(f).exists()
    });
    let mut b = LinuxBlockIo::default();
    let weighted = hc.blkio_weight != 0
        || hc
            .blkio_weight_device
            .as_ref()
            .is_some_and(|w| !w.is_empty());
    if weighted && !weight_supported {
        warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
    } else {
        b.set_weight((hc.blkio_weight != 0).then_some(hc.blkio_weight as u16));
        let mut wd = Vec::new();
        for w in hc.blkio_weight_device.iter().flatten() {
            let (_, major, minor, ..) = block_device(&w.path)?;
            wd.push(built(
                LinuxWeightDeviceBuilder::default()
                    .major(major as i64)
                    .minor(minor as i64)
                    .weight(w.weight as u16)
                    .build(),
            )?);
        }
        b.set_weight_device((!wd.is_empty()).then_some(wd));
    }
    let throttle =
        |list: &Option<Vec<ThrottleDevice>>| -> Result<Option<Vec<LinuxThrottleDevice>>> {
            let devices = list
                .iter()
                .flatten()
                .map(|t| {
                    let (_, major, minor, ..) = block_device(&t.path)?;
                    built(
                        LinuxThrottleDeviceBuilder::default()
                            .major(major as i64)
                            .minor(minor as i64)
                            .rate(t.rate as u64)
                            .build(),
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((!devices.is_empty()).then_some(devices))
        };
    b.set_throttle_read_bps_device(throttle(&hc.blkio_device_read_bps)?);
    b.set_throttle_write_bps_device(throttle(&hc.blkio_device_write_bps)?);
    b.set_throttle_read_iops_device(throttle(&hc.blkio_device_read_iops)?);
    b.set_throttle_write_iops_device(throttle(&hc.blkio_device_write_iops)?);
    Ok((b != LinuxBlockIo::default()).then_some(b))
}

/// An oci-spec builder's product; its builders fail only on a field left unset.
fn built<T>(made: std::result::Result<T, oci_spec::OciSpecError>) -> Result<T> {
    made.map_err(|e| Error::caused_by("runtime spec", e))
}

fn block_device(path: &str) -> Result<(&'static str, u64, u64, u32, u32, u32)> {
    match device_node(Path::new(path)) {
        Some(n) if n.0 == "b" => Ok(n),
        _ => Err(Error::bad_request(format!(
            "invalid device {path:?}: not a block device"
        ))),
    }
}

/// Checks the confinement options of a new or updated container as dockerd
/// does; returns its warnings.
pub fn validate(hc: &HostConfig, hostname: &str) -> Result<Vec<String>> {
    parse_security_opts(hc.security_opt.as_deref().unwrap_or(&[]))?;
    if !matches!(hc.cgroupns_mode.as_str(), "" | "private" | "host") {
        return Err(Error::bad_request(format!(
            "invalid cgroup namespace mode: {}",
            hc.cgroupns_mode
        )));
    }
    ns_mode(
        "IPC",
        &hc.ipc_mode,
        &["", "none", "private", "shareable", "host"],
    )?;
    ns_mode("PID", &hc.pid_mode, &["", "host"])?;
    if !matches!(hc.uts_mode.as_str(), "" | "host") {
        return Err(Error::bad_request(format!(
            "invalid UTS mode: {}",
            hc.uts_mode
        )));
    }
    if hc.uts_mode == "host" && !hostname.is_empty() {
        return Err(Error::bad_request(
            "conflicting options: hostname and the UTS mode",
        ));
    }
    if !(-1000..=1000).contains(&hc.oom_score_adj) {
        return Err(Error::bad_request(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            hc.oom_score_adj
        )));
    }
    for u in hc.ulimits.iter().flatten() {
        check_ulimit(u)?;
    }
    for (k, v) in hc.sysctls.iter().flatten() {
        if k.contains('\0') || v.contains('\0') || k.contains('/') || k.contains("..") {
            return Err(Error::bad_request(format!("invalid sysctl {k:?}")));
        }
        match sysctl_namespace(k) {
            None => {
                return Err(Error::bad_request(format!(
                    "sysctl {k:?} is not in a separate kernel namespace"
                )))
            }
            Some("net") if hc.network_mode == "host" => {
                return Err(Error::bad_request(format!(
                    "sysctl {k:?} not allowed in host network namespace"
                )))
            }
            Some("ipc") if hc.ipc_mode == "host" => {
                return Err(Error::bad_request(format!(
                    "sysctl {k:?} is not allowed in host IPC namespace"
                )))
            }
            Some("uts") if hc.uts_mode == "host" => {
                return Err(Error::bad_request(format!(
                    "sysctl {k:?} is not allowed in host UTS namespace"
                )))
            }
            _ => {}
        }
    }
    for r in hc.device_cgroup_rules.iter().flatten() {
        parse_device_rule(r)?;
    }
    if hc.blkio_weight != 0 && !(10..=1000).contains(&hc.blkio_weight) {
        return Err(Error::bad_request(
            "Range of blkio weight is from 10 to 1000",
        ));
    }
    for w in hc.blkio_weight_device.iter().flatten() {
        if !(10..=1000).contains(&w.weight) {
            return Err(Error::bad_request(
                "Range of blkio weight is from 10 to 1000",
            ));
        }
    }
    for list in [
        &hc.blkio_device_read_bps,
        &hc.blkio_device_write_bps,
        &hc.blkio_device_read_iops,
        &hc.blkio_device_write_iops,
    ] {
        if list.iter().flatten().any(|t| t.rate < 0) {
            return Err(Error::bad_request(
                "invalid rate: a device rate cannot be negative",
            ));
        }
    }
    mapped_devices(hc)?;
    let mut warnings = Vec::new();
    block_io(hc, &mut warnings)?;
    Ok(warnings)
}

impl Engine {
    /// Compiles the filter most containers get (the default profile with the
    /// default capabilities) in the background, so the first `run` after a
    /// start does not wait for it.
    pub(crate) fn precompile_default_seccomp(&self) {
        let Ok(caps) = capabilities(false, &[], &[], &self.cfg.security.bounding) else {
            return;
        };
        let profile = match &self.cfg.security.seccomp {
            DaemonSeccomp::Builtin => builtin().clone(),
            DaemonSeccomp::File { profile, .. } => profile.clone(),
            DaemonSeccomp::Unconfined => return,
        };
        let cache = self.cfg.exec_root.join("seccomp");
        std::thread::spawn(move || {
            let made = profile
                .section(&caps, &Host::current())
                .and_then(|s| berth_runtime::seccomp::precompiled(&s, &cache));
            if let Err(e) = made {
                tracing::warn!("precompile the default seccomp filter: {e}");
            }
        });
    }

    /// The runtime's `Confinement` for a container about to start.
    pub(crate) fn confinement(&self, hc: &HostConfig) -> Result<Confinement> {
        let sec = &self.cfg.security;
        let opts = parse_security_opts(hc.security_opt.as_deref().unwrap_or(&[]))?;
        let caps = capabilities(
            hc.privileged,
            hc.cap_add.as_deref().unwrap_or(&[]),
            hc.cap_drop.as_deref().unwrap_or(&[]),
            &sec.bounding,
        )
        .map_err(Error::from)?;
        let host = Host::current();
        let seccomp = match (&opts.seccomp, &sec.seccomp) {
            // As in Docker: --privileged runs unconfined.
            _ if hc.privileged => None,
            (Some(Seccomp::Unconfined), _) => None,
            (Some(Seccomp::Profile(p)), _) => Some(p.section(&caps, &host)?),
            (Some(Seccomp::Builtin), _) | (None, DaemonSeccomp::Builtin) => {
                Some(builtin().section(&caps, &host)?)
            }
            (None, DaemonSeccomp::Unconfined) => None,
            (None, DaemonSeccomp::File { profile, .. }) => Some(profile.section(&caps, &host)?),
        };
        let mut ulimits = sec.default_ulimits.clone();
        for u in hc.ulimits.iter().flatten() {
            ulimits.insert(u.name.clone(), u.clone());
        }
        let as_limit = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
        let rlimits = ulimits
            .values()
            .map(|u| {
                let name = format!("RLIMIT_{}", u.name.to_ascii_uppercase());
                let typ = name
                    .parse::<PosixRlimitType>()
                    .map_err(|_| Error::bad_request(format!("invalid ulimit type: {}", u.name)))?;
                built(
                    PosixRlimitBuilder::default()
                        .typ(typ)
                        .soft(as_limit(u.soft))
                        .hard(as_limit(u.hard))
                        .build(),
                )
            })
            .collect::<Result<_>>()?;
        let (mut devices, mut device_rules) = mapped_devices(hc)?;
        if hc.privileged {
            devices = host_devices().into_iter().map(|(_, d)| d).collect();
        }
        for r in hc.device_cgroup_rules.iter().flatten() {
            device_rules.push(parse_device_rule(r)?);
        }
        let join = |what: &str, other: &str| -> Result<Namespace> {
            let h = self.container(other)?;
            let r = h.record();
            if !r.state.has_process() {
                return Err(Error::conflict(format!(
                    "cannot join {what} of a non running container: {}",
                    r.id
                )));
            }
            Ok(Namespace::Join(
                format!("/proc/{}/ns/{what}", r.state.pid).into(),
            ))
        };
        let ipc = match ns_mode(
            "IPC",
            &hc.ipc_mode,
            &["", "none", "private", "shareable", "host"],
        )? {
            Some(other) => join("ipc", other)?,
            None if hc.ipc_mode == "host" => Namespace::Host,
            None => Namespace::Private,
        };
        let pid = match ns_mode("PID", &hc.pid_mode, &["", "host"])? {
            Some(other) => join("pid", other)?,
            None if hc.pid_mode == "host" => Namespace::Host,
            None => Namespace::Private,
        };
        let uts = if hc.uts_mode == "host" {
            Namespace::Host
        } else {
            Namespace::Private
        };
        let shm = match hc.ipc_mode.as_str() {
            "host" => Shm::Host,
            "none" => Shm::None,
            _ => Shm::Own,
        };
        let mut ignored = Vec::new();
        let seccomp_program = match &seccomp {
            Some(s) => berth_runtime::seccomp::precompiled(s, &self.cfg.exec_root.join("seccomp"))
                .map_err(Error::from)?,
            None => None,
        };
        Ok(Confinement {
            privileged: hc.privileged,
            masked_paths: hc.masked_paths.clone(),
            readonly_paths: hc.readonly_paths.clone(),
            caps,
            seccomp,
            seccomp_program,
            no_new_privileges: opts.no_new_privileges.unwrap_or(sec.no_new_privileges),
            cgroupns_private: match hc.cgroupns_mode.as_str() {
                "private" => true,
                "host" => false,
                _ => sec.cgroupns_private,
            },
            writable_cgroups: opts.writable_cgroups.unwrap_or(false),
            rlimits,
            oom_score_adj: (hc.oom_score_adj != 0).then_some(hc.oom_score_adj),
            sysctls: hc.sysctls.clone().unwrap_or_default(),
            devices,
            device_rules,
            block_io: block_io(hc, &mut ignored)?,
            ipc,
            pid,
            uts,
            shm,
            userns: self
                .remap_of(hc)
                .map(|r| r.oci_mappings())
                .transpose()
                .map_err(Error::from)?,
        })
    }
}

#[cfg(test)]
mod tests;
