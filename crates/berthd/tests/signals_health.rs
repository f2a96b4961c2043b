//! Stopping and signals (StopSignal, StopTimeout, kill -s, --init) and
//! healthchecks (HEALTHCHECK from the image and from flags).

mod common;

use std::time::{Duration, Instant};

use common::*;

fn inspect(d: &Daemon, fmt: &str, name: &str) -> String {
    stdout(&d.berth(&["inspect", "-f", fmt, name]))
        .trim()
        .to_string()
}

#[test]
fn stop_signals_timeouts_and_kill() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // PID 1 that ignores SIGTERM: SIGKILLed when the timeout runs out.
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.1; done",
    ]));
    let t = Instant::now();
    assert_ok(&d.docker(&["stop", "-t", "1", "stubborn"]));
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "waited for the timeout"
    );
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "stubborn"), "137");
    // StopSignal from the image, StopTimeout from the config.
    let tar = busybox_tar().to_str().unwrap();
    assert_ok(&d.berth(&["import", "-c", "STOPSIGNAL SIGUSR1", tar, "usr1"]));
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "polite",
        "--stop-timeout",
        "20",
        "usr1",
        "sh",
        "-c",
        "trap 'exit 42' USR1; echo ready; while true; do sleep 0.1; done",
    ]));
    eventually("the trap set", 20, || {
        stdout(&d.docker(&["logs", "polite"])).contains("ready")
    });
    assert_eq!(
        inspect(
            &d,
            "{{.Config.StopSignal}} {{.Config.StopTimeout}}",
            "polite"
        ),
        "SIGUSR1 20"
    );
    let t = Instant::now();
    assert_ok(&d.berth(&["stop", "polite"]));
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "polite"), "42");
    // kill -s with a name and with a number.
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "kk",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 10' HUP; trap 'exit 12' USR2; echo ready; while true; do sleep 0.1; done",
    ]));
    // Signalled before its traps are set, PID 1 would ignore the signal.
    let readies = |n: usize| {
        eventually("the traps set", 20, || {
            stdout(&d.docker(&["logs", "kk"])).matches("ready").count() >= n
        })
    };
    readies(1);
    assert_ok(&d.docker(&["kill", "-s", "HUP", "kk"]));
    eventually("HUP handled", 10, || {
        inspect(&d, "{{.State.Status}} {{.State.ExitCode}}", "kk") == "exited 10"
    });
    assert_ok(&d.berth(&["start", "kk"]));
    readies(2);
    assert_ok(&d.berth(&["kill", "-s", "12", "kk"]));
    eventually("USR2 handled", 10, || {
        inspect(&d, "{{.State.Status}} {{.State.ExitCode}}", "kk") == "exited 12"
    });
    let (s, _) = raw_http(
        &d.socket,
        "POST",
        "/containers/kk/kill?signal=SIGBOGUS",
        "text/plain",
        b"",
    );
    assert_eq!(s, 400);
}

#[test]
fn init_forwards_signals_and_reaps() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let out = d.berth(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 3",
    ]);
    assert_eq!(code(&out), 3);
    assert!(
        stdout(&out).starts_with("/sbin/docker-init -- sh -c"),
        "{}",
        stdout(&out)
    );
    // `sleep` is not PID 1 under the init, so SIGTERM ends it at once.
    assert_ok(&d.docker(&[
        "run", "-d", "--init", "--name", "sleeper", "busybox", "sleep", "1000",
    ]));
    let t = Instant::now();
    assert_ok(&d.berth(&["stop", "-t", "10", "sleeper"]));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "init forwarded SIGTERM"
    );
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "sleeper"), "143");
    // Orphans are reaped: no zombies pile up.
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--init",
        "--name",
        "orphans",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do sh -c 'sleep 0.1 &'; done; sleep 1000",
    ]));
    std::thread::sleep(Duration::from_millis(800));
    let ps = stdout(&d.berth(&["exec", "orphans", "ps", "-o", "stat,comm"]));
    assert!(
        !ps.lines().any(|l| l.trim_start().starts_with('Z')),
        "zombies left:\n{ps}"
    );
    let out = d.berth(&["run", "--rm", "--init", "busybox", "nosuchcommand"]);
    assert_eq!(code(&out), 127);
}

#[test]
fn healthchecks() {
    let d = Daemon::start();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let tar = busybox_tar().to_str().unwrap();
    d.import_busybox("busybox");
    // From flags: healthy once the file exists.
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "web",
        "--health-cmd",
        "test -f /tmp/ready && echo ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sh",
        "-c",
        "sleep 1; touch /tmp/ready; sleep 1000",
    ]));
    assert_eq!(inspect(&d, "{{.State.Health.Status}}", "web"), "starting");
    eventually("healthy", 15, || {
        inspect(&d, "{{.State.Health.Status}}", "web") == "healthy"
    });
    let log = inspect(&d, "{{json .State.Health.Log}}", "web");
    assert!(
        log.contains("\"Output\":\"ok\\n\"") && log.contains("\"ExitCode\":0"),
        "{log}"
    );
    let ps = stdout(&d.docker(&[
        "ps",
        "--filter",
        "health=healthy",
        "--format",
        "{{.Names}} {{.Status}}",
    ]));
    assert!(ps.starts_with("web Up") && ps.contains("(healthy)"), "{ps}");
    // Becomes unhealthy after `retries` failures.
    assert_ok(&d.berth(&["exec", "web", "rm", "/tmp/ready"]));
    eventually("unhealthy", 15, || {
        inspect(
            &d,
            "{{.State.Health.Status}} {{.State.Health.FailingStreak}}",
            "web",
        )
        .starts_with("unhealthy")
    });
    // From the image's HEALTHCHECK: an image whose config carries one, loaded.
    let saved = d.dir.path().join("bb.tar");
    assert_ok(&d.berth(&["save", "-o", saved.to_str().unwrap(), "busybox"]));
    let with_hc = image_with_healthcheck(&saved, d.dir.path());
    assert_ok(&d.berth(&["load", "-i", with_hc.to_str().unwrap()]));
    assert_ok(&d.berth(&["run", "-d", "--name", "fromimage", "hc:1", "sleep", "1000"]));
    eventually("image healthcheck ran", 15, || {
        inspect(&d, "{{.State.Health.Status}}", "fromimage") == "unhealthy"
    });
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "optout",
        "--no-healthcheck",
        "hc:1",
        "sleep",
        "1000",
    ]));
    assert_eq!(
        inspect(&d, "{{.State.Health}}", "optout"),
        "<nil>",
        "as docker's typed nil"
    );
    let _ = tar;
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let ev = stdout(&d.docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}}",
    ]));
    assert!(
        ev.contains("health_status: healthy") && ev.contains("health_status: unhealthy"),
        "{ev}"
    );
    // A check that outlives its timeout fails.
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 5",
        "--health-interval",
        "200ms",
        "--health-timeout",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]));
    eventually("timeout counts as failure", 15, || {
        inspect(&d, "{{.State.Health.Status}}", "slow") == "unhealthy"
    });
    // --no-healthcheck and a plain container have no Health.
    assert_ok(&d.berth(&["run", "-d", "--name", "plain", "busybox", "sleep", "1000"]));
    assert_eq!(inspect(&d, "{{.State.Health}}", "plain"), "<nil>");
}

/// Rewrites a saved archive: the config gains `Healthcheck` (always failing,
/// every 200 ms, one retry) and the image is tagged `hc:1`.
fn image_with_healthcheck(saved: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Read;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ar = tar::Archive::new(std::fs::File::open(saved).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.push((name, data));
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&files.iter().find(|(n, _)| n == "manifest.json").unwrap().1)
            .unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();
    let mut config: serde_json::Value =
        serde_json::from_slice(&files.iter().find(|(n, _)| *n == config_name).unwrap().1).unwrap();
    config["config"]["Healthcheck"] =
        serde_json::json!({"Test": ["CMD-SHELL", "exit 1"], "Interval": 200_000_000, "Retries": 1});
    let mut new_manifest = manifest.clone();
    new_manifest[0]["Config"] = "hc-config.json".into();
    new_manifest[0]["RepoTags"] = serde_json::json!(["hc:1"]);
    let out = dir.join("hc.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    for (n, data) in &files {
        if n.starts_with("blobs/") {
            add(n, data);
        }
    }
    add("hc-config.json", &serde_json::to_vec(&config).unwrap());
    add("manifest.json", &serde_json::to_vec(&new_manifest).unwrap());
    b.finish().unwrap();
    out
}

/// A container's processes start with no signal ignored or blocked, as
/// dockerd's do, whatever the daemon ignores (SIGPIPE, as every Rust
/// program; SIGHUP when started under nohup, as the test suite may be).
#[test]
fn processes_start_with_default_signal_actions() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // grep itself (a shell would ignore SIGQUIT on its own, in any engine).
    let status = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"];
    let run = stdout(&d.docker(&[&["run", "--rm", "busybox"][..], &status].concat()));
    assert_eq!(
        run,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
    assert_ok(&d.docker(&["run", "-d", "--name", "sig", "busybox", "sleep", "100"]));
    let exec = stdout(&d.docker(&[&["exec", "sig"][..], &status].concat()));
    assert_eq!(exec, run, "an exec too");
    // A writer to a closed pipe ends on SIGPIPE.
    let piped = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "yes | head -1; echo done",
    ]);
    assert_eq!(stdout(&piped), "y\ndone\n", "{}", stderr(&piped));
}
