//! A container's files: diff, commit, export (and, through them, that the
//! writable layer is what it should be).

mod common;

use common::*;

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
