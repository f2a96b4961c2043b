//! A container's files: diff, commit, export (and, through them, that the
//! writable layer is what it should be).

mod common;

use common::*;

/// The files the daemon itself writes (/etc/hosts, /etc/hostname,
/// /etc/resolv.conf, their mount points) are not the container's changes,
/// nor is /etc for holding them: a container that only touched /test has
/// that one change, as with dockerd.
#[test]
fn daemon_files_are_not_changes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.docker(&["run", "--name", "touched", "busybox", "touch", "/test"]));
    let diff = stdout(&d.docker(&["diff", "touched"]));
    assert_eq!(diff, "A /test\n");
    // A directory whose mode changed is a change, holding daemon files or not.
    assert_ok(&d.docker(&[
        "run", "--name", "chmodded", "busybox", "chmod", "700", "/etc",
    ]));
    let diff = stdout(&d.docker(&["diff", "chmodded"]));
    assert_eq!(diff, "C /etc\n");
}

#[test]
fn diff_commit_and_export() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_eq!(code(&d.docker(&["run", "--name", "work", "busybox", "sh", "-c", "echo new > /tmp/added; rm /etc/group; echo x >> /etc/passwd; mkdir -p /newdir/sub; exit 0"])), 0);
    let diff = stdout(&d.docker(&["diff", "work"]));
    for line in [
        "C /etc",
        "D /etc/group",
        "C /etc/passwd",
        "A /newdir",
        "A /newdir/sub",
        "C /tmp",
        "A /tmp/added",
    ] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing in:\n{diff}"
        );
    }
    assert!(
        !diff.contains("/etc/hosts") && !diff.contains("/dev"),
        "runtime mount points are not changes:\n{diff}"
    );
    let (s, body) = raw_http(
        &d.socket,
        "GET",
        "/containers/work/changes",
        "application/json",
        b"",
    );
    assert_eq!(s, 200);
    assert!(
        body.contains(r#"{"Kind":2,"Path":"/etc/group"}"#)
            || body.contains(r#""Path":"/etc/group","Kind":2"#),
        "{body}"
    );
    // Commit: the new image runs, carries the changes (a deletion too) and the config change.
    let id = stdout(&d.docker(&[
        "commit",
        "-c",
        "CMD [\"cat\", \"/tmp/added\"]",
        "-m",
        "snapshot",
        "-a",
        "tester",
        "work",
        "snap:1",
    ]))
    .trim()
    .to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(stdout(&d.docker(&["run", "--rm", "snap:1"])), "new\n");
    assert_eq!(
        code(&d.berth(&["run", "--rm", "snap:1", "test", "-e", "/etc/group"])),
        1,
        "the deletion is in the layer"
    );
    assert_eq!(
        stdout(&d.berth(&["run", "--rm", "snap:1", "tail", "-n", "1", "/etc/passwd"])),
        "x\n"
    );
    let insp = stdout(&d.berth(&[
        "image",
        "inspect",
        "-f",
        "{{.Author}} {{len .RootFS.Layers}} {{.Comment}}",
        "snap:1",
    ]));
    assert_eq!(insp.trim(), "tester 2 snapshot");
    // The base layer is shared, not copied.
    let snaps = std::fs::read_dir(d.data_root().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(snaps, 2, "one snapshot for the base, one for the commit");
    // Export: a tar of the whole file system.
    let tar_path = d.dir.path().join("export.tar");
    assert_ok(&d.berth(&["export", "-o", tar_path.to_str().unwrap(), "work"]));
    let via_docker = d.dir.path().join("export-docker.tar");
    assert_ok(&d.docker(&["export", "-o", via_docker.to_str().unwrap(), "work"]));
    assert_eq!(
        std::fs::metadata(&via_docker).unwrap().len(),
        std::fs::metadata(&tar_path).unwrap().len()
    );
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&tar_path).unwrap());
    for e in ar.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(
        names.iter().any(|n| n == "tmp/added") && names.iter().any(|n| n == "bin/busybox"),
        "{} entries",
        names.len()
    );
    assert!(!names.iter().any(|n| n == "etc/group"));
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&d.data_root().display().to_string()),
        "export of a stopped container leaves nothing mounted"
    );
    // Removing the container removes its writable layer from disk.
    let cid = stdout(&d.berth(&["inspect", "-f", "{{.Id}}", "work"]))
        .trim()
        .to_string();
    assert_ok(&d.berth(&["rm", "work"]));
    assert!(!d.data_root().join("containers").join(&cid).exists());
    let (s, _) = raw_http(
        &d.socket,
        "POST",
        "/commit?container=nosuch",
        "application/json",
        b"",
    );
    assert_eq!(s, 404);
    let (s, _) = raw_http(
        &d.socket,
        "POST",
        "/commit?container=",
        "application/json",
        b"",
    );
    assert_eq!(s, 400);
}

fn raw_tar(entries: &[(&str, tar::EntryType, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn cp_both_ways_and_escapes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.berth(&["run", "-d", "--name", "box", "-v", "vol:/vol", "busybox", "sh", "-c",
        "mkdir -p /d/sub; echo inner > /d/sub/f; chmod 751 /d/sub; chown 65534:65534 /d/sub/f; echo container-shadow > /etc/shadow; ln -s /etc/shadow /evil; ln -s ../../../../../etc /up; echo in-volume > /vol/v; sleep 1000"]));
    eventually("set up", 10, || {
        code(&d.berth(&["exec", "box", "test", "-L", "/up"])) == 0
    });
    let out = d.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // Out of the container, into an existing directory, modes and owners kept with -a.
    assert_ok(&d.berth(&["cp", "-a", "box:/d", out.to_str().unwrap()]));
    assert_ok(&d.docker(&["cp", "box:/d", out.join("viadocker").to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(out.join("viadocker/sub/f")).unwrap(),
        "inner\n"
    );
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(
        std::fs::read_to_string(out.join("d/sub/f")).unwrap(),
        "inner\n"
    );
    assert_eq!(
        std::fs::metadata(out.join("d/sub"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o751
    );
    assert_eq!(std::fs::metadata(out.join("d/sub/f")).unwrap().uid(), 65534);
    // Symlinks and '..' resolve inside the container: its /etc/shadow, never the host's.
    assert_ok(&d.berth(&["cp", "-L", "box:/evil", out.join("s1").to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(out.join("s1")).unwrap(),
        "container-shadow\n"
    );
    assert_ok(&d.berth(&["cp", "box:/up/shadow", out.join("s2").to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(out.join("s2")).unwrap(),
        "container-shadow\n"
    );
    assert_ok(&d.berth(&[
        "cp",
        "box:/../../../etc/passwd",
        out.join("pw").to_str().unwrap(),
    ]));
    assert!(std::fs::read_to_string(out.join("pw"))
        .unwrap()
        .starts_with("root:x:0:0:root:/root:/bin/sh"));
    assert_ok(&d.docker(&["cp", "box:/evil", out.join("link").to_str().unwrap()]));
    assert_eq!(
        std::fs::read_link(out.join("link")).unwrap(),
        std::path::Path::new("/etc/shadow"),
        "without -L a symlink is copied as one"
    );
    // Volumes are seen where the container sees them.
    assert_ok(&d.berth(&["cp", "box:/vol/v", out.join("v").to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(out.join("v")).unwrap(),
        "in-volume\n"
    );
    // Into the container: into a directory, to a new name, through the up-link (lands inside).
    let src = d.dir.path().join("hostfile");
    std::fs::write(&src, "from host\n").unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_ok(&d.docker(&["cp", src.to_str().unwrap(), "box:/tmp/"]));
    assert_eq!(
        stdout(&d.berth(&["exec", "box", "stat", "-c", "%a %u %n", "/tmp/hostfile"])),
        "640 0 /tmp/hostfile\n"
    );
    assert_ok(&d.berth(&["cp", src.to_str().unwrap(), "box:/tmp/renamed"]));
    assert_eq!(
        stdout(&d.berth(&["exec", "box", "cat", "/tmp/renamed"])),
        "from host\n"
    );
    assert_ok(&d.berth(&["cp", src.to_str().unwrap(), "box:/up/"]));
    assert_eq!(
        stdout(&d.berth(&["exec", "box", "cat", "/etc/hostfile"])),
        "from host\n"
    );
    assert!(
        !std::path::Path::new("/etc/hostfile").exists(),
        "the host's /etc is untouched"
    );
    // Hostile uploads are refused whole.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "dot-dot",
            raw_tar(&[
                ("ok-first", tar::EntryType::Regular, None, b"1"),
                ("../../escape", tar::EntryType::Regular, None, b"x"),
            ]),
        ),
        (
            "through own symlink",
            raw_tar(&[
                ("ok-first", tar::EntryType::Regular, None, b"1"),
                ("l", tar::EntryType::Symlink, Some("/etc"), b""),
                ("l/pwned", tar::EntryType::Regular, None, b"x"),
            ]),
        ),
        (
            "hard link out",
            raw_tar(&[
                ("ok-first", tar::EntryType::Regular, None, b"1"),
                ("h", tar::EntryType::Link, Some("../../etc/passwd"), b""),
            ]),
        ),
        (
            "device",
            raw_tar(&[
                ("ok-first", tar::EntryType::Regular, None, b"1"),
                ("sda", tar::EntryType::Block, None, b""),
            ]),
        ),
    ];
    for (what, body) in cases {
        let (s, b) = raw_http(
            &d.socket,
            "PUT",
            "/containers/box/archive?path=/tmp",
            "application/x-tar",
            &body,
        );
        assert_eq!(s, 400, "{what}: {b}");
        assert_eq!(
            code(&d.berth(&["exec", "box", "test", "-e", "/tmp/ok-first"])),
            1,
            "{what}: nothing written"
        );
    }
    assert_eq!(
        code(&d.berth(&["exec", "box", "test", "-e", "/etc/pwned"])),
        1
    );
    let (s, _) = raw_http(
        &d.socket,
        "PUT",
        "/containers/box/archive?path=/nonexistent",
        "application/x-tar",
        &raw_tar(&[("a", tar::EntryType::Regular, None, b"1")]),
    );
    assert_eq!(s, 404);
    let (s, _) = raw_http(
        &d.socket,
        "HEAD",
        "/containers/box/archive?path=/nope",
        "text/plain",
        b"",
    );
    assert_eq!(s, 404);
    let (s, _) = raw_http(
        &d.socket,
        "GET",
        "/containers/box/archive",
        "text/plain",
        b"",
    );
    assert_eq!(s, 400);
}

/// `commit` (pausing, the default) of a container that is ending at that
/// moment commits it either way, as dockerd does; pause and unpause of an
/// ending container answer 409 "not running", never a freezer 500.
#[test]
fn commit_and_pause_race_an_exit() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for i in 0..15 {
        let name = format!("short{i}");
        assert_ok(&d.docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            "echo hi > /made",
        ]));
        let o = d.docker(&["commit", &name, &format!("made:{i}")]);
        assert_ok(&o);
        let p = d.docker(&["pause", &name]);
        if code(&p) != 0 {
            assert_fails_with(&p, "is not running");
        } else {
            assert_ok(&d.docker(&["unpause", &name]));
        }
    }
    let out = d.docker(&["run", "--rm", "made:14", "cat", "/made"]);
    assert_eq!(stdout(&out), "hi\n");
}
