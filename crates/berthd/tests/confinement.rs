//! Containers confined as Docker's are: hostile images (made by hand and
//! `docker import`ed) and hostile flags, driven through the real docker CLI.
//! Each test asserts the refusal or the confinement, and that nothing
//! changed on the host (marker paths, cgroup trees, owners).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// A path under /tmp no other test uses, removed on drop.
struct Marker(PathBuf);

impl Marker {
    fn new(what: &str) -> Marker {
        Marker(PathBuf::from(format!(
            "/tmp/berth-marker-{what}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )))
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What a hand-made image adds to busybox's root.
enum Extra<'a> {
    Link(&'a str, &'a str),
    /// An executable file.
    Program(&'a str, &'a [u8]),
}

/// Imports busybox's root plus `extra` as `name`, with `docker import -c` changes.
fn hostile_image(d: &Daemon, name: &str, extra: &[Extra], changes: &[&str]) {
    let mut b = tar::Builder::new(Vec::new());
    let mut base = tar::Archive::new(std::fs::File::open(busybox_tar()).unwrap());
    let replaced: Vec<&str> = extra
        .iter()
        .map(|e| match e {
            Extra::Link(p, _) | Extra::Program(p, _) => *p,
        })
        .collect();
    for e in base.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        if replaced.contains(&path.trim_start_matches("./")) {
            continue;
        }
        let h = e.header().clone();
        b.append(&h, &mut e).unwrap();
    }
    for x in extra {
        let mut h = tar::Header::new_gnu();
        match x {
            Extra::Link(path, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, path, target).unwrap();
            }
            Extra::Program(path, data) => {
                h.set_size(data.len() as u64);
                h.set_mode(0o755);
                b.append_data(&mut h, path, *data).unwrap();
            }
        }
    }
    let tar = b.into_inner().unwrap();
    let mut args = vec!["import"];
    for c in changes {
        args.extend(["-c", c]);
    }
    args.extend(["-", name]);
    assert_ok(&d.docker_stdin(&args, &tar));
}

#[test]
fn working_directory_stays_inside_the_root() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // `..` climbing out of the root is cleaned away, as dockerd does.
    let m = Marker::new("wd");
    let climb = format!("/../../../../../..{}", m.path());
    let out = d.docker(&["run", "--rm", "-w", &climb, "busybox", "pwd"]);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), m.path());
    assert!(!m.0.exists(), "{} was created on the host", m.path());

    // A WorkingDir through the image's own link to /tmp, with a user of its own.
    let m = Marker::new("wd-link");
    let name = m.0.file_name().unwrap().to_str().unwrap().to_string();
    hostile_image(
        &d,
        "evil-wd",
        &[Extra::Link("evil", "/tmp")],
        &[&format!("WORKDIR /evil/{name}"), "USER 4242:4242"],
    );
    let out = d.docker(&["run", "--rm", "evil-wd", "sh", "-c", "pwd; stat -c %u:%g ."]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        [m.path(), "0:0"],
        "the kernel names the directory inside the root"
    );
    assert!(!m.0.exists(), "{} was created on the host", m.path());
    // No directory owned by that user appeared anywhere in the host's /tmp.
    for e in std::fs::read_dir("/tmp").unwrap().flatten() {
        if let Ok(meta) = e.metadata() {
            assert_ne!(meta.uid(), 4242, "{} is owned by 4242", e.path().display());
        }
    }

    // A NUL byte is a 400 at create, not a 500 at start.
    let (status, body) = raw_http(
        &d.socket,
        "POST",
        "/v1.47/containers/create",
        "application/json",
        br#"{"Image":"busybox","WorkingDir":"/a\u0000b"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("NUL"), "{body}");
}

#[test]
fn user_lookup_reads_only_the_containers_files() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // Host files that would give the image a user and a group if followed.
    let passwd = Marker::new("passwd");
    std::fs::write(&passwd.0, "evil:x:4242:4242::/host-home:/bin/sh\n").unwrap();
    let group = Marker::new("group");
    std::fs::write(&group.0, "evilgrp:x:4343:\n").unwrap();
    hostile_image(
        &d,
        "evil-users",
        &[
            Extra::Link("etc/passwd", passwd.path()),
            Extra::Link("etc/group", group.path()),
        ],
        &[],
    );
    let out = d.docker(&["run", "--rm", "--user", "evil", "evil-users", "id"]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unable to find user evil: no matching entries in passwd file"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["run", "--rm", "--user", "0:evilgrp", "evil-users", "id"]);
    assert!(
        stderr(&out).contains("unable to find group evilgrp"),
        "{}",
        stderr(&out)
    );
    // Numeric users need no file; HOME is not the host's.
    let out = d.docker(&[
        "run",
        "--rm",
        "--user",
        "4242",
        "evil-users",
        "sh",
        "-c",
        "id -u; echo $HOME",
    ]);
    assert_ok(&out);
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), ["4242", "/"]);

    // exec -u resolves inside the running container's root too.
    let out = d.docker(&["run", "-d", "--name", "usr", "evil-users", "sleep", "30"]);
    assert_ok(&out);
    // (The error arrives on the hijacked stream, so on stdout, as with dockerd.)
    let out = d.docker(&["exec", "-u", "evil", "usr", "id"]);
    assert_eq!(code(&out), 126);
    assert!(
        stdout(&out).contains("unable to find user evil"),
        "{}",
        stdout(&out)
    );
    // A FIFO at /etc/passwd made inside must not hang the daemon.
    assert_ok(&d.docker(&[
        "exec",
        "usr",
        "sh",
        "-c",
        "rm /etc/passwd; mkfifo /etc/passwd",
    ]));
    let out = d.docker(&["exec", "-u", "nobody", "usr", "id"]);
    assert_eq!(code(&out), 126);
    assert!(
        stdout(&out).contains("/etc/passwd: not a regular file"),
        "{}",
        stdout(&out)
    );
    assert_ok(&d.docker(&["rm", "-f", "usr"]));
    assert_eq!(
        std::fs::read_to_string(&passwd.0).unwrap(),
        "evil:x:4242:4242::/host-home:/bin/sh\n"
    );
}

#[test]
fn mounts_and_etc_files_land_inside_the_root() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // A host directory with a secret, and host files the image's links name.
    let dir = Marker::new("copyup");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join("secret"), "host secret").unwrap();
    let hosts = Marker::new("hosts");
    std::fs::write(&hosts.0, "host file\n").unwrap();
    let hostname = Marker::new("hostname");
    hostile_image(
        &d,
        "evil-mounts",
        &[
            Extra::Link("data", dir.path()),
            Extra::Link("etc/hosts", hosts.path()),
            Extra::Link("etc/hostname", hostname.path()),
        ],
        &["VOLUME /data"],
    );
    // The anonymous volume's copy-up must copy the image's content, not the host's.
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        "cu:/data",
        "--hostname",
        "inside",
        "evil-mounts",
        "sh",
        "-c",
        "ls -A /data; echo ---; cat /etc/hostname; grep -c inside /etc/hosts",
    ]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        ["---", "inside", "1"],
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&hosts.0).unwrap(), "host file\n");
    assert!(
        !hostname.0.exists(),
        "{} was created on the host",
        hostname.path()
    );
    assert_eq!(
        std::fs::read_dir(&dir.0).unwrap().count(),
        1,
        "the host directory changed"
    );
    let vol = d.docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", "cu"]);
    let vol = stdout(&vol).trim().to_string();
    assert!(!Path::new(&vol).join("secret").exists());
}

/// `fixtures/syscall-probe.c`, built statically once into the target directory.
fn syscall_probe() -> &'static [u8] {
    static PROBE: OnceLock<Vec<u8>> = OnceLock::new();
    PROBE.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/syscall-probe.c");
        let out = bin_dir().join(format!("syscall-probe-{}", std::process::id()));
        let cc = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(&src)
            .output()
            .expect("gcc");
        assert!(cc.status.success(), "gcc: {}", stderr(&cc));
        let bytes = std::fs::read(&out).unwrap();
        let _ = std::fs::remove_file(&out);
        bytes
    })
}

/// `probe` in a container made with `flags`: name → result.
fn probes(
    d: &Daemon,
    flags: &[&str],
    names: &[&str],
) -> std::collections::BTreeMap<String, String> {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["probe", "/bin/syscall-probe"]);
    args.extend_from_slice(names);
    let out = d.docker(&args);
    assert_ok(&out);
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn status_field(d: &Daemon, flags: &[&str], field: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["busybox", "grep", field, "/proc/self/status"]);
    let out = d.docker(&args);
    assert_ok(&out);
    stdout(&out)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn seccomp_default_profile_rule_by_rule() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    hostile_image(
        &d,
        "probe",
        &[Extra::Program("bin/syscall-probe", syscall_probe())],
        &[],
    );
    assert_eq!(status_field(&d, &[], "Seccomp:"), "2");
    let all = [
        "unshare_user",
        "unshare_ns",
        "clone_plain",
        "clone_ns",
        "clone3",
        "add_key",
        "keyctl",
        "bpf",
        "perf_event_open",
        "personality_query",
        "personality_other",
        "socket_vsock",
        "socket_inet",
        "mount",
        "settimeofday_bad",
        "userfaultfd",
        "reboot_bad",
        "open_by_handle_at",
        "kexec_load",
        "ptrace",
        "chroot",
        "setns",
        "syslog",
    ];
    let got = probes(&d, &[], &all);
    let want = [
        // Namespaces: no new ones without CAP_SYS_ADMIN, whatever the call.
        ("unshare_user", "EPERM"),
        ("unshare_ns", "EPERM"),
        ("clone_plain", "ok"),
        ("clone_ns", "EPERM"),
        // clone3's flags cannot be checked: ENOSYS makes libcs fall back to clone.
        ("clone3", "ENOSYS"),
        // Keys, BPF, perf, userfaultfd, kexec, reboot, syslog: not for containers.
        ("add_key", "EPERM"),
        ("keyctl", "EPERM"),
        ("bpf", "EPERM"),
        ("perf_event_open", "EPERM"),
        ("userfaultfd", "EPERM"),
        ("kexec_load", "EPERM"),
        ("reboot_bad", "EPERM"),
        ("syslog", "EPERM"),
        ("open_by_handle_at", "EPERM"),
        ("setns", "EPERM"),
        ("mount", "EPERM"),
        ("settimeofday_bad", "EPERM"),
        // Only the harmless personalities; every socket family but vsock.
        ("personality_query", "ok"),
        ("personality_other", "EPERM"),
        ("socket_vsock", "EPERM"),
        ("socket_inet", "ok"),
        // What the default capabilities allow stays allowed.
        ("ptrace", "ok"),
        ("chroot", "ok"),
    ];
    for (k, v) in want {
        assert_eq!(got.get(k).map(String::as_str), Some(v), "{k}: {got:?}");
    }

    // --cap-add opens the groups Docker opens, and the kernel answers.
    let got = probes(
        &d,
        &["--cap-add", "SYS_ADMIN"],
        &["unshare_ns", "clone_ns", "clone3", "mount", "setns", "bpf"],
    );
    assert_eq!(got["unshare_ns"], "ok");
    assert_eq!(got["clone_ns"], "ok");
    assert_eq!(
        got["clone3"], "EINVAL",
        "the kernel's answer, not the filter's"
    );
    assert_eq!(got["mount"], "ok");
    assert_eq!(got["setns"], "EBADF");
    assert_ne!(got["bpf"], "EPERM");
    let got = probes(&d, &["--cap-add", "CAP_SYS_TIME"], &["settimeofday_bad"]);
    assert_eq!(got["settimeofday_bad"], "EINVAL");
    let got = probes(&d, &["--cap-drop", "SYS_CHROOT"], &["chroot"]);
    assert_eq!(got["chroot"], "EPERM");

    // Unconfined and privileged: no filter at all.
    for flags in [
        &["--security-opt", "seccomp=unconfined"][..],
        &["--privileged"],
    ] {
        let got = probes(
            &d,
            flags,
            &["add_key", "personality_other", "socket_vsock", "clone3"],
        );
        assert_eq!(got["add_key"], "ok", "{flags:?}");
        assert_eq!(got["personality_other"], "ok", "{flags:?}");
        assert_ne!(got["socket_vsock"], "EPERM", "{flags:?}");
        assert_eq!(got["clone3"], "EINVAL", "{flags:?}");
    }
    assert_eq!(
        status_field(&d, &["--security-opt", "seccomp=unconfined"], "Seccomp:"),
        "0"
    );

    // The filter was compiled once, by berthd, for the containers' inits to load.
    let programs: Vec<_> = std::fs::read_dir(d.exec_root().join("seccomp"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "bpf"))
        .collect();
    assert!(!programs.is_empty());
    // An exec gets the container's filter too.
    assert_ok(&d.docker(&["run", "-d", "--name", "sc", "busybox", "sleep", "30"]));
    let out = d.docker(&["exec", "sc", "grep", "Seccomp:", "/proc/self/status"]);
    assert_eq!(stdout(&out).split_whitespace().nth(1), Some("2"));
    assert_ok(&d.docker(&["rm", "-f", "sc"]));
}

#[test]
fn seccomp_profiles_from_files_and_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    // Docker's format: deny mkdir with EACCES, allow everything else.
    let profile = dir.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#).unwrap();
    let d = Daemon::start();
    d.import_busybox("busybox");
    let opt = format!("seccomp={}", profile.display());
    let out = d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "mkdir",
        "/tmp/x",
    ]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    let opt = format!("seccomp={}", bad.display());
    let out = d.docker(&["run", "--rm", "--security-opt", &opt, "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(
        stderr(&out).contains("unrecognized default action"),
        "{}",
        stderr(&out)
    );
    let info = d.docker(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert_eq!(stdout(&info).trim(), r#"["name=seccomp,profile=builtin"]"#);
    drop(d);

    // daemon.json seccomp-profile: every container gets it, and info says so.
    let d = Daemon::start_with(
        serde_json::json!({"seccomp-profile": profile, "no-new-privileges": true}),
    );
    d.import_busybox("busybox");
    let out = d.docker(&["run", "--rm", "busybox", "mkdir", "/tmp/x"]);
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    let info = d.docker(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert_eq!(
        stdout(&info).trim(),
        format!(
            r#"["name=seccomp,profile={}","name=no-new-privileges"]"#,
            profile.display()
        )
    );
    assert_eq!(status_field(&d, &[], "NoNewPrivs:"), "1");
    assert_eq!(
        status_field(
            &d,
            &["--security-opt", "no-new-privileges=false"],
            "NoNewPrivs:"
        ),
        "0"
    );
    drop(d);
    let d = Daemon::start_with(serde_json::json!({"seccomp-profile": "unconfined"}));
    d.import_busybox("busybox");
    assert_eq!(status_field(&d, &[], "Seccomp:"), "0");
    let info = d.docker(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert_eq!(
        stdout(&info).trim(),
        r#"["name=seccomp,profile=unconfined"]"#
    );
    drop(d);
    // A profile berthd cannot read or parse stops it at start, with the reason.
    let mut d = Daemon::start();
    d.stop_daemon(libc::SIGTERM);
    let cfg = d.dir.path().join("bad-daemon.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"seccomp-profile": bad}).to_string(),
    )
    .unwrap();
    let out = berthd_refusing(&[], &d.host(), &d.data_root(), &d.exec_root(), &cfg);
    assert_fails_with(&out, "unrecognized default action");
}

#[test]
fn no_new_privileges_and_security_opts() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_eq!(status_field(&d, &[], "NoNewPrivs:"), "0");
    assert_eq!(
        status_field(&d, &["--security-opt", "no-new-privileges"], "NoNewPrivs:"),
        "1"
    );
    assert_eq!(
        status_field(
            &d,
            &["--security-opt", "no-new-privileges:true"],
            "NoNewPrivs:"
        ),
        "1"
    );
    for (opt, want) in [
        ("bogus=1", r#"invalid --security-opt 2: \"bogus=1\""#),
        (
            "no-new-privileges=maybe",
            r#"invalid --security-opt 2: \"no-new-privileges=maybe\""#,
        ),
        // The docker CLI refuses this one itself; other clients reach the daemon.
        ("bogus", r#"invalid --security-opt 1: \"bogus\""#),
    ] {
        let body = serde_json::json!({"Image": "busybox", "HostConfig": {"SecurityOpt": [opt]}});
        let (status, text) = raw_http(
            &d.socket,
            "POST",
            "/v1.47/containers/create",
            "application/json",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 400, "{opt}: {text}");
        assert!(text.contains(want), "{opt}: {text}");
    }
    let out = d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        "bogus=1",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 125);
    assert!(
        stderr(&out).contains(r#"invalid --security-opt 2: "bogus=1""#),
        "{}",
        stderr(&out)
    );
    // AppArmor and SELinux labels on a host with neither: accepted, as dockerd does.
    let out = d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        "apparmor=unconfined",
        "--security-opt",
        "label=disable",
        "busybox",
        "true",
    ]);
    assert_ok(&out);
    // Nothing was created by the refused runs.
    let ps = d.docker(&["ps", "-aq"]);
    assert_eq!(stdout(&ps).trim(), "");
}

/// The daemon's own bounding set, as /proc shows it.
fn cap_bounding(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn privileged_gets_what_the_daemon_has() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let daemon_caps = cap_bounding(d.pid());
    // Both start even when the daemon lacks a capability (CAP_SYS_RESOURCE here).
    assert_eq!(status_field(&d, &["--privileged"], "CapBnd:"), daemon_caps);
    assert_eq!(
        status_field(&d, &["--cap-add", "ALL"], "CapBnd:"),
        daemon_caps
    );
    assert_eq!(
        status_field(&d, &[], "CapBnd:"),
        "00000000a80425fb",
        "Docker's default set"
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; test -b /dev/loop0 && echo devices; grep ' /sys ' /proc/mounts | grep -c rw,; test $(head -c1 /proc/timer_list | wc -c) = 1 && echo unmasked",
    ]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out).split_whitespace().collect::<Vec<_>>(),
        ["Seccomp:", "0", "devices", "1", "unmasked"]
    );
    let out = d.docker(&["run", "--rm", "--cap-add", "BOGUS", "busybox", "true"]);
    assert!(
        stderr(&out).contains("unknown capability: \"CAP_BOGUS\""),
        "{}",
        stderr(&out)
    );
}

/// Every mount at or under /sys/fs/cgroup as the container sees them, the
/// visible (last) one per mount point: (mount point, options).
const CGROUP_MOUNTS: &str = "awk '$5 ~ /^\\/sys\\/fs\\/cgroup/ {m[$5]=$6} END {for (k in m) print k, m[k]}' /proc/self/mountinfo";

#[test]
fn cgroups_are_read_only_and_limits_hold() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // Every cgroup mount is read-only from inside; nothing can be written or made.
    let out = d.docker(&["run", "--rm", "busybox", "sh", "-c", CGROUP_MOUNTS]);
    assert_ok(&out);
    let mounts = stdout(&out);
    assert!(mounts.lines().count() >= 2, "{mounts}");
    for l in mounts.lines() {
        let opts = l.split_whitespace().nth(1).unwrap_or_default();
        assert!(opts.split(',').any(|o| o == "ro"), "writable: {l}");
    }
    let out = d.docker(&[
        "run", "--rm", "--memory", "32m", "--pids-limit", "50", "--cpus", "0.5", "busybox", "sh", "-c",
        "for f in memory/memory.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us; do echo -1 > /sys/fs/cgroup/$f 2>/dev/null && echo wrote $f; done; \
         mkdir /sys/fs/cgroup/systemd/escape 2>/dev/null && echo made; mkdir /sys/fs/cgroup/memory/child 2>/dev/null && echo child; \
         echo $$ > /sys/fs/cgroup/systemd/cgroup.procs 2>/dev/null && echo moved; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max",
    ]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        ["33554432", "50"],
        "{}",
        stdout(&out)
    );
    // The limit holds: 100 MB cannot be had under --memory 32m.
    let out = d.docker(&[
        "run",
        "--rm",
        "--memory",
        "32m",
        "--memory-swap",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo got ${#x}",
    ]);
    assert_eq!(code(&out), 137, "{}", stdout(&out));
    // Nothing appeared in the host's hierarchies.
    for h in ["systemd", "memory"] {
        assert!(!Path::new("/sys/fs/cgroup").join(h).join("escape").exists());
    }
}

#[test]
fn cgroup_namespaces() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let v2 = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "));
    let id_line = |flags: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "cat", "/proc/self/cgroup"]);
        let out = d.docker(&args);
        assert_ok(&out);
        stdout(&out)
    };
    // Private: the container's own cgroup is the root in every hierarchy.
    let private = id_line(&["--cgroupns", "private"]);
    assert!(private.lines().all(|l| l.ends_with(":/")), "{private}");
    // Host: the host's paths, the container's own cgroup in each (name=systemd too).
    let host = id_line(&["--cgroupns", "host"]);
    assert!(host.lines().all(|l| l.contains(&d.cgroup_parent)), "{host}");
    // dockerd's default: host on v1 (this machine), private on v2.
    let default = id_line(&[]);
    assert_eq!(default.lines().all(|l| l.ends_with(":/")), v2, "{default}");
    let info = d.docker(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert_eq!(stdout(&info).contains("name=cgroupns"), v2);
    let body = br#"{"Image": "busybox", "HostConfig": {"CgroupnsMode": "shared"}}"#;
    let (status, text) = raw_http(
        &d.socket,
        "POST",
        "/v1.47/containers/create",
        "application/json",
        body,
    );
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("invalid cgroup namespace mode: shared"),
        "{text}"
    );
    drop(d);
    let d = Daemon::start_with(serde_json::json!({"default-cgroupns-mode": "private"}));
    d.import_busybox("busybox");
    let out = d.docker(&["run", "--rm", "busybox", "cat", "/proc/self/cgroup"]);
    assert!(
        stdout(&out).lines().all(|l| l.ends_with(":/")),
        "{}",
        stdout(&out)
    );
    let info = d.docker(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(stdout(&info).contains("name=cgroupns"), "{}", stdout(&info));
}

/// Whether the container's cgroup is left in any hierarchy.
fn cgroup_left(d: &Daemon, id: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|h| h.path().join(&d.cgroup_parent).join(id))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn removal_takes_child_cgroups_and_runtime_state() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for flags in [
        &["--privileged"][..],
        &[
            "--security-opt",
            "writable-cgroups=true",
            "--cgroupns",
            "private",
        ],
    ] {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(flags);
        args.extend([
            "busybox",
            "sh",
            "-c",
            "mkdir -p /sys/fs/cgroup/memory/a/b /sys/fs/cgroup/pids/c && sleep 30",
        ]);
        let out = d.docker(&args);
        assert_ok(&out);
        let id = stdout(&out).trim().to_string();
        eventually("the child cgroups", 10, || {
            Path::new("/sys/fs/cgroup/memory")
                .join(&d.cgroup_parent)
                .join(&id)
                .join("a/b")
                .exists()
        });
        assert_ok(&d.docker(&["rm", "-f", &id]));
        assert_eq!(cgroup_left(&d, &id), Vec::<PathBuf>::new(), "{flags:?}");
        assert!(!d.exec_root().join("runtime").join(&id).exists());
    }
    // --rm, ending by itself.
    let out = d.docker(&[
        "run",
        "--rm",
        "--privileged",
        "--name",
        "rmcg",
        "busybox",
        "mkdir",
        "/sys/fs/cgroup/pids/child",
    ]);
    assert_ok(&out);
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let parent = h.path().join(&d.cgroup_parent);
        let left: Vec<_> = std::fs::read_dir(&parent)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .collect();
        assert!(left.is_empty(), "{}: {left:?}", parent.display());
    }
    let runtime: Vec<_> = std::fs::read_dir(d.exec_root().join("runtime"))
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert!(runtime.is_empty(), "{runtime:?}");
}

fn run_out(d: &Daemon, args: &[&str]) -> String {
    let out = d.docker(args);
    assert_ok(&out);
    stdout(&out)
}

#[test]
fn ulimits_oom_score_and_sysctls_apply() {
    let d = Daemon::start_with(
        serde_json::json!({"default-ulimits": {"nproc": {"Name": "nproc", "Soft": 500, "Hard": 600}}}),
    );
    d.import_busybox("busybox");
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--ulimit",
            "nofile=1024:2048",
            "busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; ulimit -u",
        ],
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), ["1024", "2048", "500"]);
    // --ulimit replaces the daemon's default of the same name; the berth CLI too.
    let out = d.berth(&[
        "run",
        "--rm",
        "--ulimit",
        "nproc=100:200",
        "busybox",
        "sh",
        "-c",
        "ulimit -u; ulimit -Hu",
    ]);
    assert_ok(&out);
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), ["100", "200"]);
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--oom-score-adj",
            "500",
            "busybox",
            "cat",
            "/proc/self/oom_score_adj",
        ],
    );
    assert_eq!(out.trim(), "500");
    // Namespaced sysctls reach the container's own namespaces, not the host's.
    let host_range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--sysctl",
            "net.ipv4.ip_local_port_range=1024 2048",
            "--sysctl",
            "kernel.shmmax=1000000",
            "busybox",
            "sh",
            "-c",
            "cat /proc/sys/net/ipv4/ip_local_port_range /proc/sys/kernel/shmmax",
        ],
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["1024", "2048", "1000000"]
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap(),
        host_range
    );
    // Others are refused: by the docker CLI itself, and by the daemon for other clients.
    let out = d.docker(&[
        "run",
        "--rm",
        "--sysctl",
        "vm.swappiness=1",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out).contains("sysctl 'vm.swappiness=1' is not allowed"),
        "{}",
        stderr(&out)
    );
    let out = d.berth(&[
        "run",
        "--rm",
        "--sysctl",
        "vm.swappiness=1",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out).contains("sysctl 'vm.swappiness=1' is not allowed"),
        "{}",
        stderr(&out)
    );
    let body = br#"{"Image": "busybox", "HostConfig": {"Sysctls": {"vm.swappiness": "1"}}}"#;
    let (status, text) = raw_http(
        &d.socket,
        "POST",
        "/v1.47/containers/create",
        "application/json",
        body,
    );
    assert_eq!(status, 400);
    assert!(
        text.contains("sysctl \\\"vm.swappiness\\\" is not in a separate kernel namespace"),
        "{text}"
    );
    let out = d.docker(&["run", "--rm", "--ulimit", "bogus=1", "busybox", "true"]);
    assert_ne!(code(&out), 0);
}

#[test]
fn devices_and_block_io_limits() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // Without --device the host's disks are neither there nor allowed.
    let out = run_out(&d, &["run", "--rm", "busybox", "sh", "-c", "test -e /dev/loop0 || echo absent; mknod /tmp/l b 7 0 && head -c1 /tmp/l >/dev/null 2>&1 || echo denied"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["absent", "denied"]);
    let out = run_out(&d, &[
        "run", "--rm", "--device", "/dev/loop0:/dev/xloop:r", "--device-cgroup-rule", "c 42:* rm",
        "--device-read-bps", "/dev/loop0:1mb", "--device-write-iops", "/dev/loop0:100",
        "busybox", "sh", "-c",
        "stat -c '%t:%T' /dev/xloop; grep -E '^(b 7:0|c 42)' /sys/fs/cgroup/devices/devices.list; cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device",
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["7:0", "b 7:0 r", "c 42:* rm", "7:0 1048576", "7:0 100"]
    );
    // The berth CLI sends the same.
    let out = d.berth(&[
        "run",
        "--rm",
        "--device",
        "/dev/loop0",
        "busybox",
        "stat",
        "-c",
        "%t:%T",
        "/dev/loop0",
    ]);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "7:0");
    // No blkio weight on this kernel: dockerd's warning, and the weight is discarded.
    let out = d.docker(&["run", "--rm", "--blkio-weight", "300", "busybox", "true"]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("does not support Block I/O weight"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["run", "--rm", "--device", "/etc/passwd", "busybox", "true"]);
    assert!(
        stderr(&out).contains("not a device node"),
        "{}",
        stderr(&out)
    );
}

fn ns(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn ipc_pid_and_uts_modes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let readlinks = "for n in ipc pid uts; do readlink /proc/self/ns/$n; done";
    let own = run_out(&d, &["run", "--rm", "busybox", "sh", "-c", readlinks]);
    for (line, kind) in own.lines().zip(["ipc", "pid", "uts"]) {
        assert_ne!(line, ns("self", kind), "{kind} is private by default");
    }
    let host = run_out(
        &d,
        &[
            "run", "--rm", "--ipc", "host", "--pid", "host", "--uts", "host", "busybox", "sh",
            "-c", readlinks,
        ],
    );
    assert_eq!(
        host.lines().collect::<Vec<_>>(),
        [ns("self", "ipc"), ns("self", "pid"), ns("self", "uts")]
    );
    // Another container's namespaces, by name.
    let id = run_out(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "nsowner",
            "--ipc",
            "shareable",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let pid = run_out(&d, &["inspect", "-f", "{{.State.Pid}}", id.trim()]);
    let joined = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--ipc",
            "container:nsowner",
            "--pid",
            "container:nsowner",
            "busybox",
            "sh",
            "-c",
            "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; ps -o comm | grep -c sleep",
        ],
    );
    assert_eq!(
        joined.lines().collect::<Vec<_>>(),
        [
            ns(pid.trim(), "ipc").as_str(),
            ns(pid.trim(), "pid").as_str(),
            "1"
        ]
    );
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--ipc",
            "none",
            "busybox",
            "sh",
            "-c",
            "grep -c ' /dev/shm ' /proc/mounts || true",
        ],
    );
    assert_eq!(out.trim(), "0");
    assert_ok(&d.docker(&["stop", "-t", "0", "nsowner"]));
    let out = d.docker(&[
        "run",
        "--rm",
        "--ipc",
        "container:nsowner",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out).contains("cannot join ipc of a non running container"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "--uts",
        "host",
        "--hostname",
        "x",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out)
            .to_lowercase()
            .contains("conflicting options: hostname and the uts mode"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn resource_fields_are_validated_as_dockerd_does() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let long_volume = format!("{}:/data", "v".repeat(300));
    for (host_config, want) in [
        (serde_json::json!({"Memory": i64::MAX}), "is too large"),
        (
            serde_json::json!({"Memory": -7}),
            "Minimum memory limit allowed is 6MB",
        ),
        (
            serde_json::json!({"MemoryReservation": -7}),
            "invalid memory limit -7",
        ),
        (
            serde_json::json!({"CpuQuota": i64::MAX}),
            "CPU cfs quota can not be more than",
        ),
        (
            serde_json::json!({"CpuQuota": -5}),
            "CPU cfs quota can not be less than 1ms",
        ),
        (
            serde_json::json!({"PidsLimit": i64::MAX}),
            "invalid PIDs limit",
        ),
        (
            serde_json::json!({"CpusetCpus": "0-999999999"}),
            "Requested CPUs are not available - requested 0-999999999",
        ),
        (
            serde_json::json!({"CpusetCpus": "0-x"}),
            "Invalid value 0-x for cpuset cpus",
        ),
        (
            serde_json::json!({"CpuShares": 1i64 << 40}),
            "invalid CPU shares",
        ),
        (
            serde_json::json!({"BlkioWeight": 65535}),
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            serde_json::json!({"MemorySwappiness": 200}),
            "Invalid value: 200, valid memory swappiness range is 0-100",
        ),
        (
            serde_json::json!({"OomScoreAdj": 99999}),
            "range for oom score adj is [-1000, 1000]",
        ),
        (
            serde_json::json!({"Binds": [long_volume]}),
            "volume name is too long",
        ),
    ] {
        let body = serde_json::json!({"Image": "busybox", "HostConfig": host_config});
        let (status, text) = raw_http(
            &d.socket,
            "POST",
            "/v1.47/containers/create",
            "application/json",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 400, "{host_config}: {text}");
        assert!(text.contains(want), "{host_config}: {text}");
    }
    // The same limits through docker update.
    let id = run_out(&d, &["create", "busybox", "true"]);
    let out = d.docker(&["update", "--pids-limit", "9999999999", id.trim()]);
    assert!(
        stderr(&out).contains("invalid PIDs limit"),
        "{}",
        stderr(&out)
    );
    assert_ok(&d.docker(&["rm", id.trim()]));
    // Nothing was left by the refusals.
    assert_eq!(run_out(&d, &["ps", "-aq"]).trim(), "");
    assert_eq!(run_out(&d, &["volume", "ls", "-q"]).trim(), "");
}

/// Processes whose command line names `dir` (this daemon's supervisors).
fn processes_under(dir: &Path) -> Vec<String> {
    let want = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&want) && c.contains("berth-shim exec"))
        .collect()
}

#[test]
fn long_exec_arguments_work_or_are_refused_up_front() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.docker(&["run", "-d", "--name", "args", "busybox", "sleep", "60"]));
    // One argument just under the kernel's limit for a single string works.
    let long = "b".repeat(131_000);
    let out = run_out(&d, &["exec", "args", "sh", "-c", "echo ${#1}", "x", &long]);
    assert_eq!(out.trim(), "131000");
    // A program name of 64 KiB can never be found: a 400 before anything starts.
    let name = "a".repeat(65_536);
    let out = d.docker(&["exec", "args", &name]);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("the command name is 65536 bytes long"),
        "{}",
        stderr(&out)
    );
    // (Too long for the docker CLI's own execve: straight to the API.)
    let body = serde_json::json!({"Cmd": ["echo", "c".repeat(200_000)]});
    let (status, text) = raw_http(
        &d.socket,
        "POST",
        "/v1.47/containers/args/exec",
        "application/json",
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("the kernel takes at most 131072"), "{text}");
    // A long name the runtime does try: an answer (126, dockerd's for any exec
    // that cannot start), and no supervisor left behind.
    let out = d.docker(&["exec", "args", &"a".repeat(4000)]);
    assert_eq!(code(&out), 126, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(processes_under(&d.exec_root()), Vec::<String>::new());
    // The same rules for a container's own command.
    let out = d.docker(&["run", "--rm", "busybox", &name]);
    assert_eq!(code(&out), 125);
    assert!(
        stderr(&out).contains("the command name is 65536 bytes long"),
        "{}",
        stderr(&out)
    );
    assert_ok(&d.docker(&["rm", "-f", "args"]));
}

#[test]
fn the_api_socket_belongs_to_root_and_its_group() {
    let gid_of = |name: &str| {
        std::fs::read_to_string("/etc/group")
            .unwrap()
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&name)).then(|| f[2].parse::<u32>().unwrap())
            })
    };
    // dockerd's default: group docker when the host has one, else root's.
    let d = Daemon::start();
    let m = std::fs::metadata(&d.socket).unwrap();
    assert_eq!(m.mode() & 0o777, 0o660);
    assert_eq!((m.uid(), m.gid()), (0, gid_of("docker").unwrap_or(0)));
    drop(d);
    let d = Daemon::start_with(serde_json::json!({"group": "daemon"}));
    let m = std::fs::metadata(&d.socket).unwrap();
    assert_eq!(
        (m.gid(), m.mode() & 0o777),
        (gid_of("daemon").unwrap(), 0o660)
    );
    let mut d = d;
    d.stop_daemon(libc::SIGTERM);
    // A group named on purpose must exist.
    let out = berthd_refusing(
        &["-G", "no-such-group-berth"],
        &d.host(),
        &d.data_root(),
        &d.exec_root(),
        &d.dir.path().join("daemon.json"),
    );
    assert_fails_with(
        &out,
        "group \"no-such-group-berth\" for the API socket does not exist",
    );
}

/// Puts back what `userns-remap: default` adds to the host (the dockremap
/// user and its subordinate ranges) when this test made them.
struct RemapUserGuard {
    made_user: bool,
    subuid: String,
    subgid: String,
}

impl RemapUserGuard {
    fn new() -> RemapUserGuard {
        let had = std::fs::read_to_string("/etc/passwd")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("dockremap:"));
        RemapUserGuard {
            made_user: !had,
            subuid: std::fs::read_to_string("/etc/subuid").unwrap_or_default(),
            subgid: std::fs::read_to_string("/etc/subgid").unwrap_or_default(),
        }
    }
}

impl Drop for RemapUserGuard {
    fn drop(&mut self) {
        if self.made_user {
            let _ = Command::new("userdel").arg("dockremap").status();
            let _ = Command::new("groupdel")
                .arg("dockremap")
                .stderr(std::process::Stdio::null())
                .status();
        }
        let _ = std::fs::write("/etc/subuid", &self.subuid);
        let _ = std::fs::write("/etc/subgid", &self.subgid);
    }
}

fn host_uid_of(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn user_namespaces_make_container_root_an_unprivileged_host_user() {
    let _guard = RemapUserGuard::new();
    let secret = Marker::new("root-only");
    std::fs::write(&secret.0, "host secret").unwrap();
    std::fs::set_permissions(
        &secret.0,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let d = Daemon::start_with(serde_json::json!({"userns-remap": "default"}));
    d.import_busybox("busybox");
    // `default` made dockremap and gave it a range, as dockerd does.
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap();
    let line = subuid
        .lines()
        .find(|l| l.starts_with("dockremap:"))
        .expect("a dockremap range");
    let start: u32 = line.split(':').nth(1).unwrap().parse().unwrap();
    let info = run_out(&d, &["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(info.contains("name=userns"), "{info}");

    // Root inside, an unprivileged user outside; the image's files are root's inside.
    let out = run_out(&d, &["run", "--rm", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; touch /etc/new && echo wrote; grep Seccomp: /proc/self/status"]);
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        ["0", &format!("0 {start} 65536"), "0", "wrote", "Seccomp: 2"]
    );
    let id = run_out(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "remapped",
            "-v",
            "rvol:/data",
            "busybox",
            "sh",
            "-c",
            "touch /data/f /made; sleep 60",
        ],
    );
    let pid = run_out(&d, &["inspect", "-f", "{{.State.Pid}}", id.trim()]);
    assert_eq!(host_uid_of(pid.trim()), start.to_string());
    // An exec joins the container's user namespace too.
    let out = run_out(&d, &["exec", "remapped", "cat", "/proc/self/uid_map"]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", &start.to_string(), "65536"]
    );
    eventually("the container's files", 10, || {
        d.data_root()
            .join("containers")
            .join(id.trim())
            .join("upper/made")
            .exists()
    });
    let made = std::fs::metadata(
        d.data_root()
            .join("containers")
            .join(id.trim())
            .join("upper/made"),
    )
    .unwrap();
    assert_eq!(made.uid(), start);
    let vol = run_out(&d, &["volume", "inspect", "-f", "{{.Mountpoint}}", "rvol"]);
    assert_eq!(
        std::fs::metadata(Path::new(vol.trim()).join("f"))
            .unwrap()
            .uid(),
        start
    );

    // Root inside cannot read what is the host root's alone.
    let bind = format!("{}:/secret:ro", secret.path());
    let out = d.docker(&["run", "--rm", "-v", &bind, "busybox", "cat", "/secret"]);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );

    // cp and commit speak the container's IDs, not the host's.
    let file = Marker::new("cp-in");
    std::fs::write(&file.0, "in").unwrap();
    std::os::unix::fs::chown(&file.0, Some(777), Some(777)).unwrap();
    assert_ok(&d.docker(&["cp", "-a", file.path(), "remapped:/in-a"]));
    assert_ok(&d.docker(&["cp", file.path(), "remapped:/in"]));
    let upper = d
        .data_root()
        .join("containers")
        .join(id.trim())
        .join("upper");
    assert_eq!(
        std::fs::metadata(upper.join("in-a")).unwrap().uid(),
        start + 777
    );
    assert_eq!(std::fs::metadata(upper.join("in")).unwrap().uid(), start);
    let out = d.docker(&["cp", "remapped:/made", "-"]);
    assert_ok(&out);
    let mut a = tar::Archive::new(&out.stdout[..]);
    let owner = a
        .entries()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .header()
        .uid()
        .unwrap();
    assert_eq!(owner, 0);
    assert_ok(&d.docker(&["commit", "remapped", "remapped-img"]));
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--userns",
            "host",
            "remapped-img",
            "stat",
            "-c",
            "%u",
            "/made",
            "/in-a",
        ],
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), ["0", "777"]);

    // --userns=host opts out; what needs the host's namespaces is refused.
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--userns",
            "host",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ],
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"]
    );
    for (flags, want) in [
        (
            &["--privileged"][..],
            "privileged mode is incompatible with user namespaces",
        ),
        (
            &["--network", "host"],
            "cannot share the host's network namespace when user namespaces are enabled",
        ),
        (&["--pid", "host"], "cannot share the host's PID namespace"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let out = d.docker(&args);
        assert_eq!(code(&out), 125, "{flags:?}");
        assert!(stderr(&out).contains(want), "{flags:?}: {}", stderr(&out));
    }
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--userns",
            "host",
            "--privileged",
            "busybox",
            "true",
        ],
    );
    assert_eq!(out, "");
    assert_ok(&d.docker(&["rm", "-f", "remapped"]));
    drop(d);

    // Where idmapped layers are not to be had: chowned copies, made once, gone with the image.
    let d = Daemon::start_with(
        serde_json::json!({"userns-remap": "dockremap:dockremap", "userns-remap-layers": "copy"}),
    );
    d.import_busybox("busybox");
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "stat -c %u /bin/busybox; cat /proc/self/uid_map",
        ],
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", &start.to_string(), "65536"]
    );
    let copies = d
        .data_root()
        .join("snapshots-remapped")
        .join(format!("{start}.{start}"));
    let layers: Vec<_> = std::fs::read_dir(&copies).unwrap().flatten().collect();
    assert_eq!(layers.len(), 1, "{layers:?}");
    let busybox = std::fs::metadata(layers[0].path().join("bin/busybox")).unwrap();
    assert_eq!(busybox.uid(), start);
    assert_ok(&d.docker(&["rmi", "busybox"]));
    assert_eq!(std::fs::read_dir(&copies).unwrap().count(), 0);
    drop(d);
    // A user without ranges is refused at start, with the reason.
    let mut d = Daemon::start();
    d.stop_daemon(libc::SIGTERM);
    let cfg = d.dir.path().join("nobody.json");
    std::fs::write(&cfg, r#"{"userns-remap": "nobody"}"#).unwrap();
    let out = berthd_refusing(&[], &d.host(), &d.data_root(), &d.exec_root(), &cfg);
    assert_fails_with(&out, "no subordinate user IDs for \"nobody\"");
    // A data root the remapped root could not reach is refused at start.
    let closed = d.dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::write(&cfg, r#"{"userns-remap": "dockremap"}"#).unwrap();
    let out = berthd_refusing(&[], &d.host(), &closed.join("data"), &d.exec_root(), &cfg);
    assert_fails_with(&out, "cannot be searched by the remapped root");
}

#[test]
fn cgroup_v2_read_only_private_and_device_rules() {
    // The hybrid layout's cgroup2 mount, shown to berthd as /sys/fs/cgroup.
    let Some(d) = Daemon::start_on_cgroup2(serde_json::json!({})) else {
        eprintln!("no separate cgroup2 mount here: the other tests run on cgroup v2 itself");
        return;
    };
    d.import_busybox("busybox");
    let info = run_out(
        &d,
        &[
            "info",
            "--format",
            "{{.CgroupVersion}} {{json .SecurityOptions}}",
        ],
    );
    assert_eq!(
        info.trim(),
        r#"2 ["name=seccomp,profile=builtin","name=cgroupns"]"#
    );
    // dockerd's v2 default: a private cgroup namespace, the cgroup2 mount read-only.
    let out = run_out(&d, &["run", "--rm", "busybox", "sh", "-c", "grep '^0::' /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo; mkdir /sys/fs/cgroup/x 2>&1; true"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0::/");
    let mount: Vec<&str> = lines[1].split_whitespace().collect();
    assert!(
        mount[5].starts_with("ro,") && lines[1].contains(" - cgroup2 "),
        "{out}"
    );
    assert!(
        out.contains("mkdir: can't create directory '/sys/fs/cgroup/x': Read-only file system"),
        "{out}"
    );
    // The device rules are an eBPF program on v2: a node made inside is still refused.
    let out = run_out(&d, &["run", "--rm", "busybox", "sh", "-c", "mknod /tmp/disk b 7 0; head -c1 /tmp/disk >/dev/null 2>&1 && echo read || echo refused"]);
    assert_eq!(out.lines().last(), Some("refused"), "{out}");
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--device",
            "/dev/loop0",
            "busybox",
            "sh",
            "-c",
            "head -c1 /dev/loop0 >/dev/null && echo read",
        ],
    );
    assert_eq!(out.trim(), "read");
    // --cgroupns host: the container's own cgroup, bound read-only.
    let out = run_out(
        &d,
        &[
            "run",
            "--rm",
            "--cgroupns",
            "host",
            "busybox",
            "sh",
            "-c",
            "grep '^0::' /proc/self/cgroup; mkdir /sys/fs/cgroup/x 2>&1; true",
        ],
    );
    assert!(
        out.lines().next().unwrap().contains(&d.cgroup_parent),
        "{out}"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    // Privileged: writable, and child cgroups go with the container.
    let id = run_out(
        &d,
        &[
            "run",
            "-d",
            "--privileged",
            "busybox",
            "sh",
            "-c",
            "mkdir /sys/fs/cgroup/child && sleep 30",
        ],
    );
    let dir = Path::new("/sys/fs/cgroup/unified")
        .join(&d.cgroup_parent)
        .join(id.trim());
    eventually("the child cgroup", 10, || dir.join("child").exists());
    assert_ok(&d.docker(&["rm", "-f", id.trim()]));
    assert!(!dir.exists(), "{} is left", dir.display());
}
