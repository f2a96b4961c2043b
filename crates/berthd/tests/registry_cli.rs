//! The berth CLI's registry commands: `login`/`logout` with credentials in
//! `config.json` (docker's format: the docker CLI reads what berth wrote) or
//! in a credential helper program, and `pull -a`/`-q`, `push`, and `build`
//! of a FROM image behind auth.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// berth with this daemon's config dir and a PATH that finds `bin`'s helpers.
fn berth(d: &Daemon, bin_dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run_with_stdin(
        Command::new(bin("berth"))
            .arg("-H")
            .arg(d.host())
            .args(args)
            .env("BERTH_CONFIG", d.berth_config())
            .env("PATH", path),
        stdin,
    )
}

/// A `docker-credential-test` helper keeping credentials in a JSON file.
fn helper(bin_dir: &Path) -> std::path::PathBuf {
    let store = bin_dir.join("helper-store.json");
    let script = format!(
        r#"#!/usr/bin/env python3
import json, os, sys
store = {store:?}
verb, data = sys.argv[1], sys.stdin.read()
db = json.load(open(store)) if os.path.exists(store) else {{}}
if verb == "store":
    c = json.loads(data)
    db[c["ServerURL"]] = c
elif verb in ("get", "erase"):
    s = data.strip()
    if s not in db:
        print("credentials not found in native keychain")
        sys.exit(1)
    if verb == "get":
        print(json.dumps(db[s]))
    else:
        del db[s]
elif verb == "list":
    print(json.dumps({{k: v["Username"] for k, v in db.items()}}))
json.dump(db, open(store, "w"))
"#,
        store = store.display().to_string()
    );
    let p = bin_dir.join("docker-credential-test");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    store
}

#[test]
fn login_logout_config_json_helpers_and_pulls() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("htpasswd");
    std::fs::write(
        &users,
        format!("alice:{}\n", bcrypt::hash("s3cret", 4).unwrap()),
    )
    .unwrap();
    let reg = Registry::start(&["--htpasswd", users.to_str().unwrap()]);
    let a = reg.addr.as_str();
    let d = Daemon::start();
    d.import_busybox("busybox");
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let b = |args: &[&str], stdin: &[u8]| berth(&d, &bin_dir, args, stdin);
    let config = d.berth_config().join("config.json");

    let o = b(&["login", "-u", "alice", "--password-stdin", a], b"wrong\n");
    assert_ne!(code(&o), 0);
    assert!(!config.exists(), "a failed login keeps nothing");
    let o = b(
        &["login", "-u", "alice", "--password-stdin", a],
        b"s3cret\n",
    );
    assert_ok(&o);
    assert_eq!(stdout(&o), "Login Succeeded\n");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(
        saved["auths"][a]["auth"],
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    );
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Two tags pushed with the kept credentials; `pull -a` brings both back.
    for t in ["1", "2"] {
        assert_ok(&b(&["tag", "busybox", &format!("{a}/lib/bb:{t}")], b""));
        assert_ok(&b(&["push", &format!("{a}/lib/bb:{t}")], b""));
        assert_ok(&b(&["rmi", &format!("{a}/lib/bb:{t}")], b""));
    }
    // skopeo, basic auth over plain HTTP: refused without credentials.
    let skopeo = |creds: &[&str]| {
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .args(creds)
            .arg(format!("docker://{a}/lib/bb:1"))
            .output()
            .unwrap()
    };
    assert_ne!(code(&skopeo(&[])), 0);
    assert_ok(&skopeo(&["--creds", "alice:s3cret"]));
    // A repository of its own: the layer is mounted from lib/bb.
    assert_ok(&b(&["tag", "busybox", &format!("{a}/lib/other:1")], b""));
    let o = b(&["push", &format!("{a}/lib/other:1")], b"");
    assert_ok(&o);
    assert!(stdout(&o).contains("Mounted from lib/bb"), "{}", stdout(&o));
    let o = b(&["pull", "-a", &format!("{a}/lib/bb")], b"");
    assert_ok(&o);
    let listed = stdout(&b(
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            &format!("{a}/lib/bb"),
        ],
        b"",
    ));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let o = b(&["pull", "-a", &format!("{a}/lib/bb:1")], b"");
    assert_ne!(code(&o), 0, "-a with a tag is refused");
    let o = b(&["pull", "-q", &format!("{a}/lib/bb:1")], b"");
    assert_ok(&o);
    assert_eq!(stdout(&o), format!("{a}/lib/bb:1\n"));

    // The docker CLI reads the file berth wrote: same format.
    assert_ok(&d.docker(&["tag", "busybox", &format!("{a}/lib/bydocker:1")]));
    let o = Command::new(DOCKER)
        .args([
            "--config",
            d.berth_config().to_str().unwrap(),
            "push",
            &format!("{a}/lib/bydocker:1"),
        ])
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    assert_ok(&o);

    let o = b(&["logout", a], b"");
    assert_eq!(stdout(&o), format!("Removing login credentials for {a}\n"));
    let o = b(&["pull", &format!("{a}/lib/bb:1")], b"");
    assert_ne!(code(&o), 0, "logged out: the pull is refused");
    assert!(
        stderr(&o).contains("authentication required"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        stdout(&b(&["logout", a], b"")),
        format!("Not logged in to {a}\n")
    );

    // A credential helper keeps them instead; the file only names the server.
    let store = helper(&bin_dir);
    std::fs::write(
        &config,
        r#"{"credsStore": "test", "psFormat": "kept as is"}"#,
    )
    .unwrap();
    assert_ok(&b(
        &["login", "-u", "alice", "--password-stdin", a],
        b"s3cret\n",
    ));
    let held: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    assert_eq!(held[a]["Secret"], "s3cret");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(saved["auths"][a], serde_json::json!({}));
    assert_eq!(saved["psFormat"], "kept as is");
    // A build pulls its FROM image with them (X-Registry-Config).
    assert_ok(&b(&["rmi", &format!("{a}/lib/bb:1")], b""));
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {a}/lib/bb:1\nRUN echo built > /b\n"),
    )
    .unwrap();
    let o = b(&["build", "-t", "built", ctx.to_str().unwrap()], b"");
    assert_ok(&o);
    assert_eq!(
        stdout(&b(&["run", "--rm", "built", "cat", "/b"], b"")),
        "built\n"
    );
    assert_ok(&b(&["logout", a], b""));
    let held: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    assert!(held.get(a).is_none(), "{held}");

    // credHelpers: a helper for this registry only.
    std::fs::write(&config, format!(r#"{{"credHelpers": {{"{a}": "test"}}}}"#)).unwrap();
    assert_ok(&b(
        &["login", "-u", "alice", "--password-stdin", a],
        b"s3cret\n",
    ));
    let held: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    assert_eq!(held[a]["Username"], "alice");
    assert_ok(&b(&["pull", &format!("{a}/lib/bb:2")], b""));
    assert_ok(&b(&["logout", a], b""));
    let o = b(&["pull", &format!("{a}/lib/bb:1")], b"");
    assert_ne!(code(&o), 0, "logged out of the helper: refused");
}

/// A loopback proxy to `upstream` that, once, cuts a blob download short
/// after 64 KiB (the connection drops mid-layer).
fn cutting_proxy(upstream: String) -> String {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cut_done = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { return };
            let Ok(mut server) = std::net::TcpStream::connect(&upstream) else {
                return;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let wants_blob = Arc::new(AtomicBool::new(false));
            let seen = wants_blob.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = c2.read(&mut buf) {
                    if n == 0 || s2.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if text.starts_with("GET ") && text.contains("/blobs/sha256:") {
                        seen.store(true, Ordering::SeqCst);
                    }
                }
                let _ = s2.shutdown(std::net::Shutdown::Write);
            });
            let cut_done = cut_done.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                let mut sent = 0usize;
                while let Ok(n) = server.read(&mut buf) {
                    if n == 0 || client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                    if sent > 65536
                        && wants_blob.load(Ordering::SeqCst)
                        && !cut_done.swap(true, Ordering::SeqCst)
                    {
                        let _ = client.shutdown(std::net::Shutdown::Both);
                        let _ = server.shutdown(std::net::Shutdown::Both);
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_pull_cut_short_leaves_nothing_and_can_be_retried() {
    let reg = Registry::start(&[]);
    let d = Daemon::start();
    d.import_busybox("busybox");
    let up = format!("{}/lib/bb:1", reg.addr);
    assert_ok(&d.docker(&["tag", "busybox", &up]));
    assert_ok(&d.docker(&["push", &up]));
    assert_ok(&d.docker(&["rmi", &up, "busybox"]));
    let before = stdout(&d.docker(&["images", "-aq"]));
    let proxy = cutting_proxy(reg.addr.clone());
    let image = format!("{proxy}/lib/bb:1");
    let o = d.docker(&["pull", &image]);
    assert_ne!(code(&o), 0, "{}", stdout(&o));
    assert_eq!(stdout(&d.docker(&["images", "-aq"])), before);
    let tmp = d.data_root().join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "partial downloads left: {left:?}");
    // Again, with nothing cut: it works.
    assert_ok(&d.docker(&["pull", &image]));
    assert_eq!(
        stdout(&d.docker(&["run", "--rm", &image, "echo", "whole"])),
        "whole\n"
    );
}

/// The lines of a screen about one layer (`0123456789ab: …`).
fn lines_of_layers(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| {
            l.split_once(": ")
                .is_some_and(|(id, _)| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect()
}

#[test]
fn pull_on_a_terminal_redraws_a_line_per_layer() {
    let reg = Registry::start(&[]);
    let d = Daemon::start();
    d.import_busybox("busybox");
    let image = format!("{}/lib/bb:1", reg.addr);
    assert_ok(&d.docker(&["tag", "busybox", &image]));
    assert_ok(&d.docker(&["push", &image]));
    assert_ok(&d.docker(&["rmi", &image, "busybox"]));
    let t = Tmux::new(&format!(
        "{} -H {} pull {image}; echo EXITED=$?; sleep 30",
        bin("berth").display(),
        d.host()
    ));
    t.wait_for("EXITED=");
    let screen = t.screen();
    assert!(screen.contains("EXITED=0"), "{screen}");
    // Each layer's states (pulling, downloading with a bar, complete) took one
    // line, rewritten in place.
    let layer_lines = lines_of_layers(&screen);
    assert_eq!(layer_lines.len(), 1, "{screen}");
    assert!(layer_lines[0].ends_with(": Pull complete"), "{screen}");
    assert!(screen.contains("Digest: sha256:"), "{screen}");

    // A push to another registry: the same, ending in "Pushed".
    let other = Registry::start(&[]);
    let target = format!("{}/lib/bb:1", other.addr);
    assert_ok(&d.docker(&["tag", &image, &target]));
    let t = Tmux::new(&format!(
        "{} -H {} push {target}; echo EXITED=$?; sleep 30",
        bin("berth").display(),
        d.host()
    ));
    t.wait_for("EXITED=");
    let screen = t.screen();
    assert!(screen.contains("EXITED=0"), "{screen}");
    let layer_lines = lines_of_layers(&screen);
    assert_eq!(layer_lines.len(), 1, "{screen}");
    assert!(layer_lines[0].ends_with(": Pushed"), "{screen}");
}

#[test]
fn bad_credentials_files_and_headers_are_clear_errors() {
    let reg = Registry::start(&[]);
    let d = Daemon::start();
    let bin_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.berth_config()).unwrap();
    let config = d.berth_config().join("config.json");
    for (text, says) in [
        ("{bad", "is not valid JSON"),
        ("[1]", "not a JSON object"),
        (r#"{"auths": {"REG": {"auth": "%%%"}}}"#, "bad auth for"),
        (
            r#"{"credsStore": "absent-helper"}"#,
            "docker-credential-absent-helper",
        ),
    ] {
        std::fs::write(&config, text.replace("REG", &reg.addr)).unwrap();
        let o = berth(
            &d,
            bin_dir.path(),
            &["pull", &format!("{}/lib/x:1", reg.addr)],
            b"",
        );
        assert_ne!(code(&o), 0, "{text}");
        assert!(stderr(&o).contains(says), "{text}: {}", stderr(&o));
    }
    // Malformed X-Registry-Auth and X-Registry-Config: 400 with what is wrong.
    let socket = d.host().trim_start_matches("unix://").to_string();
    for (header, path) in [
        (
            "X-Registry-Auth: %%%",
            format!("/v1.47/images/create?fromImage={}/lib/x&tag=1", reg.addr),
        ),
        (
            "X-Registry-Auth: eyJ1c2Vy",
            format!("/v1.47/images/create?fromImage={}/lib/x&tag=1", reg.addr),
        ),
        ("X-Registry-Config: %%%", "/v1.47/build".to_string()),
    ] {
        let o = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--unix-socket",
                &socket,
                "-X",
                "POST",
                "-H",
                header,
            ])
            .arg(format!("http://berth{path}"))
            .output()
            .unwrap();
        assert_eq!(stdout(&o), "400", "{header}");
    }
}
