//! The real docker CLI (28.x) against berthd, one test per group of the
//! everyday commands the foundation issue lists.

mod common;

use common::*;

#[test]
fn version_info_and_system_df() {
    let d = Daemon::start();
    let v = d.docker(&[
        "version",
        "--format",
        "{{.Server.Version}} {{.Server.APIVersion}}",
    ]);
    assert_ok(&v);
    assert_eq!(
        stdout(&v).trim(),
        format!("{} 1.47", env!("CARGO_PKG_VERSION"))
    );
    let i = d.docker(&[
        "info",
        "--format",
        "{{.Driver}} {{.CgroupDriver}} {{.Containers}}",
    ]);
    assert_ok(&i);
    assert_eq!(stdout(&i).trim(), "overlay2 cgroupfs 0");
    d.import_busybox("busybox");
    let df = d.docker(&["system", "df"]);
    assert_ok(&df);
    assert!(stdout(&df).contains("Images          1"), "{}", stdout(&df));
}

#[test]
fn import_images_tag_rmi_save_load() {
    let d = Daemon::start();
    let tar = busybox_tar().to_str().unwrap();
    let imp = d.docker(&["import", "-c", "CMD [\"sh\"]", "-c", "ENV A=1", tar, "bb:1"]);
    assert_ok(&imp);
    let id = stdout(&imp).trim().to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    assert_ok(&d.docker(&["tag", "bb:1", "bb:2"]));
    let imgs = d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_ok(&imgs);
    let out = stdout(&imgs);
    assert!(out.contains("bb:1 ") && out.contains("bb:2 "), "{out}");
    let env = d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Config.Env}} {{.Config.Cmd}}",
        "bb:1",
    ]);
    assert_eq!(stdout(&env).trim(), "[A=1] [sh]");

    let saved = d.dir.path().join("bb.tar");
    assert_ok(&d.docker(&["save", "-o", saved.to_str().unwrap(), "bb:1"]));
    let rmi = d.docker(&["rmi", "bb:1", "bb:2"]);
    assert_ok(&rmi);
    assert!(
        stdout(&rmi).contains("Untagged: bb:1") && stdout(&rmi).contains("Deleted: sha256:"),
        "{}",
        stdout(&rmi)
    );
    assert_eq!(stdout(&d.docker(&["images", "-q"])).trim(), "");
    let load = d.docker(&["load", "-i", saved.to_str().unwrap()]);
    assert_ok(&load);
    assert!(
        stdout(&load).contains("Loaded image: bb:1"),
        "{}",
        stdout(&load)
    );
    let again = d.docker(&["image", "inspect", "-f", "{{.Id}}", "bb:1"]);
    assert_eq!(
        stdout(&again).trim(),
        id,
        "same image ID after save and load"
    );
    // Through stdin as well.
    let raw = std::fs::read(&saved).unwrap();
    assert_ok(&d.docker(&["rmi", "bb:1"]));
    assert_ok(&d.docker_stdin(&["load"], &raw));
    assert_ok(&d.docker(&["image", "inspect", "bb:1"]));
}

#[test]
fn run_rm_output_and_exit_codes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let out = d.docker(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "hello\n");
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo to-stderr >&2; exit 42",
    ]);
    assert_eq!(code(&out), 42);
    assert_eq!(stderr(&out), "to-stderr\n");
    let out = d.docker(&["run", "--rm", "busybox", "/no/such/cmd"]);
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    let out = d.docker(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));
    let out = d.docker(&["run", "--rm", "nosuchimage"]);
    assert_eq!(code(&out), 125);
    // --rm removed everything.
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])).trim(), "");
    // Isolation: own pid and uts namespaces, hostname = short id, env and workdir.
    let out = d.docker(&[
        "run",
        "--rm",
        "-e",
        "X=1",
        "-w",
        "/tmp",
        "busybox",
        "sh",
        "-c",
        "echo $$ $X $(pwd) $(cat /etc/hostname | wc -c)",
    ]);
    assert_eq!(stdout(&out), "1 1 /tmp 13\n");
}

#[test]
fn detached_ps_logs_inspect_top_stats_stop() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let run = d.docker(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "-m",
        "32m",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do echo tick; sleep 0.2; done",
    ]);
    assert_ok(&run);
    let id = stdout(&run).trim().to_string();
    assert_eq!(id.len(), 64);
    eventually("logs", 10, || {
        stdout(&d.docker(&["logs", "ticker"])).contains("tick")
    });
    let ps = d.docker(&["ps", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(stdout(&ps).trim(), "ticker running");
    let insp = d.docker(&[
        "inspect",
        "-f",
        "{{.State.Running}} {{.HostConfig.Memory}} {{.Name}}",
        "ticker",
    ]);
    assert_eq!(stdout(&insp).trim(), "true 33554432 /ticker");
    let top = d.docker(&["top", "ticker"]);
    assert_ok(&top);
    assert!(stdout(&top).contains("while true"), "{}", stdout(&top));
    let stats = d.docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
        "ticker",
    ]);
    assert_ok(&stats);
    assert!(
        stdout(&stats).contains("ticker") && stdout(&stats).contains("32MiB"),
        "{}",
        stdout(&stats)
    );
    assert_ok(&d.docker(&["pause", "ticker"]));
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{.State.Status}}", "ticker"])).trim(),
        "paused"
    );
    assert_ok(&d.docker(&["unpause", "ticker"]));
    assert_ok(&d.docker(&["rename", "ticker", "tocker"]));
    assert_ok(&d.docker(&["stop", "tocker"]));
    let st = d.docker(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "tocker",
    ]);
    assert_eq!(stdout(&st).trim(), "exited 0");
    let ps = d.docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        stdout(&ps).starts_with("tocker Exited (0)"),
        "{}",
        stdout(&ps)
    );
    assert_ok(&d.docker(&["rm", "tocker"]));
}

#[test]
fn kill_wait_rm_force() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = stdout(&d.docker(&["run", "-d", "busybox", "sleep", "1000"]))
        .trim()
        .to_string();
    assert_ok(&d.docker(&["kill", &id]));
    let w = d.docker(&["wait", &id]);
    assert_eq!(stdout(&w).trim(), "137");
    let id2 = stdout(&d.docker(&["run", "-d", "busybox", "sleep", "1000"]))
        .trim()
        .to_string();
    let rm = d.docker(&["rm", &id2]);
    assert_eq!(code(&rm), 1);
    assert!(
        stderr(&rm).contains("container is running"),
        "{}",
        stderr(&rm)
    );
    assert_ok(&d.docker(&["rm", "-f", &id2, &id]));
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])).trim(), "");
    let w = d.docker(&["wait", "nosuch"]);
    assert!(
        stderr(&w).contains("No such container: nosuch"),
        "{}",
        stderr(&w)
    );
}

/// `--log-driver none`: the container runs and attach shows its output
/// (`docker run` without -d attaches), but nothing is kept: `docker logs`
/// gets dockerd's 501, inspect has no LogPath, and no log file is written.
#[test]
fn log_driver_none_keeps_nothing_but_attaches() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let run = d.docker(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_ok(&run);
    assert_eq!(stdout(&run), "out\n");
    assert_eq!(stderr(&run), "err\n");
    let logs = d.docker(&["logs", "quiet"]);
    assert_fails_with(&logs, "configured logging driver does not support reading");
    let (status, _) = raw_http(
        &d.socket,
        "GET",
        "/containers/quiet/logs?stdout=1",
        "application/json",
        b"",
    );
    assert_eq!(status, 501);
    let lp = d.docker(&[
        "inspect",
        "-f",
        "{{.LogPath}}|{{.HostConfig.LogConfig.Type}}",
        "quiet",
    ]);
    assert_eq!(stdout(&lp).trim(), "|none");
    let id = stdout(&d.docker(&["inspect", "-f", "{{.Id}}", "quiet"]))
        .trim()
        .to_string();
    let dir = d.data_root().join("containers").join(&id);
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("json.log"))
        .collect();
    assert!(logs.is_empty(), "a log was written: {logs:?}");
    assert_ok(&d.docker(&["rm", "quiet"]));

    // The daemon's default (`log-driver` in daemon.json), shown by info.
    let d = Daemon::start_with(serde_json::json!({"log-driver": "none"}));
    d.import_busybox("busybox");
    let info = d.docker(&["info", "-f", "{{.LoggingDriver}}"]);
    assert_eq!(stdout(&info).trim(), "none");
    assert_ok(&d.docker(&["create", "--name", "dflt", "busybox", "true"]));
    let kind = d.docker(&["inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "dflt"]);
    assert_eq!(stdout(&kind).trim(), "none");
    let mut d = d;
    d.stop_daemon(libc::SIGTERM);
    let cfg = d.dir.path().join("syslog.json");
    std::fs::write(&cfg, r#"{"log-driver": "syslog"}"#).unwrap();
    let out = berthd_refusing(&[], &d.host(), &d.data_root(), &d.exec_root(), &cfg);
    assert_fails_with(
        &out,
        "log-driver \"syslog\" is not supported: json-file or none",
    );
}
