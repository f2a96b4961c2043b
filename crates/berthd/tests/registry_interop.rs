//! berthd against the reference registry it did not write: Debian's
//! docker-registry (Distribution 2.8), on 127.0.0.1 with htpasswd auth,
//! driven by the docker CLI: login, push, pull, run, and a missing tag.
//! `scripts/test.sh` unpacks it and names it in `BERTH_DISTRIBUTION`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Distribution {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn distribution_binary() -> String {
    std::env::var("BERTH_DISTRIBUTION")
        .ok()
        .filter(|p| std::path::Path::new(p).exists())
        .expect("BERTH_DISTRIBUTION names Debian's docker-registry binary: run the tests through scripts/test.sh")
}

fn start_distribution() -> Distribution {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd(dir.path());
    // A free port: taken from the kernel, then handed over.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
            dir.path().join("storage").display(),
            users.display()
        ),
    )
    .unwrap();
    let child = Command::new(distribution_binary())
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let d = Distribution {
        child,
        addr,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&d.addr).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

#[test]
fn berthd_pushes_to_and_pulls_from_distribution() {
    let reg = start_distribution();
    let a = reg.addr.as_str();
    let d = Daemon::start();
    d.import_busybox("busybox");
    // A second image with a layer of its own on top.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nRUN echo on distribution > /f\n",
    )
    .unwrap();
    let image = format!("{a}/team/app:1");
    assert_ok(&d.docker(&["build", "-t", &image, ctx.path().to_str().unwrap()]));

    let o = d.docker(&["push", &image]);
    assert_ne!(code(&o), 0, "no login: refused");
    let o = d.docker_stdin(&["login", "-u", "alice", "--password-stdin", a], b"wrong\n");
    assert_ne!(code(&o), 0);
    assert_ok(&d.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", a],
        b"s3cret\n",
    ));
    let o = d.docker(&["push", &image]);
    assert_ok(&o);
    assert!(stdout(&o).contains("1: digest: sha256:"), "{}", stdout(&o));
    // Distribution has it, as its own client sees it.
    let o = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--creds",
            "alice:s3cret",
            &format!("docker://{image}"),
        ])
        .output()
        .unwrap();
    assert_ok(&o);
    let layers = serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()["Layers"].clone();
    assert_eq!(layers.as_array().unwrap().len(), 2, "{layers}");

    assert_ok(&d.docker(&["rmi", &image, "busybox"]));
    let o = d.docker(&["pull", &image]);
    assert_ok(&o);
    assert_eq!(
        stdout(&d.docker(&["run", "--rm", &image, "cat", "/f"])),
        "on distribution\n"
    );
    let o = d.docker(&["pull", &format!("{a}/team/app:missing")]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("not found") || stderr(&o).contains("unknown"),
        "{}",
        stderr(&o)
    );

    // A gzip-compressed image Distribution holds (skopeo compresses on copy) pulls too.
    let archive = ctx.path().join("app.tar");
    assert_ok(&d.docker(&["save", "-o", archive.to_str().unwrap(), &image]));
    let gz = format!("{a}/team/gz:1");
    assert_ok(
        &Command::new("skopeo")
            .args([
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                "alice:s3cret",
                "--dest-compress",
                &format!("docker-archive:{}", archive.display()),
                &format!("docker://{gz}"),
            ])
            .output()
            .unwrap(),
    );
    let o = d.docker(&["pull", &gz]);
    assert_ok(&o);
    assert_eq!(
        stdout(&d.docker(&["run", "--rm", &gz, "cat", "/f"])),
        "on distribution\n"
    );
}
