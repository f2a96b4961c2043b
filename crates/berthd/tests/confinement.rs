//! Containers confined as Docker's are: hostile images (made by hand and
//! `docker import`ed) and hostile flags, driven through the real docker CLI.
//! Each test asserts the refusal or the confinement, and that nothing
//! changed on the host (marker paths, cgroup trees, owners).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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
}

/// Imports busybox's root plus `extra` as `name`, with `docker import -c` changes.
fn hostile_image(d: &Daemon, name: &str, extra: &[Extra], changes: &[&str]) {
    let mut b = tar::Builder::new(Vec::new());
    let mut base = tar::Archive::new(std::fs::File::open(busybox_tar()).unwrap());
    let replaced: Vec<&str> = extra
        .iter()
        .map(|e| match e {
            Extra::Link(p, _) => *p,
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
