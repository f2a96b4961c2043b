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
    let users = htpasswd(dir.path());
    let reg = Registry::start(&["--htpasswd", users.to_str().unwrap()]);
    let a = reg.addr.as_str();
    let d = Daemon::start();
    d.import_busybox("busybox");
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let b = |args: &[&str], stdin: &[u8]| berth(&d, &bin_dir, args, stdin);
    let config = d.berth_config().join("config.json");

    let o = b(&["login", "-u", "alice", "--password-stdin", a], b"wrong\n");
    assert_fails_with(&o, "failed with status: 401 Unauthorized");
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
    assert_fails_with(&skopeo(&[]), "unauthorized");
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
    assert_fails_with(&o, "tag can't be used with --all-tags/-a");
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
    assert_fails_with(&o, "pull access denied: authentication required");
    assert!(
        stderr(&o).contains("authentication required"),
        "{}",
        stderr(&o)
    );
    // docker 28 says the same when nothing was kept (the file stays valid).
    assert_eq!(
        stdout(&b(&["logout", a], b"")),
        format!("Removing login credentials for {a}\n")
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
    assert_fails_with(&o, "pull access denied: authentication required");
}

/// Which transfer a [`cutting_proxy`] cuts, once, and after how many bytes.
#[derive(Clone, Copy)]
enum Cut {
    /// A blob download (registry to client), after this many bytes of answer.
    Download(usize),
    /// A chunk upload (client to registry), after this many bytes since the
    /// connection's first PATCH.
    Upload(usize),
}

/// A loopback proxy to `upstream` that cuts one transfer short (the
/// connection drops mid-layer). Returns its address and the bytes it carried
/// from clients to the registry.
fn cutting_proxy(
    upstream: String,
    cut: Cut,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cut_done = Arc::new(AtomicBool::new(false));
    let uploaded = Arc::new(AtomicUsize::new(0));
    let total = uploaded.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { return };
            let Ok(mut server) = std::net::TcpStream::connect(&upstream) else {
                return;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let wants_blob = Arc::new(AtomicBool::new(false));
            let (seen, up_cut, uploaded) = (wants_blob.clone(), cut_done.clone(), uploaded.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                let mut since_patch: Option<usize> = None;
                while let Ok(n) = c2.read(&mut buf) {
                    if n == 0 || s2.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    uploaded.fetch_add(n, Ordering::SeqCst);
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if text.starts_with("GET ") && text.contains("/blobs/sha256:") {
                        seen.store(true, Ordering::SeqCst);
                    }
                    if text.starts_with("PATCH ") && since_patch.is_none() {
                        since_patch = Some(0);
                    }
                    if let (Some(s), Cut::Upload(after)) = (since_patch.as_mut(), cut) {
                        *s += n;
                        if *s > after && !up_cut.swap(true, Ordering::SeqCst) {
                            let _ = c2.shutdown(std::net::Shutdown::Both);
                            let _ = s2.shutdown(std::net::Shutdown::Both);
                            return;
                        }
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
                    if let Cut::Download(after) = cut {
                        if sent > after
                            && wants_blob.load(Ordering::SeqCst)
                            && !cut_done.swap(true, Ordering::SeqCst)
                        {
                            let _ = client.shutdown(std::net::Shutdown::Both);
                            let _ = server.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                    }
                }
            });
        }
    });
    (addr, total)
}

#[test]
fn a_push_cut_short_resumes_where_the_registry_is() {
    let reg = Registry::start(&[]);
    let d = Daemon::start();
    d.import_busybox("busybox");
    // A 40 MB layer: three chunks of at most 16 MiB.
    let ctx = tempfile::tempdir().unwrap();
    let mut data = vec![0u8; 40 << 20];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2654435761) >> 13) as u8;
    }
    std::fs::write(ctx.path().join("big"), &data).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nCOPY big /big\n",
    )
    .unwrap();
    // The second chunk is cut 4 MiB in: 16 + 4 MiB after the first PATCH.
    let (proxy, uploaded) = cutting_proxy(reg.addr.clone(), Cut::Upload(20 << 20));
    let image = format!("{proxy}/lib/big:1");
    assert_ok(&d.docker(&["build", "-t", &image, ctx.path().to_str().unwrap()]));
    assert_ok(&d.docker(&["push", &image]));
    // The cut happened (4 MiB were sent twice) and the upload resumed at
    // 16 MiB, not from the start (that would be 60 MiB or more).
    let carried = uploaded.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        carried > 40 << 20 && carried < 48 << 20,
        "{carried} bytes uploaded"
    );
    // What the registry has is whole.
    assert_ok(&d.docker(&["rmi", &image]));
    let straight = format!("{}/lib/big:1", reg.addr);
    assert_ok(&d.docker(&["pull", &straight]));
    let o = d.docker(&["run", "--rm", &straight, "md5sum", "/big"]);
    let want = md5_of(&data);
    assert!(stdout(&o).starts_with(&want), "{} vs {want}", stdout(&o));
}

/// md5 by the host's md5sum (the container's busybox computes the other side).
fn md5_of(data: &[u8]) -> String {
    let o = run_with_stdin(&mut Command::new("md5sum"), data);
    stdout(&o).split_whitespace().next().unwrap().to_string()
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
    let (proxy, _) = cutting_proxy(reg.addr.clone(), Cut::Download(64 << 10));
    let image = format!("{proxy}/lib/bb:1");
    let o = d.docker(&["pull", &image]);
    assert_fails_with(&o, "error reading a body from connection");
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

/// The screen `berth ARGS` leaves on a terminal (tmux), once it has succeeded.
fn berth_on_a_terminal(d: &Daemon, args: &str) -> String {
    let t = Tmux::new(&format!(
        "{} -H {} {args}; echo EXITED=$?; sleep 30",
        bin("berth").display(),
        d.host()
    ));
    t.wait_for("EXITED=");
    let screen = t.screen();
    assert!(screen.contains("EXITED=0"), "{screen}");
    screen
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
    let screen = berth_on_a_terminal(&d, &format!("pull {image}"));
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
    let screen = berth_on_a_terminal(&d, &format!("push {target}"));
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
