//! Interactive containers: TTYs driven through a real terminal (tmux),
//! stdin without a TTY, exec, detach and re-attach, resize, and a daemon
//! that stays healthy when attach clients vanish.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn cli(d: &Daemon, docker: bool, args: &str) -> String {
    if docker {
        format!(
            "env DOCKER_HOST={} DOCKER_CONFIG={} {DOCKER} {args}; echo EXITED=$?; sleep 30",
            d.host(),
            d.dir.path().join("dc").display()
        )
    } else {
        format!(
            "{} -H {} {args}; echo EXITED=$?; sleep 30",
            bin("berth").display(),
            d.host()
        )
    }
}

fn tty_session(docker: bool) {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let t = Tmux::new(&cli(&d, docker, "run -it --name box busybox sh"));
    t.wait_for("/ #");
    t.keys(&["echo $((6*7))", "Enter"]);
    t.wait_for("42");
    t.keys(&["tty", "Enter"]);
    t.wait_for("/dev/pts/0");
    t.resize(100, 30);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["stty size", "Enter"]);
    t.wait_for("30 100");
    // Ctrl-P Ctrl-Q detaches; the container keeps running.
    t.keys(&["C-p", "C-q"]);
    t.wait_for("EXITED=0");
    let st = d.docker(&["inspect", "-f", "{{.State.Running}}", "box"]);
    assert_eq!(stdout(&st).trim(), "true");
    drop(t);
    let t = Tmux::new(&cli(&d, docker, "attach box"));
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["echo back-$((1+1))", "Enter"]);
    t.wait_for("back-2");
    t.keys(&["exit 5", "Enter"]);
    t.wait_for("EXITED=5");
    let st = d.docker(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "box",
    ]);
    assert_eq!(stdout(&st).trim(), "exited 5");
    // exec -it into a running container.
    assert_ok(&d.berth(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]));
    let t = Tmux::new(&cli(&d, docker, "exec -it web sh"));
    t.wait_for("/ #");
    t.keys(&["echo in-exec; ps | grep -c sleep", "Enter"]);
    t.wait_for("in-exec");
    t.keys(&["exit 3", "Enter"]);
    t.wait_for("EXITED=3");
}

#[test]
fn tty_run_detach_attach_exec_with_berth() {
    tty_session(false);
}

#[test]
fn tty_run_detach_attach_exec_with_docker() {
    tty_session(true);
}

#[test]
fn stdin_without_tty() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for docker in [false, true] {
        let args = ["run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done"];
        let out = if docker {
            d.docker_stdin(&args, b"line one\nline two\n")
        } else {
            d.berth_stdin(&args, b"line one\nline two\n")
        };
        assert_eq!(
            stdout(&out),
            "line one\nline two\ndone\n",
            "docker={docker}: {}",
            stderr(&out)
        );
    }
    let out = d.berth_stdin(
        &["run", "-i", "--rm", "busybox", "wc", "-c"],
        &vec![b'x'; 300_000],
    );
    assert_eq!(stdout(&out).trim(), "300000");
}

#[test]
fn exec_in_running_and_stopped_containers() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.berth(&[
        "run", "-d", "--name", "web", "-e", "BASE=1", "busybox", "sleep", "1000",
    ]));
    for docker in [false, true] {
        let run = |args: &[&str]| {
            if docker {
                d.docker(args)
            } else {
                d.berth(args)
            }
        };
        let out = run(&["exec", "web", "sh", "-c", "echo out; echo err >&2; exit 4"]);
        assert_eq!(
            (stdout(&out).as_str(), stderr(&out).as_str(), code(&out)),
            ("out\n", "err\n", 4)
        );
        let out = run(&[
            "exec",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "-e",
            "X=2",
            "web",
            "sh",
            "-c",
            "id -u; pwd; echo $BASE$X",
        ]);
        assert_eq!(stdout(&out), "65534\n/tmp\n12\n");
        // The exec'd process is in the container's pid namespace and cgroup.
        let out = run(&[
            "exec",
            "web",
            "sh",
            "-c",
            "ps -o pid,comm | grep -c sleep; cat /proc/1/comm",
        ]);
        assert_eq!(stdout(&out), "1\nsleep\n");
        let cg = run(&["exec", "web", "cat", "/proc/self/cgroup"]);
        assert!(
            stdout(&cg).contains(&d.cgroup_parent),
            "exec joins the container's cgroup: {}",
            stdout(&cg)
        );
        // dockerd's exit code for any exec that cannot start, not found included.
        assert_eq!(code(&run(&["exec", "web", "nosuch"])), 126);
        assert_eq!(code(&run(&["exec", "web", "/etc/passwd"])), 126);
        let out = if docker {
            d.docker_stdin(&["exec", "-i", "web", "cat"], b"via stdin\n")
        } else {
            d.berth_stdin(&["exec", "-i", "web", "cat"], b"via stdin\n")
        };
        assert_eq!(stdout(&out), "via stdin\n");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ev = stdout(&d.berth(&[
        "events",
        "--since",
        &(now - 60).to_string(),
        "--until",
        &(now + 1).to_string(),
        "--filter",
        "event=exec_die",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]));
    assert!(ev.lines().any(|l| l == "4"), "exec_die events: {ev}");
    assert_ok(&d.berth(&["exec", "-d", "web", "touch", "/tmp/detached"]));
    eventually("detached exec ran", 10, || {
        code(&d.berth(&["exec", "web", "test", "-f", "/tmp/detached"])) == 0
    });
    // API: errors as dockerd's.
    let (s, b) = raw_http(
        &d.socket,
        "POST",
        "/containers/web/exec",
        "application/json",
        br#"{"Cmd":[]}"#,
    );
    assert_eq!(s, 400, "{b}");
    let (s, b) = raw_http(
        &d.socket,
        "POST",
        "/containers/web/exec",
        "application/json",
        br#"{"Cmd":["true"]}"#,
    );
    assert_eq!(s, 201);
    let id = serde_json::from_str::<serde_json::Value>(&b).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    for (h, w) in [(0, 80), (24, 0), (99999999, 80), (-1, 5)] {
        let (s, _) = raw_http(
            &d.socket,
            "POST",
            &format!("/exec/{id}/resize?h={h}&w={w}"),
            "text/plain",
            b"",
        );
        assert_eq!(s, 400, "resize {h}x{w}");
    }
    let (s, _) = raw_http(
        &d.socket,
        "GET",
        "/exec/nosuch/json",
        "application/json",
        b"",
    );
    assert_eq!(s, 404);
    let (s, _) = raw_http(
        &d.socket,
        "POST",
        "/containers/web/resize?h=0&w=0",
        "text/plain",
        b"",
    );
    assert_eq!(s, 400);
    assert_ok(&d.berth(&["stop", "-t", "0", "web"]));
    let out = d.docker(&["exec", "web", "true"]);
    assert!(stderr(&out).contains("is not running"), "{}", stderr(&out));
    let (s, _) = raw_http(
        &d.socket,
        "POST",
        "/containers/web/exec",
        "application/json",
        br#"{"Cmd":["true"]}"#,
    );
    assert_eq!(s, 409);
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn dropped_attach_clients_leak_nothing() {
    use std::io::Write;
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "-i",
        "--name",
        "cat",
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.05; done",
    ]));
    // Warm up, then measure.
    let attach = |n: usize| {
        for _ in 0..n {
            let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
            let _ = s.write_all(b"POST /containers/cat/attach?stream=1&stdout=1&stdin=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
            let mut buf = [0u8; 256];
            let _ = std::io::Read::read(&mut s, &mut buf);
            drop(s);
        }
    };
    attach(5);
    std::thread::sleep(Duration::from_millis(500));
    let before = fd_count(d.pid());
    attach(200);
    eventually("fds back to normal", 20, || fd_count(d.pid()) <= before + 5);
    let st = d.berth(&["inspect", "-f", "{{.State.Running}}", "cat"]);
    assert_eq!(stdout(&st).trim(), "true");
    assert_ok(&d.berth(&["version"]));
}

#[test]
fn attach_over_websocket() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.berth(&["run", "-d", "-i", "--name", "echoer", "busybox", "cat"]));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sock = tokio::net::UnixStream::connect(&d.socket).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(
            "ws://localhost/v1.47/containers/echoer/attach/ws?stream=1&stdout=1&stdin=1",
            sock,
        )
        .await
        .unwrap();
        ws.send(Message::Binary(b"over the socket\n".to_vec().into()))
            .await
            .unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"over the socket\n") {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Binary(b)))) => got.extend_from_slice(&b),
                Ok(Some(Ok(_))) => {}
                other => panic!("no echo: {other:?}"),
            }
        }
        let _ = ws.close(None).await;
    });
    let (s, _) = raw_http(
        &d.socket,
        "GET",
        "/containers/nosuch/attach/ws",
        "text/plain",
        b"",
    );
    assert_eq!(s, 404);
}

#[test]
fn sig_proxy_and_start_attach_interactive() {
    use std::io::BufRead;
    let d = Daemon::start();
    d.import_busybox("busybox");
    // Ctrl-C to the CLI reaches the container (--sig-proxy, the default).
    let mut child = Command::new(bin("berth"))
        .args([
            "-H",
            &d.host(),
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-int; exit 9' INT; echo ready; while true; do sleep 0.1; done",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    std::thread::sleep(Duration::from_millis(200));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(lines.next().unwrap().unwrap(), "got-int");
    assert_eq!(child.wait().unwrap().code(), Some(9));
    // start -ai: stdin of a created container.
    assert_ok(&d.berth(&[
        "create",
        "-i",
        "--name",
        "later",
        "busybox",
        "sh",
        "-c",
        "read x; echo got-$x",
    ]));
    let out = d.berth_stdin(&["start", "-ai", "later"], b"abc\n");
    assert_eq!(stdout(&out), "got-abc\n");
}

/// `docker exec -it --detach-keys …` (DetachKeys in the exec's create body)
/// ends the session on those keys, not on the default ones; the exec's
/// process runs on. A bad key spec is refused at create, as dockerd does.
#[test]
fn exec_detach_keys_from_the_create_body() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.docker(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]));
    let t = Tmux::new(&cli(
        &d,
        true,
        "exec -it --detach-keys ctrl-x,ctrl-y web sh",
    ));
    t.wait_for("/ #");
    // The default keys are passed on to the shell, not taken as a detach.
    t.keys(&["C-p", "C-q"]);
    t.keys(&["echo still-$((2+3))", "Enter"]);
    t.wait_for("still-5");
    t.keys(&["C-x", "C-y"]);
    t.wait_for("EXITED=");
    let top = stdout(&d.docker(&["top", "web"]));
    assert!(
        top.lines().any(|l| l.trim_end().ends_with(" sh")),
        "the detached exec runs on:\n{top}"
    );
    let (s, body) = raw_http(
        &d.socket,
        "POST",
        "/containers/web/exec",
        "application/json",
        br#"{"Cmd":["true"],"DetachKeys":"ctrl-P"}"#,
    );
    assert_eq!(s, 400, "{body}");
    assert!(
        body.contains("Invalid escape keys (ctrl-P) provided"),
        "{body}"
    );
}
