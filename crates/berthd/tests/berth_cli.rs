//! The `berth` CLI: docker's commands, flags, formats and exit codes.

mod common;

use common::*;

#[test]
fn run_variants_and_exit_codes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let out = d.berth(&["run", "--rm", "busybox", "echo", "hello"]);
    assert_eq!((stdout(&out).as_str(), code(&out)), ("hello\n", 0));
    assert_eq!(
        code(&d.berth(&["run", "--rm", "busybox", "sh", "-c", "exit 13"])),
        13
    );
    assert_eq!(
        code(&d.berth(&["run", "--rm", "busybox", "nosuchcommand"])),
        127
    );
    assert_eq!(code(&d.berth(&["run", "--rm", "nosuchimage"])), 125);
    let bad = d.berth(&["run", "--rm", "--bogus-flag", "busybox"]);
    assert_eq!(code(&bad), 125, "a flag error, as docker's");
    assert!(
        stderr(&bad).starts_with("unknown flag: --bogus-flag\n\nUsage:  berth run [OPTIONS] IMAGE"),
        "{}",
        stderr(&bad)
    );
    let env_file = d.dir.path().join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n\nOTHER=2\n").unwrap();
    let out = d.berth(&[
        "run",
        "--rm",
        "--env-file",
        env_file.to_str().unwrap(),
        "-e",
        "OTHER=3",
        "busybox",
        "sh",
        "-c",
        "echo $FROM_FILE $OTHER $PATH",
    ]);
    assert_eq!(
        stdout(&out),
        "yes 3 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
    let id = stdout(&d.berth(&[
        "run", "-d", "--name", "bg", "-l", "a=b", "busybox", "sleep", "100",
    ]))
    .trim()
    .to_string();
    assert_eq!(id.len(), 64);
    let out = d.berth(&["ps", "-q"]);
    assert_eq!(stdout(&out).trim(), &id[..12]);
    let out = d.berth(&["ps", "--format", "json"]);
    let row: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(row["Names"], "bg");
    assert_eq!(row["Labels"], "a=b");
    let out = d.berth(&["ps", "--format", "table {{.Names}}\\t{{.Status}}"]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    assert!(
        lines[0].starts_with("NAMES") && lines[0].contains("STATUS"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("bg") && lines[1].contains("Up "),
        "{lines:?}"
    );
    let out = d.berth(&["inspect", "--format", "{{json .Config.Labels}}", "bg"]);
    assert_eq!(stdout(&out).trim(), r#"{"a":"b"}"#);
    let out = d.berth(&["container", "inspect", "bg"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!(code(&d.berth(&["inspect", "nothing-here"])), 1);
    for cmd in [
        ["stop", "-t", "1"].as_slice(),
        &["start"],
        &["restart", "-t", "0"],
        &["pause"],
        &["unpause"],
        &["kill"],
    ] {
        let mut args = cmd.to_vec();
        args.push("bg");
        let out = d.berth(&args);
        assert_ok(&out);
        assert_eq!(stdout(&out).trim(), "bg", "{cmd:?}");
    }
    assert_eq!(stdout(&d.berth(&["wait", "bg"])).trim(), "137");
    assert_ok(&d.berth(&["rename", "bg", "fg"]));
    assert_ok(&d.berth(&["start", "fg"]));
    let top = d.berth(&["top", "fg", "-o", "pid,comm"]);
    assert!(stdout(&top).contains("sleep"), "{}", stdout(&top));
    let stats = d.berth(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "fg",
    ]);
    assert_eq!(stdout(&stats).trim(), "fg 1");
    assert_ok(&d.berth(&["rm", "-f", "fg"]));
    let out = d.berth(&["rm", "fg"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("No such container: fg"));
}

#[test]
fn start_attach_and_create() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = stdout(&d.berth(&[
        "create",
        "--name",
        "later",
        "busybox",
        "sh",
        "-c",
        "echo started; exit 4",
    ]))
    .trim()
    .to_string();
    assert_eq!(id.len(), 64);
    assert_eq!(
        stdout(&d.berth(&["ps", "-a", "--format", "{{.Status}}"])).trim(),
        "Created"
    );
    let out = d.berth(&["start", "-a", "later"]);
    assert_eq!((stdout(&out).as_str(), code(&out)), ("started\n", 4));
}

#[test]
fn image_commands() {
    let d = Daemon::start();
    let tar = busybox_tar().to_str().unwrap();
    let id = stdout(&d.berth(&[
        "image",
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-m",
        "from test",
        tar,
        "img:1",
    ]))
    .trim()
    .to_string();
    assert!(id.starts_with("sha256:"));
    assert_ok(&d.berth(&["tag", "img:1", "img:2"]));
    assert_ok(&d.berth(&["image", "tag", "img:1", "localhost:5000/team/img:3"]));
    let out = d.berth(&["images"]);
    let text = stdout(&out);
    assert!(text.starts_with("REPOSITORY"), "{text}");
    assert!(
        text.contains("localhost:5000/team/img")
            && text.contains("img ")
            && text.contains(&id[7..19]),
        "{text}"
    );
    let out = d.berth(&["image", "ls", "-q"]);
    assert_eq!(
        stdout(&out),
        format!("{0}\n{0}\n{0}\n", &id[7..19]),
        "a line per tag, as docker's"
    );
    let hist = d.berth(&["history", "img:1"]);
    assert!(stdout(&hist).contains("from test"), "{}", stdout(&hist));
    let insp = d.berth(&[
        "image",
        "inspect",
        "-f",
        "{{.Config.Cmd}} {{len .RootFS.Layers}}",
        "img:1",
    ]);
    assert_eq!(stdout(&insp).trim(), "[sh] 1");
    let saved = d.dir.path().join("img.tar");
    assert_ok(&d.berth(&[
        "image",
        "save",
        "-o",
        saved.to_str().unwrap(),
        "img:1",
        "img:2",
    ]));
    let out = d.berth(&["rmi", "img:2"]);
    assert_eq!(stdout(&out).trim(), "Untagged: img:2");
    let out = d.berth(&["rmi", &id]);
    assert_eq!(code(&out), 1, "ID with several tags needs force");
    let out = d.berth(&["image", "rm", "-f", &id]);
    assert!(
        stdout(&out).contains("Deleted: sha256:"),
        "{}",
        stdout(&out)
    );
    let out = d.berth(&["load", "-i", saved.to_str().unwrap()]);
    assert_eq!(stdout(&out), "Loaded image: img:1\nLoaded image: img:2\n");
    let raw = std::fs::read(&saved).unwrap();
    let out = d.berth_stdin(&["image", "load", "-q"], &raw);
    assert_ok(&out);
    assert_eq!(stdout(&out), "");
    // Untag everything: the image is dangling, and prune removes it.
    assert_ok(&d.berth(&["tag", "img:1", "keep:1"]));
    assert_ok(&d.berth(&["rmi", "img:1", "img:2"]));
    assert_ok(&d.berth(&["image", "prune", "-f"]));
    assert_eq!(
        stdout(&d.berth(&["images", "--format", "{{.Repository}}"])).trim(),
        "keep"
    );
    let out = d.berth(&["image", "prune", "-a", "-f"]);
    assert!(
        stdout(&out).contains("deleted: sha256:"),
        "{}",
        stdout(&out)
    );
    assert_eq!(stdout(&d.berth(&["images", "-q"])).trim(), "");
    assert!(
        std::fs::read_dir(d.data_root().join("snapshots"))
            .unwrap()
            .all(|e| e.unwrap().file_name() == "empty"),
        "snapshots removed"
    );
}

#[test]
fn system_commands() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let v = d.berth(&["version"]);
    assert!(
        stdout(&v).contains("Server: Berth Engine") && stdout(&v).contains("1.47"),
        "{}",
        stdout(&v)
    );
    let v = d.berth(&["version", "--format", "{{.Server.ApiVersion}}"]);
    assert_eq!(stdout(&v).trim(), "1.47");
    let i = d.berth(&["info"]);
    assert!(
        stdout(&i).contains("Storage Driver: overlay2"),
        "{}",
        stdout(&i)
    );
    let i = d.berth(&["system", "info", "--format", "{{.Images}}"]);
    assert_eq!(stdout(&i).trim(), "1");
    let df = d.berth(&["system", "df"]);
    assert!(stdout(&df).starts_with("TYPE"), "{}", stdout(&df));
    let df = d.berth(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
    assert!(stdout(&df).contains("Images=1"), "{}", stdout(&df));
    // No daemon: a clear message and exit 1 (125 for run), as docker's.
    let out = std::process::Command::new(bin("berth"))
        .args(["-H", "unix:///nonexistent/berth.sock", "ps"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("Cannot connect to the Berth daemon"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn completions_man_pages_and_drop_in_use_as_docker() {
    let d = Daemon::start();
    let berth = bin("berth");
    // bash completion of `berth run --` lists run's flags.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            r#"source <({} completion bash) && COMP_WORDS=(berth run --) && COMP_CWORD=2 && _berth berth -- run && printf '%s\n' "${{COMPREPLY[@]}}""#,
            berth.display()
        ))
        .output()
        .unwrap();
    assert_ok(&out);
    let flags: Vec<String> = stdout(&out).lines().map(String::from).collect();
    for f in ["--detach", "--publish", "--rm", "--volume", "--env"] {
        assert!(flags.iter().any(|l| l == f), "{f} not in {flags:?}");
    }
    for shell in ["zsh", "fish", "powershell"] {
        let out = d.berth(&["completion", shell]);
        assert_ok(&out);
        assert!(stdout(&out).contains("berth"), "{shell}");
    }
    let bad = d.berth(&["completion", "tcsh"]);
    assert_eq!(code(&bad), 125);
    assert!(
        stderr(&bad).contains("invalid argument \"tcsh\""),
        "{}",
        stderr(&bad)
    );
    // Man pages, one per command, that man renders.
    let man = d.dir.path().join("man");
    assert_ok(&d.berth(&["man-pages", man.to_str().unwrap()]));
    let page = std::process::Command::new("man")
        .args(["-l", man.join("berth-run.1").to_str().unwrap()])
        .env("MANWIDTH", "200")
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    assert_ok(&page);
    let text = stdout(&page);
    assert!(
        text.contains("berth-run - Create and run a new container from an image"),
        "{text}"
    );
    assert!(text.contains("--publish"), "{text}");
    assert!(man.join("berth-network-create.1").exists());

    // Invoked through a link named docker: docker's name in messages,
    // DOCKER_HOST honoured, BERTH_HOST before it.
    let bindir = d.dir.path().join("bin");
    std::fs::create_dir(&bindir).unwrap();
    let docker = bindir.join("docker");
    std::os::unix::fs::symlink(&berth, &docker).unwrap();
    let config = d.dir.path().join("docker-config-drop-in");
    std::fs::create_dir(&config).unwrap();
    let as_docker = |args: &[&str], envs: &[(&str, &str)]| {
        let mut c = std::process::Command::new(&docker);
        c.args(args)
            .env_remove("BERTH_HOST")
            .env_remove("DOCKER_HOST")
            .env_remove("BERTH_CONFIG")
            .env("DOCKER_CONFIG", &config);
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let host = d.host();
    let out = as_docker(&["ps", "--bogus"], &[("DOCKER_HOST", &host)]);
    assert_eq!(code(&out), 125);
    assert_eq!(
        stderr(&out),
        "unknown flag: --bogus\n\nUsage:  docker ps [OPTIONS]\n\nRun 'docker ps --help' for more information\n"
    );
    let api = ["version", "--format", "{{.Server.APIVersion}}"];
    let out = as_docker(&api, &[("DOCKER_HOST", &host)]);
    assert_eq!(stdout(&out), "1.47\n", "{}", stderr(&out));
    let out = as_docker(
        &api,
        &[
            ("BERTH_HOST", &host),
            ("DOCKER_HOST", "unix:///nonexistent/x.sock"),
        ],
    );
    assert_eq!(stdout(&out), "1.47\n", "BERTH_HOST comes first");
    let out = as_docker(&["ps"], &[("DOCKER_HOST", "unix:///nonexistent/x.sock")]);
    assert_eq!(
        (code(&out), stderr(&out)),
        (
            1,
            "Cannot connect to the Docker daemon at unix:///nonexistent/x.sock. Is the docker daemon running?\n".to_string()
        )
    );
    // A context from the docker CLI's store, by DOCKER_CONTEXT or the config's currentContext.
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(b"berth-test")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta = config.join("contexts/meta").join(digest);
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("meta.json"),
        serde_json::json!({"Name": "berth-test", "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}}}).to_string(),
    )
    .unwrap();
    let out = as_docker(&api, &[("DOCKER_CONTEXT", "berth-test")]);
    assert_eq!(stdout(&out), "1.47\n", "{}", stderr(&out));
    std::fs::write(
        config.join("config.json"),
        r#"{"currentContext": "berth-test"}"#,
    )
    .unwrap();
    let out = as_docker(&api, &[]);
    assert_eq!(stdout(&out), "1.47\n", "{}", stderr(&out));
    let out = as_docker(&api, &[("DOCKER_CONTEXT", "nosuch")]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).starts_with(
            "Failed to initialize: unable to resolve docker endpoint: context \"nosuch\": context not found"
        ),
        "{}",
        stderr(&out)
    );
    // Credentials live in DOCKER_CONFIG's config.json, as the docker CLI keeps them.
    std::fs::write(
        config.join("config.json"),
        r#"{"currentContext": "berth-test", "auths": {"127.0.0.1:5999": {"auth": "dTpw"}}}"#,
    )
    .unwrap();
    let out = as_docker(&["logout", "127.0.0.1:5999"], &[]);
    assert_eq!(
        stdout(&out),
        "Removing login credentials for 127.0.0.1:5999\n"
    );
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(config.join("config.json")).unwrap()).unwrap();
    assert!(kept["auths"].get("127.0.0.1:5999").is_none(), "{kept}");
    assert_eq!(
        kept["currentContext"], "berth-test",
        "the rest of the file is kept"
    );
    // An explicit -H wins over the context.
    let out = as_docker(
        &["-H", "unix:///nonexistent/x.sock", "ps"],
        &[("DOCKER_CONTEXT", "berth-test")],
    );
    assert_eq!(code(&out), 1);
}
