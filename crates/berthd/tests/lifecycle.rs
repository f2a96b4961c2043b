//! Daemon-level behaviour: containers outlive berthd, one daemon per data
//! root, an external OCI runtime, limits on the real cgroups, network modes.

mod common;

use common::*;

#[test]
fn containers_survive_a_killed_daemon() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let id = stdout(&d.berth(&[
        "run",
        "-d",
        "--name",
        "survivor",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 3' TERM; i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done",
    ]))
    .trim()
    .to_string();
    eventually("output", 10, || {
        stdout(&d.berth(&["logs", "survivor"])).contains("line3")
    });
    let pid_before = stdout(&d.berth(&["inspect", "-f", "{{.State.Pid}}", "survivor"]))
        .trim()
        .to_string();
    d.stop_daemon(libc::SIGKILL);
    // The container keeps running (and logging) with no daemon at all.
    let log = d
        .data_root()
        .join("containers")
        .join(&id)
        .join(format!("{id}-json.log"));
    let len_at_kill = std::fs::metadata(&log).unwrap().len();
    eventually("log growth without berthd", 10, || {
        std::fs::metadata(&log).unwrap().len() > len_at_kill
    });
    d.spawn();
    let st = d.berth(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.Pid}}",
        "survivor",
    ]);
    assert_eq!(stdout(&st).trim(), format!("running {pid_before}"));
    assert!(stdout(&d.berth(&["ps", "--format", "{{.Names}}"])).contains("survivor"));
    let logs = stdout(&d.berth(&["logs", "survivor"]));
    assert!(
        logs.starts_with("line0\nline1\nline2\n"),
        "logs intact: {logs}"
    );
    assert_ok(&d.berth(&["stop", "survivor"]));
    assert_eq!(
        stdout(&d.berth(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "survivor"
        ]))
        .trim(),
        "exited 3"
    );
}

#[test]
fn exit_while_daemon_is_down_is_recorded() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let id = stdout(&d.berth(&["run", "-d", "busybox", "sh", "-c", "sleep 0.5; exit 9"]))
        .trim()
        .to_string();
    d.stop_daemon(libc::SIGTERM);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    d.spawn();
    eventually("exit recorded", 10, || {
        stdout(&d.berth(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &id,
        ]))
        .trim()
            == "exited 9"
    });
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&id),
        "rootfs unmounted"
    );
}

#[test]
fn one_daemon_per_data_root() {
    let d = Daemon::start();
    let mut second = d.command();
    second.arg("-H").arg(format!(
        "unix://{}",
        d.dir.path().join("other.sock").display()
    ));
    let out = second.output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another berthd is already using the data root"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn refuses_plain_tcp_off_loopback_and_serves_loopback() {
    let d = Daemon::start();
    let mut c = d.command();
    let out = c.args(["-H", "tcp://0.0.0.0:23750"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("only allowed on loopback"),
        "{}",
        stderr(&out)
    );
    drop(d);
    // A daemon on loopback TCP answers the docker CLI there.
    let port = 20000 + (std::process::id() % 20000) as u16;
    let tcp = format!("tcp://127.0.0.1:{port}");
    // Through the harness, so its bridge and rules are this test's own and removed after.
    let d = Daemon::start_also_on(&tcp);
    eventually("tcp listener", 10, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let v = std::process::Command::new(DOCKER)
        .args(["-H", &tcp, "version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .unwrap();
    drop(d);
    assert_eq!(stdout(&v).trim(), "1.47", "{}", stderr(&v));
}

#[test]
fn external_runc_runtime_from_daemon_json() {
    let runc = ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("runc must be installed");
    let d = Daemon::start_with(serde_json::json!({"runtimes": {"real-runc": {"path": runc}}}));
    d.import_busybox("busybox");
    let out = d.docker(&[
        "run",
        "--rm",
        "--runtime",
        "real-runc",
        "busybox",
        "sh",
        "-c",
        "echo via runc; exit 5",
    ]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert_eq!(stdout(&out), "via runc\n");
    let info = d.docker(&["info", "--format", "{{json .Runtimes}} {{.DefaultRuntime}}"]);
    assert!(stdout(&info).contains("\"real-runc\""), "{}", stdout(&info));
    assert!(
        stdout(&info).trim_end().ends_with(" runc"),
        "the built-in runtime is the default under dockerd's name: {}",
        stdout(&info)
    );
    // Clients compare a container's runtime with the default's name.
    assert_ok(&d.docker(&["create", "--name", "plain", "busybox", "true"]));
    let rt = d.docker(&["inspect", "-f", "{{.HostConfig.Runtime}}", "plain"]);
    assert_eq!(stdout(&rt).trim(), "runc");
    let bad = d.docker(&["run", "--rm", "--runtime", "nosuch", "busybox", "true"]);
    assert_eq!(code(&bad), 125);
    assert!(
        stderr(&bad).contains("unknown or invalid runtime name: nosuch"),
        "{}",
        stderr(&bad)
    );
}

/// dockerd reserves its default runtime's name; so does berthd.
#[test]
fn the_runc_runtime_name_is_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("daemon.json");
    std::fs::write(
        &config,
        r#"{"runtimes": {"runc": {"path": "/usr/sbin/runc"}}}"#,
    )
    .unwrap();
    let out = berthd_refusing(
        &[],
        &format!("unix://{}", dir.path().join("s").display()),
        &dir.path().join("data"),
        &dir.path().join("exec"),
        &config,
    );
    assert_fails_with(&out, "runtime name 'runc' is reserved");
    assert!(!dir.path().join("data").exists(), "nothing was set up");
}

fn cgroup_file(d: &Daemon, controller: &str, id: &str, file: &str) -> String {
    std::fs::read_to_string(format!(
        "/sys/fs/cgroup/{controller}/{}/{id}/{file}",
        d.cgroup_parent
    ))
    .unwrap_or_default()
    .trim()
    .to_string()
}

#[test]
fn resource_limits_reach_the_cgroup() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let out = d.berth(&[
        "run",
        "-d",
        "-m",
        "48m",
        "--memory-swap",
        "96m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "33",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_ok(&out);
    let id = stdout(&out).trim().to_string();
    if berth_runtime_is_v1() {
        assert_eq!(
            cgroup_file(&d, "memory", &id, "memory.limit_in_bytes"),
            (48u64 << 20).to_string()
        );
        assert_eq!(
            cgroup_file(&d, "memory", &id, "memory.memsw.limit_in_bytes")
                .parse::<u64>()
                .ok()
                .unwrap_or(96 << 20),
            96 << 20
        );
        assert_eq!(cgroup_file(&d, "cpu", &id, "cpu.cfs_quota_us"), "50000");
        assert_eq!(cgroup_file(&d, "cpu", &id, "cpu.cfs_period_us"), "100000");
        assert_eq!(cgroup_file(&d, "cpu", &id, "cpu.shares"), "512");
        assert_eq!(cgroup_file(&d, "cpuset", &id, "cpuset.cpus"), "0");
        assert_eq!(cgroup_file(&d, "pids", &id, "pids.max"), "33");
    } else {
        assert_eq!(
            cgroup_file(&d, "", &id, "memory.max"),
            (48u64 << 20).to_string()
        );
        assert_eq!(cgroup_file(&d, "", &id, "pids.max"), "33");
    }
    // A fork bomb stops at the pids limit.
    let bomb = stdout(&d.berth(&[
        "run",
        "-d",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "(for i in $(seq 1 30); do sleep 100 & done) 2>/dev/null; exec sleep 100",
    ]))
    .trim()
    .to_string();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let top = stdout(&d.berth(&["top", &bomb]));
    let n = top.lines().count() - 1;
    assert!(
        (2..=10).contains(&n),
        "pids limit not applied: {n} processes\n{top}"
    );
    assert_ok(&d.berth(&["rm", "-f", &bomb]));
    // Bad limits are refused up front.
    let bad = d.berth(&["run", "--rm", "-m", "1k", "busybox", "true"]);
    assert_eq!(code(&bad), 125);
    assert!(
        stderr(&bad).contains("Minimum memory limit"),
        "{}",
        stderr(&bad)
    );
    assert_ok(&d.berth(&["rm", "-f", &id]));
    assert!(
        cgroup_file(&d, "memory", &id, "memory.limit_in_bytes").is_empty(),
        "cgroup removed with the container"
    );
}

fn berth_runtime_is_v1() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory").is_dir()
}

#[test]
fn oom_kill_is_reported() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let out = d.berth(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "x=aaaaaaaa; while true; do x=$x$x; done",
    ]);
    assert_eq!(code(&out), 137);
    let st = d.docker(&[
        "inspect",
        "-f",
        "{{.State.OOMKilled}} {{.State.ExitCode}}",
        "hog",
    ]);
    assert_eq!(stdout(&st).trim(), "true 137");
}

#[test]
fn network_modes_none_default_and_host() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for (mode, links) in [("none", 1), ("default", 2), ("bridge", 2)] {
        let out = d.berth(&[
            "run",
            "--rm",
            "--network",
            mode,
            "busybox",
            "sh",
            "-c",
            "ip -o link | wc -l; ip -o addr show lo | grep -c 127.0.0.1",
        ]);
        assert_eq!(
            stdout(&out),
            format!("{links}\n1\n"),
            "mode {mode}: {}",
            stderr(&out)
        );
    }
    // Other tests add and remove links meanwhile: look for the host's own, and our bridge.
    let out = d.berth(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net | tr '\\n' ' '; echo; hostname",
    ]);
    let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
    let seen: Vec<&str> = lines[0].split_whitespace().collect();
    assert!(
        seen.contains(&"lo") && seen.contains(&d.bridge.as_str()),
        "{seen:?} {}",
        stderr(&out)
    );
    assert_eq!(
        lines[1],
        String::from_utf8_lossy(
            &std::process::Command::new("hostname")
                .output()
                .unwrap()
                .stdout
        )
        .trim()
    );
    // container:<name> shares the other's namespace: the same address and hostname.
    assert_ok(&d.berth(&["run", "-d", "--name", "netowner", "busybox", "sleep", "60"]));
    let addr = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend(args);
        a.extend([
            "busybox",
            "sh",
            "-c",
            "ip -o -4 addr show eth0 | awk '{print $4}'; hostname",
        ]);
        stdout(&d.berth(&a))
    };
    let own = stdout(&d.berth(&[
        "exec",
        "netowner",
        "sh",
        "-c",
        "ip -o -4 addr show eth0 | awk '{print $4}'; hostname",
    ]));
    assert!(own.contains(&format!("10.{}.0.", d.pool)), "{own}");
    assert_eq!(addr(&["--network", "container:netowner"]), own);
    let conflict = d.berth(&[
        "run",
        "--rm",
        "--network",
        "container:netowner",
        "-p",
        "80",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&conflict).contains("conflicting options"),
        "{}",
        stderr(&conflict)
    );
    assert_ok(&d.berth(&["rm", "-f", "netowner"]));
    let bad = d.berth(&[
        "run",
        "--rm",
        "--network",
        "container:netowner",
        "busybox",
        "true",
    ]);
    assert_ne!(code(&bad), 0);
    let bad = d.berth(&["run", "--rm", "--network", "nosuchnet", "busybox", "true"]);
    assert!(
        stderr(&bad).contains("network nosuchnet not found"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn user_workdir_env_entrypoint_and_etc_files() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // The primary group is a supplementary one too, as Docker shows it.
    let out = d.berth(&["run", "--rm", "-u", "nobody", "busybox", "id"]);
    assert_eq!(
        stdout(&out).trim(),
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    );
    let out = d.berth(&[
        "run",
        "--rm",
        "-u",
        "1234:5678",
        "busybox",
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    assert_eq!(stdout(&out), "1234\n5678\n");
    let out = d.berth(&["run", "--rm", "-u", "ghost", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    let out = d.berth(&["run", "--rm", "-w", "/new/dir", "busybox", "pwd"]);
    assert_eq!(stdout(&out), "/new/dir\n");
    let out = d.berth(&["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"]);
    assert_eq!(stdout(&out), "a b\n");
    let out = d.berth(&[
        "run",
        "--rm",
        "--hostname",
        "box1",
        "--add-host",
        "db:10.1.2.3",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hostname; grep db /etc/hosts; hostname",
    ]);
    assert_eq!(stdout(&out), "box1\n10.1.2.3\tdb\nbox1\n");
    // Docker's masked and read-only paths.
    let out = d.berth(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /proc/kcore | wc -c; echo x > /proc/sys/kernel/hostname || echo ro",
    ]);
    assert!(
        stdout(&out).starts_with("0\n") && stdout(&out).contains("ro"),
        "{} {}",
        stdout(&out),
        stderr(&out)
    );
    let out = d.berth(&["run", "--rm", "busybox", "ls", "/dev"]);
    for node in [
        "null", "zero", "random", "urandom", "tty", "full", "pts", "shm",
    ] {
        assert!(
            stdout(&out).split_whitespace().any(|n| n == node),
            "/dev/{node} missing: {}",
            stdout(&out)
        );
    }
}

#[test]
fn restart_and_log_rotation() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = stdout(&d.berth(&[
        "run",
        "-d",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 200); do echo line-$i; done; sleep 100",
    ]))
    .trim()
    .to_string();
    eventually("200 lines", 10, || {
        stdout(&d.berth(&["logs", "--tail", "1", &id])).trim() == "line-200"
    });
    let logs = stdout(&d.berth(&["logs", &id]));
    assert!(!logs.contains("line-1\n"), "the oldest lines rotated away");
    let files = std::fs::read_dir(d.data_root().join("containers").join(&id))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("-json.log")
        })
        .count();
    assert_eq!(files, 2);
    let pid1 = stdout(&d.berth(&["inspect", "-f", "{{.State.Pid}}", &id]))
        .trim()
        .to_string();
    assert_ok(&d.berth(&["restart", "-t", "0", &id]));
    let pid2 = stdout(&d.berth(&["inspect", "-f", "{{.State.Pid}} {{.State.Running}}", &id]))
        .trim()
        .to_string();
    assert!(
        pid2.ends_with("true") && !pid2.starts_with(&pid1),
        "{pid1} -> {pid2}"
    );
    assert_ok(&d.berth(&["rm", "-f", &id]));
}
