//! Restart policies with dockerd's semantics and back-off, events, and
//! `update` on a running container.

mod common;

use common::*;

fn inspect(d: &Daemon, fmt: &str, name: &str) -> String {
    stdout(&d.docker(&["inspect", "-f", fmt, name]))
        .trim()
        .to_string()
}

#[test]
fn always_restarts_with_backoff_until_stopped() {
    let d = Daemon::start();
    let since = (chrono_now() - 1).to_string();
    d.import_busybox("busybox");
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "flappy",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 1",
    ]));
    eventually("three restarts", 20, || {
        inspect(&d, "{{.RestartCount}}", "flappy")
            .parse::<i64>()
            .unwrap_or(0)
            >= 3
    });
    let logs = stdout(&d.docker(&["logs", "flappy"]));
    assert!(logs.matches("run").count() >= 3, "{logs}");
    assert_ok(&d.docker(&["stop", "flappy"]));
    assert_eq!(inspect(&d, "{{.State.Status}}", "flappy"), "exited");
    let count = inspect(&d, "{{.RestartCount}}", "flappy");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        inspect(&d, "{{.RestartCount}} {{.State.Status}}", "flappy"),
        format!("{count} exited"),
        "a stopped container stays down"
    );
    // Back-off: 100 ms, 200 ms, 400 ms, … between runs.
    let ev = stdout(&d.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &format!("{}", chrono_now() + 1),
        "--filter",
        "container=flappy",
        "--filter",
        "event=start",
        "--format",
        "{{.TimeNano}}",
    ]));
    let times: Vec<i64> = ev.lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert!(times.len() >= 4, "{ev}");
    let gaps: Vec<i64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .collect();
    assert!(gaps[2] > gaps[0], "back-off grows: {gaps:?} ms");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn on_failure_stops_at_its_maximum() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "limited",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]));
    eventually("gave up", 20, || {
        inspect(&d, "{{.RestartCount}} {{.State.Status}}", "limited") == "2 exited"
    });
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(
        inspect(&d, "{{.RestartCount}} {{.State.ExitCode}}", "limited"),
        "2 3"
    );
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "fine",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]));
    eventually("exited", 10, || {
        inspect(&d, "{{.State.Status}}", "fine") == "exited"
    });
    assert_eq!(
        inspect(&d, "{{.RestartCount}}", "fine"),
        "0",
        "a zero exit is not a failure"
    );
    let bad = d.docker(&[
        "run",
        "-d",
        "--rm",
        "--restart",
        "always",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&bad), 125, "--rm with a restart policy");
}

#[test]
fn policies_across_a_daemon_restart() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let always = stdout(&d.berth(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "1000",
    ]))
    .trim()
    .to_string();
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "stopped",
        "--restart",
        "unless-stopped",
        "busybox",
        "sleep",
        "1000",
    ]));
    assert_ok(&d.berth(&["stop", "-t", "0", "stopped"]));
    let pid = inspect(&d, "{{.State.Pid}}", &always);
    d.stop_daemon(libc::SIGTERM);
    // The container dies while berthd is down (as in a crash).
    unsafe { libc::kill(pid.parse().unwrap(), libc::SIGKILL) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    d.spawn();
    eventually("always came back", 10, || {
        inspect(&d, "{{.State.Status}} {{.RestartCount}}", "always") == "running 1"
    });
    assert_ne!(inspect(&d, "{{.State.Pid}}", "always"), pid);
    assert_eq!(
        inspect(&d, "{{.State.Status}}", "stopped"),
        "exited",
        "stopped by the user, stays stopped"
    );
}

#[test]
fn events_stream_and_filters() {
    let d = Daemon::start();
    let since = chrono_now() - 1;
    d.import_busybox("busybox");
    // A live subscriber sees events as they happen.
    let live = std::process::Command::new(DOCKER)
        .args([
            "events",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .env("DOCKER_HOST", d.host())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        code(&d.docker(&[
            "run", "--rm", "--name", "ev1", "-l", "app=x", "busybox", "sh", "-c", "exit 2"
        ])),
        2
    );
    let until = chrono_now() + 1;
    let all = stdout(&d.docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--format",
        "{{.Type}} {{.Action}}",
    ]));
    let lines: Vec<&str> = all.lines().collect();
    let want = [
        "image import",
        "container create",
        "container start",
        "container die",
        "container destroy",
    ];
    let mut pos = 0;
    for w in want {
        pos = lines[pos..]
            .iter()
            .position(|l| *l == w)
            .map(|i| pos + i)
            .unwrap_or_else(|| panic!("{w} missing in order: {lines:?}"));
    }
    let die = stdout(&d.docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "event=die",
        "--filter",
        "label=app=x",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]));
    assert_eq!(die.trim(), "2");
    let none = stdout(&d.berth(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "container=nosuch",
    ]));
    assert_eq!(none, "");
    let berth_lines = stdout(&d.berth(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "event=create",
    ]));
    assert!(
        berth_lines.contains(" container create ") && berth_lines.contains("name=ev1"),
        "{berth_lines}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    unsafe { libc::kill(live.id() as i32, libc::SIGTERM) };
    let out = live.wait_with_output().unwrap();
    let seen = stdout(&out);
    assert!(
        seen.contains("create ev1") && seen.contains("die ev1") && seen.contains("destroy ev1"),
        "{seen}"
    );
    let (s, _) = raw_http(
        &d.socket,
        "GET",
        "/events?filters=%7Bnope",
        "application/json",
        b"",
    );
    assert_eq!(s, 400);
}

#[test]
fn update_a_running_container() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = stdout(&d.docker(&["run", "-d", "-m", "32m", "busybox", "sleep", "1000"]))
        .trim()
        .to_string();
    assert_ok(&d.docker(&[
        "update",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "40",
        "--cpu-shares",
        "300",
        "--restart",
        "on-failure:3",
        &id,
    ]));
    let cg = |ctl: &str, file: &str| {
        std::fs::read_to_string(format!(
            "/sys/fs/cgroup/{ctl}/{}/{id}/{file}",
            d.cgroup_parent
        ))
        .unwrap_or_default()
        .trim()
        .to_string()
    };
    if std::path::Path::new("/sys/fs/cgroup/memory").is_dir() {
        assert_eq!(
            cg("memory", "memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(cg("pids", "pids.max"), "40");
        assert_eq!(cg("cpu", "cpu.shares"), "300");
    }
    assert_eq!(inspect(&d, "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", &id), "67108864 40 on-failure:3");
    let bad = d.berth(&["update", "-m", "1k", &id]);
    assert_eq!(code(&bad), 1);
    assert!(
        stderr(&bad).contains("Minimum memory limit"),
        "{}",
        stderr(&bad)
    );
    assert_ok(&d.berth(&["update", "--cpus", "0.5", &id]));
    if std::path::Path::new("/sys/fs/cgroup/cpu").is_dir() {
        assert_eq!(cg("cpu", "cpu.cfs_quota_us"), "50000");
    }
}

/// Between two runs a container is `restarting` (Running too, as dockerd
/// has it): `ps` lists it, the status filter finds it, rm and exec refuse it
/// with dockerd's errors, and stop ends the loop with its last exit code.
#[test]
fn a_container_in_back_off_is_restarting() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "backoff",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]));
    // After five runs the back-off is 3.2 s: long enough to look at. (The
    // count goes up just before a start: the same state 200 ms apart is a
    // wait, not the moment before the next run.)
    let waiting = || {
        inspect(&d, "{{.RestartCount}} {{.State.Status}}", "backoff")
            .split_once(' ')
            .filter(|(n, s)| n.parse::<i64>().unwrap_or(0) >= 5 && *s == "restarting")
            .map(|(n, _)| n.to_string())
    };
    eventually("five restarts, then a wait", 20, || {
        let Some(n) = waiting() else { return false };
        std::thread::sleep(std::time::Duration::from_millis(200));
        waiting() == Some(n)
    });
    assert_eq!(
        inspect(
            &d,
            "{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}} {{.State.Pid}}",
            "backoff"
        ),
        "restarting true true 3 0"
    );
    let ps = stdout(&d.docker(&["ps", "--format", "{{.Names}}|{{.Status}}|{{.State}}"]));
    assert!(
        ps.lines()
            .any(|l| l.starts_with("backoff|Restarting (3) ") && l.ends_with("|restarting")),
        "{ps}"
    );
    let filtered = stdout(&d.docker(&["ps", "-a", "-q", "--filter", "status=restarting"]));
    assert_eq!(filtered.lines().count(), 1, "{filtered}");
    let rm = d.docker(&["rm", "backoff"]);
    assert!(
        stderr(&rm).contains(
            "cannot remove container \"/backoff\": container is restarting: stop the container before removing or force remove"
        ),
        "{}",
        stderr(&rm)
    );
    let exec = d.docker(&["exec", "backoff", "true"]);
    assert!(
        stderr(&exec).contains("is restarting, wait until the container is running"),
        "{}",
        stderr(&exec)
    );
    let again = d.docker(&["start", "backoff"]);
    assert_ok(&again);
    assert_ok(&d.docker(&["stop", "-t", "1", "backoff"]));
    assert_eq!(
        inspect(
            &d,
            "{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}}",
            "backoff"
        ),
        "exited false false 3"
    );
    assert_ok(&d.docker(&["rm", "backoff"]));
}

/// `kill` returns once the exit is recorded: inspect right after says
/// 137, and rm right after succeeds, every time.
#[test]
fn kill_returns_after_the_exit_is_recorded() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for i in 0..5 {
        let name = format!("killed{i}");
        assert_ok(&d.docker(&["run", "-d", "--name", &name, "busybox", "sleep", "100"]));
        assert_ok(&d.docker(&["kill", &name]));
        assert_eq!(
            inspect(
                &d,
                "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}",
                &name
            ),
            "exited false 137"
        );
        assert_ok(&d.docker(&["rm", &name]));
    }
    // A signal other than SIGKILL returns once sent; the exit follows.
    // (PID 1 has no default action for TERM: the shell traps it.)
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "termed",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done",
    ]));
    eventually("the trap set", 20, || {
        stdout(&d.docker(&["logs", "termed"])).contains("ready")
    });
    assert_ok(&d.docker(&["kill", "-s", "TERM", "termed"]));
    eventually("the TERM exit", 10, || {
        inspect(&d, "{{.State.Status}} {{.State.ExitCode}}", "termed") == "exited 7"
    });
    let again = d.docker(&["kill", "termed"]);
    assert!(
        stderr(&again).contains("is not running"),
        "{}",
        stderr(&again)
    );
}
