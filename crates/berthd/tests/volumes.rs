//! Volumes, binds, tmpfs, anonymous volumes and copy-up.

mod common;

use common::*;

#[test]
fn named_volumes_persist_and_are_protected() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.docker(&["volume", "create", "--label", "team=x", "data"]));
    assert_ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo persisted > /data/f; chown 65534 /data/f",
    ]));
    let out = d.berth(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "busybox",
        "stat",
        "-c",
        "%u %n",
        "/data/f",
    ]);
    assert_eq!(stdout(&out), "65534 /data/f\n");
    let out = d.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=data,target=/d,readonly",
        "busybox",
        "sh",
        "-c",
        "cat /d/f; touch /d/x 2>/dev/null || echo ro",
    ]);
    assert_eq!(stdout(&out), "persisted\nro\n");
    let ls = d.berth(&[
        "volume",
        "ls",
        "--filter",
        "label=team=x",
        "--format",
        "{{.Name}} {{.Driver}}",
    ]);
    assert_eq!(stdout(&ls).trim(), "data local");
    let insp = d.berth(&["volume", "inspect", "-f", "{{.Mountpoint}}", "data"]);
    assert!(stdout(&insp)
        .trim()
        .starts_with(d.data_root().to_str().unwrap()));
    // In use: 409 while a container (even stopped) uses it.
    assert_ok(&d.berth(&[
        "create",
        "--name",
        "user",
        "-v",
        "data:/data",
        "busybox",
        "true",
    ]));
    let rm = d.docker(&["volume", "rm", "data"]);
    assert_eq!(code(&rm), 1);
    assert!(stderr(&rm).contains("volume is in use"), "{}", stderr(&rm));
    let (s, _) = raw_http(
        &d.socket,
        "DELETE",
        "/volumes/data",
        "application/json",
        b"",
    );
    assert_eq!(s, 409);
    assert_ok(&d.berth(&["rm", "user"]));
    assert_ok(&d.berth(&["volume", "rm", "data"]));
    let (s, _) = raw_http(&d.socket, "GET", "/volumes/data", "application/json", b"");
    assert_eq!(s, 404);
    let (s, _) = raw_http(
        &d.socket,
        "POST",
        "/volumes/create",
        "application/json",
        br#"{"Name":"bad name!"}"#,
    );
    assert_eq!(s, 400);
    let (s, _) = raw_http(
        &d.socket,
        "POST",
        "/volumes/create",
        "application/json",
        br#"{"Name":"x1","DriverOpts":{"evil":"1"}}"#,
    );
    assert_eq!(s, 400);
}

#[test]
fn tmpfs_volume_driver_opts() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.berth(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=2m",
        "scratch",
    ]));
    let out = d.berth(&[
        "run",
        "--rm",
        "-v",
        "scratch:/s",
        "busybox",
        "sh",
        "-c",
        "grep ' /s ' /proc/mounts | cut -d' ' -f3",
    ]);
    assert_eq!(stdout(&out), "tmpfs\n");
    assert_ok(&d.berth(&["volume", "rm", "scratch"]));
    // o=bind: the volume is a bind of a host directory.
    let host = d.dir.path().join("bound");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("x"), "bound\n").unwrap();
    let dev = format!("device={}", host.display());
    assert_ok(&d.docker(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        &dev,
        "-o",
        "o=bind",
        "bindvol",
    ]));
    assert_eq!(
        stdout(&d.berth(&["run", "--rm", "-v", "bindvol:/b", "busybox", "cat", "/b/x"])),
        "bound\n"
    );
    assert_ok(&d.berth(&["volume", "rm", "bindvol"]));
    assert!(
        host.join("x").exists(),
        "removing a bind volume leaves the host directory"
    );
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains("/volumes/scratch"),
        "unmounted on removal"
    );
}

#[test]
fn binds_tmpfs_and_read_only_root() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let host = d.dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("h"), "from host\n").unwrap();
    let spec = format!("{}:/h:ro", host.display());
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "cat /h/h; echo x > /h/new 2>/dev/null || echo ro",
    ]);
    assert_eq!(stdout(&out), "from host\nro\n");
    assert!(!host.join("new").exists(), "read-only bind really is");
    let spec = format!("{}:/h", host.display());
    assert_ok(&d.berth(&[
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "echo back > /h/out",
    ]));
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "back\n");
    // -v creates a missing host directory; --mount refuses it.
    let missing = d.dir.path().join("made/by/v");
    assert_ok(&d.berth(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/m", missing.display()),
        "busybox",
        "true",
    ]));
    assert!(missing.is_dir());
    let out = d.docker(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,source={}/nope,target=/x", d.dir.path().display()),
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 125);
    assert!(
        stderr(&out).contains("bind source path does not exist"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "--tmpfs",
        "/run:size=1m,mode=1777",
        "busybox",
        "sh",
        "-c",
        "grep ' /run ' /proc/mounts",
    ]);
    assert!(
        stdout(&out).contains("tmpfs /run tmpfs") && stdout(&out).contains("size=1024k"),
        "{}",
        stdout(&out)
    );
    let out = d.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=2m",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts",
    ]);
    assert!(stdout(&out).contains("size=2048k"), "{}", stdout(&out));
    let out = d.berth(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "busybox",
        "sh",
        "-c",
        "touch /x 2>/dev/null || echo ro-root; touch /tmp/ok && echo tmp-ok",
    ]);
    assert_eq!(stdout(&out), "ro-root\ntmp-ok\n");
    for bad in [
        ["-v", "relative:path"],
        ["-v", "/a:/b:bogus"],
        ["--tmpfs", "relative"],
    ] {
        let out = d.berth(&[&["run", "--rm"], &bad[..], &["busybox", "true"]].concat());
        assert_eq!(code(&out), 125, "{bad:?}: {}", stderr(&out));
    }
}

#[test]
fn anonymous_volumes_copy_up_and_removal() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // Copy-up: a new volume over /etc starts with the image's /etc.
    let id = stdout(&d.berth(&["run", "-d", "-v", "/etc", "busybox", "sleep", "1000"]))
        .trim()
        .to_string();
    let out = d.berth(&["exec", &id, "cat", "/etc/passwd"]);
    assert!(stdout(&out).starts_with("root:x:0:0"), "{}", stdout(&out));
    let name = stdout(&d.berth(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", &id]))
        .trim()
        .to_string();
    let vols = stdout(&d.berth(&["volume", "ls", "-q"]));
    assert!(vols.lines().count() == 1, "{vols}");
    let mounts = stdout(&d.docker(&["inspect", "-f", "{{json .Mounts}}", &id]));
    assert!(
        mounts.contains("\"Destination\":\"/etc\"") && mounts.contains("\"Type\":\"volume\""),
        "{mounts}"
    );
    let _ = name;
    // nocopy leaves it empty.
    let out = d.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,target=/etc,volume-nocopy",
        "busybox",
        "ls",
        "/etc",
    ]);
    assert_eq!(stdout(&out), "");
    // rm -v removes the anonymous volume; --rm does too.
    assert_ok(&d.berth(&["rm", "-f", "-v", &id]));
    assert_ok(&d.berth(&["run", "--rm", "-v", "/data", "busybox", "true"]));
    assert_eq!(stdout(&d.berth(&["volume", "ls", "-q"])).trim(), "");
    // Without -v the anonymous volume stays, and prune takes it.
    let id = stdout(&d.berth(&["run", "-d", "-v", "/keep", "busybox", "true"]))
        .trim()
        .to_string();
    eventually("exited", 10, || {
        stdout(&d.berth(&["inspect", "-f", "{{.State.Status}}", &id])).trim() == "exited"
    });
    assert_ok(&d.berth(&["rm", &id]));
    assert_eq!(stdout(&d.berth(&["volume", "ls", "-q"])).lines().count(), 1);
    assert_ok(&d.berth(&["volume", "create", "named"]));
    assert_ok(&d.berth(&["volume", "prune", "-f"]));
    assert_eq!(
        stdout(&d.berth(&["volume", "ls", "-q"])).trim(),
        "named",
        "prune keeps named volumes without -a"
    );
    assert_ok(&d.berth(&["volume", "prune", "-a", "-f"]));
    assert_eq!(stdout(&d.berth(&["volume", "ls", "-q"])).trim(), "");
    // --volumes-from shares another container's volumes.
    assert_ok(&d.berth(&[
        "run",
        "-d",
        "--name",
        "src",
        "-v",
        "shared:/shared",
        "busybox",
        "sh",
        "-c",
        "echo hi > /shared/f; sleep 1000",
    ]));
    eventually("written", 10, || {
        code(&d.berth(&["exec", "src", "test", "-f", "/shared/f"])) == 0
    });
    let out = d.berth(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "sh",
        "-c",
        "cat /shared/f; touch /shared/g 2>/dev/null || echo ro",
    ]);
    assert_eq!(stdout(&out), "hi\nro\n");
    let df = stdout(&d.docker(&["system", "df"]));
    assert!(df.contains("Local Volumes   1"), "{df}");
}

#[test]
fn system_df_verbose_and_prune_volumes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.berth(&[
        "run",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /anon/f",
    ]));
    let df = stdout(&d.berth(&["system", "df", "-v"]));
    assert!(df.contains("VOLUME NAME") && df.contains("100kB"), "{df}");
    let out = d.berth(&["system", "prune", "-f", "--volumes"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("Deleted Container:") && stdout(&out).contains("Deleted Volume:"),
        "{}",
        stdout(&out)
    );
    assert_eq!(stdout(&d.berth(&["volume", "ls", "-q"])).trim(), "");
    assert_eq!(stdout(&d.berth(&["ps", "-aq"])).trim(), "");
    assert_eq!(
        stdout(&d.berth(&["images", "-q"])).lines().count(),
        1,
        "tagged images stay without -a"
    );
}

/// `VolumeOptions.Subpath` (`--mount …,volume-subpath=`): one directory of a
/// volume, looked up inside the volume (a link its content holds cannot
/// lead out of it); it must exist, and may not climb out with `..`.
#[test]
fn volume_subpaths() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.docker(&["volume", "create", "parts"]));
    assert_ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        "parts:/v",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /v/sub && echo inside > /v/sub/file && ln -s /etc /v/evil",
    ]));
    let mount = |sub: &str| format!("type=volume,src=parts,dst=/m,volume-subpath={sub}");
    let out = d.docker(&[
        "run",
        "--rm",
        "--mount",
        &mount("sub"),
        "busybox",
        "cat",
        "/m/file",
    ]);
    assert_eq!(stdout(&out), "inside\n", "{}", stderr(&out));
    // The link is followed inside the volume, where /etc does not exist.
    assert_fails_with(
        &d.docker(&[
            "run",
            "--rm",
            "--mount",
            &mount("evil"),
            "busybox",
            "ls",
            "/m",
        ]),
        "cannot access path \"evil\" of volume parts",
    );
    assert_fails_with(
        &d.docker(&[
            "run",
            "--rm",
            "--mount",
            &mount("absent"),
            "busybox",
            "true",
        ]),
        "cannot access path \"absent\"",
    );
    assert_fails_with(
        &d.docker(&["run", "--rm", "--mount", &mount("../x"), "busybox", "true"]),
        "subpath must be a relative path within the volume",
    );
    assert!(
        std::path::Path::new("/etc/passwd").exists(),
        "the host's /etc untouched"
    );
}

/// Unmounts what a test mounted, also when it fails.
struct Unmount(std::path::PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Bind options of API 1.44–1.47: a read-only bind is read-only all the
/// way down (the mounts below its source too) unless ReadOnlyNonRecursive;
/// NonRecursive leaves the mounts below out; tmpfs takes further flags.
#[test]
fn recursive_read_only_binds_and_tmpfs_options() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let src = d.dir.path().join("tree");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(src.join("sub"))
        .status()
        .unwrap();
    assert!(ok.success());
    let _sub = Unmount(src.join("sub"));
    std::fs::write(src.join("sub").join("in-tmpfs"), "").unwrap();
    let s = src.to_str().unwrap();
    let touch = "touch /b/top 2>&1; touch /b/sub/below 2>&1; ls /b/sub";
    let run = |how: &[&str]| {
        stdout(&d.docker(&[&["run", "--rm"][..], how, &["busybox", "sh", "-c", touch]].concat()))
    };
    let ro = run(&["-v", &format!("{s}:/b:ro")]);
    assert_eq!(ro.matches("Read-only file system").count(), 2, "{ro}");
    let top_only = run(&[
        "--mount",
        &format!("type=bind,src={s},dst=/b,readonly,bind-recursive=writable"),
    ]);
    assert_eq!(
        top_only.matches("Read-only file system").count(),
        1,
        "{top_only}"
    );
    assert!(top_only.contains("below"), "{top_only}");
    let alone = run(&[
        "--mount",
        &format!("type=bind,src={s},dst=/b,bind-recursive=disabled"),
    ]);
    assert!(!alone.contains("Read-only"), "{alone}");
    // Without recursion /b/sub is the directory the tmpfs covers on the host.
    assert!(top_only.contains("in-tmpfs"), "{top_only}");
    assert!(!alone.contains("in-tmpfs"), "{alone}");
    let (st, body) = raw_http(
        &d.socket,
        "POST",
        "/containers/create?name=texec",
        "application/json",
        br#"{"Image":"busybox","Cmd":["sh","-c","cp /bin/busybox /t/echo && /t/echo ran"],
             "HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"Options":[["exec"]]}}]}}"#,
    );
    assert_eq!(st, 201, "{body}");
    let out = d.docker(&["start", "-a", "texec"]);
    assert_eq!(stdout(&out), "ran\n", "{}", stderr(&out));
    let (st, body) = raw_http(
        &d.socket,
        "POST",
        "/containers/create",
        "application/json",
        br#"{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"Options":[["uid","0"]]}}]}}"#,
    );
    assert_eq!(st, 400, "{body}");
}
