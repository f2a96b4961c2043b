//! Real containers through `berth-shim`: a busybox root file system, the
//! kernel's namespaces and cgroups, no mocks.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_runtime::shim::ShimConfig;
use berth_runtime::spec::{build_spec, NetworkNamespace, Resources, SpecInput};
use berth_runtime::supervisor;
use berth_runtime::user::ResolvedUser;

fn shim_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth-shim"))
}

fn busybox_rootfs(dir: &Path) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::copy("/bin/busybox", dir.join("bin/busybox")).expect("busybox-static must be installed");
    for app in [
        "sh", "echo", "cat", "sleep", "ls", "hostname", "id", "ip", "ps", "true",
    ] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(app)).unwrap();
    }
    for d in ["proc", "sys", "dev", "etc", "tmp"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
}

struct Bundle {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    cfg: ShimConfig,
}

fn bundle(args: &[&str], resources: Resources, runtime: Option<PathBuf>) -> Bundle {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let rootfs = dir.join("rootfs");
    busybox_rootfs(&rootfs);
    let id = format!(
        "berth-rt-test-{}",
        std::process::id() as u64 * 1000 + rand_suffix()
    );
    let cgroups_path = format!("/berth-test/{id}");
    let spec = build_spec(&SpecInput {
        rootfs: &rootfs,
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        user: ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/root".into(),
        },
        hostname: "testhost".into(),
        tty: false,
        network: NetworkNamespace::New,
        etc_files: vec![],
        mounts: vec![],
        resources,
        cgroups_path: cgroups_path.clone(),
        readonly_rootfs: false,
        shm_size: 0,
        confinement: Default::default(),
    })
    .unwrap();
    spec.save(dir.join("config.json")).unwrap();
    let cfg = ShimConfig {
        id,
        bundle: dir.clone(),
        runtime_root: dir.join("runtime"),
        runtime,
        log_path: dir.join("log.json"),
        log_max_size: None,
        log_max_files: 1,
        new_netns: true,
        join_netns: None,
        cgroups_path,
        tty: false,
        open_stdin: false,
        stdin_once: false,
        attach_socket: dir.join("a.sock"),
        console_socket: dir.join("c.sock"),
    };
    Bundle {
        _tmp: tmp,
        dir,
        cfg,
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn run(b: &Bundle) -> (String, i32, bool) {
    let state = b.dir.join("state");
    let started = supervisor::spawn(&shim_binary(), &state, &b.cfg).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(e) = supervisor::read_exit(&state) {
            break e;
        }
        assert!(Instant::now() < deadline, "container did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    supervisor::reap(started.shim_pid);
    remove_test_cgroup_parent();
    let out: String = berth_runtime::logs::read_all(&b.cfg.log_path)
        .into_iter()
        .map(|r| r.log)
        .collect();
    (out, exit.exit_code, exit.oom_killed)
}

#[test]
fn runs_in_its_own_namespaces() {
    let b = bundle(&["sh", "-c", "echo pid=$$; hostname; ip -o link | wc -l; ip -o addr show lo | grep -c 127.0.0.1; exit 3"], Resources::default(), None);
    let (out, code, _) = run(&b);
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        out, "pid=1\ntesthost\n1\n1\n",
        "only loopback, and it is up"
    );
    assert!(
        !Path::new("/sys/fs/cgroup/memory/berth-test")
            .join(&b.cfg.id)
            .exists(),
        "cgroup removed"
    );
}

#[test]
fn limits_apply_and_oom_is_reported() {
    let r = Resources {
        memory: 16 << 20,
        memory_swap: 16 << 20,
        pids_limit: Some(20),
        ..Default::default()
    };
    let b = bundle(&["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"], r.clone(), None);
    let (out, code, _) = run(&b);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), (16u64 << 20).to_string());
    // Grow a shell variable past the limit: the kernel OOM-kills it.
    let b = bundle(
        &[
            "sh",
            "-c",
            "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done",
        ],
        r,
        None,
    );
    let (_, code, oom) = run(&b);
    assert_eq!(code, 137);
    assert!(oom, "OOM kill must be reported");
}

#[test]
fn missing_command_is_an_exec_error() {
    let b = bundle(&["/no/such/binary"], Resources::default(), None);
    let err = supervisor::spawn(&shim_binary(), &b.dir.join("state"), &b.cfg).unwrap_err();
    match err {
        berth_runtime::RuntimeError::Exec { code, .. } => assert_eq!(code, 127),
        other => panic!("expected exec error, got {other}"),
    }
}

#[test]
fn external_runc_runtime() {
    let Some(runc) = ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    else {
        panic!("runc must be installed (apt-get install runc)");
    };
    let b = bundle(
        &["sh", "-c", "echo from runc; hostname"],
        Resources::default(),
        Some(runc),
    );
    let (out, code, _) = run(&b);
    assert_eq!((out.as_str(), code), ("from runc\ntesthost\n", 0));
}

/// The runtime removes each container's cgroup; the shared parent is ours to
/// remove once no test uses it (rmdir fails harmlessly while one does).
fn remove_test_cgroup_parent() {
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            let _ = fs::remove_dir(e.path().join("berth-test"));
        }
    }
}
