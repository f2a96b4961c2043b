//! The one author of a container's `config.json`: `SpecInput` in, a typed
//! `oci_spec::runtime::Spec` out.
//!
//! oci-spec's `Default`s describe youki's sample container (a `sh` process,
//! `RLIMIT_NOFILE` 1024, `noNewPrivileges`, its own mounts, masked paths and
//! hostname): every field a `Default` fills is set here explicitly, so what
//! a container gets is only what this file says.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, Capability, Linux, LinuxCapabilities, LinuxCpu, LinuxDeviceCgroup,
    LinuxDeviceType, LinuxMemory, LinuxNamespace, LinuxNamespaceType, LinuxPids, LinuxResources,
    Mount, Process, Root, Spec, User,
};

use super::{Namespace, NetworkNamespace, Resources, Shm, SpecInput, MASKED_PATHS, READONLY_PATHS};
use crate::error::{Result, RuntimeError};

/// A mount of `kind` from `source` at `destination`.
pub fn mount(
    destination: impl Into<PathBuf>,
    kind: &str,
    source: impl Into<PathBuf>,
    options: &[&str],
) -> Mount {
    let mut m = Mount::default();
    m.set_destination(destination.into());
    m.set_typ(Some(kind.to_string()));
    m.set_source(Some(source.into()));
    m.set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

/// A bind mount of `source` at `destination`.
pub fn bind_mount(
    source: impl Into<PathBuf>,
    destination: impl Into<PathBuf>,
    options: &[&str],
) -> Mount {
    mount(destination, "bind", source, options)
}

const NO_EXEC: [&str; 3] = ["nosuid", "noexec", "nodev"];

pub fn build_spec(input: &SpecInput) -> Result<Spec> {
    input.resources.validate()?;
    let c = &input.confinement;
    let mut spec = Spec::default();
    spec.set_version("1.0.2".into());
    spec.set_root(Some(root(input)));
    spec.set_mounts(Some(mounts(input)));
    spec.set_process(Some(process(input)?));
    // Only a UTS namespace of its own can have a name of its own.
    spec.set_hostname((c.uts != Namespace::Host).then(|| input.hostname.clone()));
    spec.set_annotations(c.seccomp_program.as_ref().map(|p| {
        HashMap::from([(
            libcontainer::seccomp::PRECOMPILED_ANNOTATION.to_string(),
            p.display().to_string(),
        )])
    }));
    spec.set_linux(Some(linux(input)));
    Ok(spec)
}

fn root(input: &SpecInput) -> Root {
    let mut root = Root::default();
    root.set_path(input.rootfs.to_path_buf());
    root.set_readonly(Some(input.readonly_rootfs));
    root
}

fn mounts(input: &SpecInput) -> Vec<Mount> {
    let c = &input.confinement;
    let mut out = vec![
        mount("/proc", "proc", "proc", &NO_EXEC),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        // In a user namespace that does not own its network namespace the
        // kernel refuses a new sysfs: the host's, read-only all the way down
        // (as runc and dockerd do for remapped containers).
        if c.userns.is_some() {
            bind_mount(
                "/sys",
                "/sys",
                &["rbind", "rro", "nosuid", "noexec", "nodev"],
            )
        } else {
            let access = if c.privileged { "rw" } else { "ro" };
            mount(
                "/sys",
                "sysfs",
                "sysfs",
                &["nosuid", "noexec", "nodev", access],
            )
        },
    ];
    out.extend(cgroup_mounts(input));
    out.push(mount("/dev/mqueue", "mqueue", "mqueue", &NO_EXEC));
    let shm = if input.shm_size > 0 {
        input.shm_size
    } else {
        64 * 1024 * 1024
    };
    match c.shm {
        Shm::Own => {
            let size = format!("size={shm}");
            let options = [&NO_EXEC[..], &["mode=1777", &size]].concat();
            out.push(mount("/dev/shm", "tmpfs", "shm", &options));
        }
        Shm::Host => out.push(bind_mount("/dev/shm", "/dev/shm", &["rbind", "rprivate"])),
        Shm::None => {}
    }
    for (src, dest) in &input.etc_files {
        out.push(bind_mount(src, dest, &["rbind", "rprivate"]));
    }
    out.extend(input.mounts.iter().cloned());
    out
}

/// `/sys/fs/cgroup` as the container sees it. Unprivileged, it is read-only
/// and shows only the container's own cgroup: on cgroup v1 (and the hybrid
/// layout) a tmpfs holding a read-only bind of the container's cgroup in each
/// hierarchy, then made read-only itself; on v2 a fresh read-only cgroup2
/// mount in the container's cgroup namespace, or a read-only bind of its
/// cgroup without one. Privileged, the runtime mounts them writable.
fn cgroup_mounts(input: &SpecInput) -> Vec<Mount> {
    let c = &input.confinement;
    let rw = if c.writable_cgroups { "rw" } else { "ro" };
    if c.privileged {
        return vec![mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["rw", "nosuid", "noexec", "nodev"],
        )];
    }
    let rel = input.cgroups_path.trim_start_matches('/');
    let bind = |source: PathBuf, destination: &Path, access: &str| {
        bind_mount(
            source,
            destination,
            &[&["rbind", access][..], &NO_EXEC].concat(),
        )
    };
    if crate::cgroups::version() == crate::cgroups::CgroupVersion::V2 {
        if c.cgroupns_private {
            let options = [&[rw][..], &NO_EXEC].concat();
            return vec![mount("/sys/fs/cgroup", "cgroup", "cgroup", &options)];
        }
        return vec![bind(
            Path::new("/sys/fs/cgroup").join(rel),
            Path::new("/sys/fs/cgroup"),
            rw,
        )];
    }
    let tmpfs = [&NO_EXEC[..], &["mode=755"]].concat();
    let mut out = vec![mount("/sys/fs/cgroup", "tmpfs", "tmpfs", &tmpfs)];
    for h in crate::cgroups::hierarchies() {
        if h.mount_point == Path::new("/sys/fs/cgroup") {
            continue;
        }
        out.push(bind(h.mount_point.join(rel), &h.mount_point, rw));
    }
    // The tmpfs itself, read-only now that its mount points are made: a bind
    // of it onto itself (before pivot_root the runtime sees it in the root).
    out.push(bind(
        input.rootfs.join("sys/fs/cgroup"),
        Path::new("/sys/fs/cgroup"),
        "ro",
    ));
    out
}

fn process(input: &SpecInput) -> Result<Process> {
    let c = &input.confinement;
    let mut user = User::default();
    user.set_uid(input.user.uid);
    user.set_gid(input.user.gid);
    user.set_additional_gids(Some(input.user.additional_gids.clone()));
    let mut p = Process::default();
    p.set_terminal(Some(input.tty));
    p.set_user(user);
    p.set_args(Some(input.args.clone()));
    p.set_env(Some(input.env.clone()));
    p.set_cwd(if input.cwd.is_empty() {
        "/".into()
    } else {
        input.cwd.clone().into()
    });
    p.set_capabilities(Some(capability_set(&c.caps)?));
    // Left out when false: libcontainer loads the seccomp filter before
    // dropping capabilities only when the field is absent.
    p.set_no_new_privileges(c.no_new_privileges.then_some(true));
    p.set_rlimits((!c.rlimits.is_empty()).then(|| c.rlimits.clone()));
    p.set_oom_score_adj(c.oom_score_adj.map(|a| a as i32));
    Ok(p)
}

/// Bounding, effective and permitted: `caps`; inheritable and ambient: none.
pub fn capability_set(caps: &[String]) -> Result<LinuxCapabilities> {
    let set = caps
        .iter()
        .map(|c| {
            c.trim_start_matches("CAP_")
                .parse::<Capability>()
                .map_err(|_| RuntimeError::Invalid(format!("unknown capability: {c:?}")))
        })
        .collect::<Result<Capabilities>>()?;
    let mut out = LinuxCapabilities::default();
    out.set_bounding(Some(set.clone()));
    out.set_effective(Some(set.clone()));
    out.set_permitted(Some(set));
    out.set_inheritable(None);
    out.set_ambient(None);
    Ok(out)
}

fn linux(input: &SpecInput) -> Linux {
    let c = &input.confinement;
    let mut linux = Linux::default();
    linux.set_namespaces(Some(namespaces(input)));
    let mut resources = resources(&input.resources);
    let mut devices = if c.privileged {
        vec![device_rule(true, None, None, None, "rwm")]
    } else {
        default_device_rules()
    };
    devices.extend(c.device_rules.iter().cloned());
    resources.set_devices(Some(devices));
    resources.set_block_io(c.block_io.clone());
    linux.set_resources(Some(resources));
    linux.set_cgroups_path(Some(input.cgroups_path.clone().into()));
    let paths = |given: &Option<Vec<String>>, default: &[&str]| {
        Some(
            given
                .clone()
                .unwrap_or_else(|| default.iter().map(|p| p.to_string()).collect()),
        )
    };
    let (masked, readonly) = if c.privileged {
        (None, None)
    } else {
        (
            paths(&c.masked_paths, MASKED_PATHS),
            paths(&c.readonly_paths, READONLY_PATHS),
        )
    };
    linux.set_masked_paths(masked);
    linux.set_readonly_paths(readonly);
    linux.set_seccomp(c.seccomp.clone());
    linux.set_devices((!c.devices.is_empty()).then(|| c.devices.clone()));
    linux.set_sysctl((!c.sysctls.is_empty()).then(|| {
        c.sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }));
    let (uids, gids) = c.userns.clone().unzip();
    linux.set_uid_mappings(uids);
    linux.set_gid_mappings(gids);
    linux
}

fn namespace(typ: LinuxNamespaceType, path: Option<&Path>) -> LinuxNamespace {
    let mut ns = LinuxNamespace::default();
    ns.set_typ(typ);
    ns.set_path(path.map(Path::to_path_buf));
    ns
}

fn namespaces(input: &SpecInput) -> Vec<LinuxNamespace> {
    let c = &input.confinement;
    let mut out = vec![namespace(LinuxNamespaceType::Mount, None)];
    for (typ, ns) in [
        (LinuxNamespaceType::Pid, &c.pid),
        (LinuxNamespaceType::Ipc, &c.ipc),
        (LinuxNamespaceType::Uts, &c.uts),
    ] {
        match ns {
            Namespace::Private => out.push(namespace(typ, None)),
            Namespace::Host => {}
            Namespace::Join(p) => out.push(namespace(typ, Some(p))),
        }
    }
    if c.cgroupns_private {
        out.push(namespace(LinuxNamespaceType::Cgroup, None));
    }
    if c.userns.is_some() {
        out.push(namespace(LinuxNamespaceType::User, None));
    }
    match &input.network {
        NetworkNamespace::Host => {}
        NetworkNamespace::New => out.push(namespace(LinuxNamespaceType::Network, None)),
        NetworkNamespace::Path(p) => out.push(namespace(LinuxNamespaceType::Network, Some(p))),
    }
    out
}

/// `linux.resources` for the limits, devices aside.
fn resources(r: &Resources) -> LinuxResources {
    let mut memory = LinuxMemory::default();
    if r.memory > 0 {
        memory.set_limit(Some(r.memory));
        // Docker: unset swap means swap = 2 x memory; -1 means unlimited.
        memory.set_swap(Some(match r.memory_swap {
            0 => r.memory.saturating_mul(2),
            s => s,
        }));
    }
    memory.set_reservation((r.memory_reservation > 0).then_some(r.memory_reservation));
    memory.set_swappiness(r.memory_swappiness.filter(|s| *s >= 0).map(|s| s as u64));
    let mut cpu = LinuxCpu::default();
    cpu.set_shares((r.cpu_shares > 0).then_some(r.cpu_shares as u64));
    cpu.set_quota((r.cpu_quota != 0).then_some(r.cpu_quota));
    cpu.set_period((r.cpu_period != 0).then_some(r.cpu_period as u64));
    cpu.set_cpus((!r.cpuset_cpus.is_empty()).then(|| r.cpuset_cpus.clone()));
    cpu.set_mems((!r.cpuset_mems.is_empty()).then(|| r.cpuset_mems.clone()));
    let mut out = LinuxResources::default();
    out.set_memory((memory != LinuxMemory::default()).then_some(memory));
    out.set_cpu((cpu != LinuxCpu::default()).then_some(cpu));
    out.set_pids(r.pids_limit.filter(|p| *p != 0).map(|p| {
        let mut pids = LinuxPids::default();
        pids.set_limit(if p < 0 { -1 } else { p });
        pids
    }));
    out
}

/// A device cgroup rule: `allow` or deny `access` (of `rwm`) on `typ`
/// `major:minor` (`None`: any).
pub fn device_rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(typ);
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// Docker's device cgroup allow-list: deny all, then the standard nodes
/// (null, zero, full, random, urandom, tty, console, ptmx, pts, tun).
fn default_device_rules() -> Vec<LinuxDeviceCgroup> {
    let char_dev =
        |major, minor| device_rule(true, Some(LinuxDeviceType::C), Some(major), minor, "rwm");
    let mut rules = vec![device_rule(false, None, None, None, "rwm")];
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
        rules.push(char_dev(major, Some(minor)));
    }
    rules.push(char_dev(136, None));
    rules
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::{capabilities, Confinement, ALL_CAPS};
    use super::*;
    use crate::user::ResolvedUser;

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
            mounts: vec![bind_mount("/data", "/srv", &["rbind", "ro", "rprivate"])],
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

    fn json_of(spec: &Spec) -> Value {
        serde_json::to_value(spec).unwrap()
    }

    #[test]
    fn the_spec_holds_what_the_input_says_and_nothing_of_oci_specs_defaults() {
        let spec = build_spec(&input(Path::new("/r"))).unwrap();
        let v = json_of(&spec);
        let bounding = v["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert!(bounding.contains(&json!("CAP_NET_ADMIN")));
        assert!(!bounding.contains(&json!("CAP_MKNOD")));
        assert!(v["process"]["capabilities"].get("ambient").is_none());
        assert!(v["process"]["capabilities"].get("inheritable").is_none());
        assert_eq!(v["process"]["args"], json!(["sh"]));
        assert_eq!(v["process"]["env"], json!(["PATH=/bin"]));
        assert_eq!(v["process"]["cwd"], "/");
        // Neither youki's NOFILE 1024 nor its noNewPrivileges: absent, not
        // false, so libcontainer loads seccomp with its capabilities.
        assert!(v["process"].get("rlimits").is_none(), "{}", v["process"]);
        assert!(v["process"].get("noNewPrivileges").is_none());
        assert_eq!(v["hostname"], "abc");
        assert_eq!(v["root"], json!({"path": "/r", "readonly": false}));
        assert!(v.get("annotations").is_none());
        assert_eq!(v["linux"]["resources"]["memory"]["swap"], json!(128 << 20));
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], json!(10));
        assert_eq!(
            v["linux"]["resources"]["cpu"],
            json!({"quota": 50000, "period": 100000})
        );
        assert_eq!(
            v["linux"]["resources"]["devices"][0],
            json!({"allow": false, "access": "rwm"})
        );
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["linux"]["maskedPaths"], json!(MASKED_PATHS));
        assert!(v["linux"].get("uidMappings").is_none());
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["mount", "pid", "ipc", "uts", "network"]);
        // Docker's mounts first, the etc files, then the container's own, last.
        let mounts = v["mounts"].as_array().unwrap();
        assert_eq!(mounts[0]["destination"], "/proc");
        assert_eq!(mounts[mounts.len() - 2]["destination"], "/etc/hosts");
        assert_eq!(
            mounts[mounts.len() - 1],
            json!({"destination": "/srv", "type": "bind", "source": "/data", "options": ["rbind", "ro", "rprivate"]})
        );
        // Every cgroup mount an unprivileged container gets is read-only.
        let cg: Vec<&Value> = mounts
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
        // What libcontainer reads back is what was written.
        let back: Spec = serde_json::from_value(v).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn privileged_host_namespaces_and_a_precompiled_filter() {
        let mut i = input(Path::new("/r"));
        i.confinement.privileged = true;
        i.confinement.uts = Namespace::Host;
        i.confinement.pid = Namespace::Join("/proc/7/ns/pid".into());
        i.confinement.seccomp_program = Some("/cache/x.bpf".into());
        i.confinement.no_new_privileges = true;
        i.network = NetworkNamespace::Host;
        let v = json_of(&build_spec(&i).unwrap());
        assert!(v.get("hostname").is_none());
        assert!(v["linux"].get("maskedPaths").is_none());
        assert!(v["linux"].get("readonlyPaths").is_none());
        assert_eq!(
            v["linux"]["resources"]["devices"],
            json!([{"allow": true, "access": "rwm"}])
        );
        assert_eq!(
            v["linux"]["namespaces"],
            json!([{"type": "mount"}, {"type": "pid", "path": "/proc/7/ns/pid"}, {"type": "ipc"}])
        );
        assert_eq!(v["process"]["noNewPrivileges"], true);
        assert_eq!(
            v["annotations"][libcontainer::seccomp::PRECOMPILED_ANNOTATION],
            "/cache/x.bpf"
        );
    }

    #[test]
    fn every_capability_has_an_oci_name() {
        let all: Vec<String> = ALL_CAPS.iter().map(|c| c.to_string()).collect();
        let set = capability_set(&all).unwrap();
        assert_eq!(set.bounding().as_ref().unwrap().len(), ALL_CAPS.len());
        let e = capability_set(&["CAP_NOPE".into()]).unwrap_err();
        assert_eq!(e.to_string(), "unknown capability: \"CAP_NOPE\"");
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
        assert_eq!(
            build_spec(&i).unwrap_err().to_string(),
            "Invalid value 0-x for cpuset cpus"
        );
    }
}
