//! Dockerfile builds end to end: the real docker CLI's legacy builder and
//! `berth build` against berthd, a corpus covering every instruction, the
//! cache step by step, multi-stage builds with parallel stages, and bad
//! input that must fail cleanly and leave nothing behind.

mod common;

use std::fs;
use std::path::Path;

use common::*;

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, body) in files {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    }
}

fn inspect(d: &Daemon, what: &str, format: &str) -> String {
    let o = d.docker(&["inspect", "-f", format, what]);
    assert_ok(&o);
    stdout(&o).trim().to_string()
}

fn run_in(d: &Daemon, image: &str, script: &str) -> String {
    let o = d.docker(&["run", "--rm", image, "sh", "-c", script]);
    assert_ok(&o);
    stdout(&o)
}

/// Which steps the cache served ("Step N/M" followed by " ---> Using cache").
fn cached_steps(out: &str) -> Vec<usize> {
    let mut step = 0;
    let mut cached = Vec::new();
    for l in out.lines() {
        if let Some(rest) = l.strip_prefix("Step ") {
            step = rest.split('/').next().unwrap().parse().unwrap();
        } else if l.trim() == "---> Using cache" {
            cached.push(step);
        }
    }
    cached
}

/// Build containers, scratch mounts and unpacked contexts: none may outlive a build.
fn assert_nothing_left(d: &Daemon) {
    assert_eq!(
        stdout(&d.docker(&["ps", "-aq"])).trim(),
        "",
        "build containers left"
    );
    let build_dir = d.exec_root().join("build");
    let left: Vec<_> = fs::read_dir(&build_dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "scratch left in {}: {left:?}",
        build_dir.display()
    );
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        !mounts.contains(build_dir.to_str().unwrap()),
        "a build mount is left"
    );
}

const CORPUS: &str = r#"# syntax=docker/dockerfile:1
# escape=\
ARG BASE=busybox
FROM ${BASE} AS base
ARG GREETING=hello
ARG UNSET
ENV NAME="the world" EMPTY= \
    PATHX=/opt/bin
ENV LEGACY legacy form value
LABEL org.example.title="corpus image" version=1.0 "quoted key"=v
LABEL from.arg=${GREETING:-none} unset.default=${UNSET:-dflt} alt=${GREETING:+set}
MAINTAINER someone@example.com
EXPOSE 80 53/udp 8000-8001
USER root
WORKDIR /srv
WORKDIR app
RUN echo "$GREETING, $NAME" > greeting && id -u > uid
RUN ["sh", "-c", "echo exec-form > /srv/app/exec"]
RUN <<EOF
set -e
echo heredoc-line-1 > /srv/app/heredoc
echo heredoc-line-2 >> /srv/app/heredoc
EOF
RUN <<'EOF' sh
echo '$NAME stays literal' > /srv/app/quoted
EOF
RUN cat <<EOF > /srv/app/catdoc
cat $GREETING
EOF
COPY --chown=1:2 --chmod=640 files/a.txt files/b.txt ./copied/
COPY files/dir /srv/dir
COPY ["files/with space.txt", "/srv/space/"]
COPY files/*.md /srv/md/
COPY <<EOT /srv/inline.txt
inline $GREETING
EOT
ADD files/archive.tar.gz /srv/unpacked/
ADD files/a.txt /srv/added-file
RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1234:' >> /etc/group
COPY --chown=app files/a.txt /srv/owned-by-app
SHELL ["/bin/sh", "-ec"]
RUN echo "shell is $0" > /srv/shell
VOLUME ["/data"]
VOLUME /cache /logs
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=4 CMD test -f /srv/app/greeting
ONBUILD RUN echo triggered-by-onbuild
USER 1234
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /srv/app/greeting"]
"#;

/// Steps in CORPUS (FROM included).
const CORPUS_STEPS: usize = 36;

fn corpus_context(dir: &Path) {
    write(
        dir,
        &[
            ("Dockerfile", CORPUS),
            ("files/a.txt", "file a\n"),
            ("files/b.txt", "file b\n"),
            ("files/dir/sub/deep.txt", "deep\n"),
            ("files/with space.txt", "spaced\n"),
            ("files/one.md", "one\n"),
            ("files/two.md", "two\n"),
            ("files/secret.key", "must not be sent\n"),
            ("files/dir/skip.log", "ignored\n"),
            (".dockerignore", "**/*.key\n**/*.log\n!files/dir/keep.log\n"),
            ("files/dir/keep.log", "kept by an exception\n"),
        ],
    );
    // A gzip tar for ADD to unpack.
    let src = dir.join("archive-src");
    write(&src, &[("inside/x.txt", "from the archive\n")]);
    let o = std::process::Command::new("tar")
        .args([
            "-czf",
            dir.join("files/archive.tar.gz").to_str().unwrap(),
            "-C",
            src.to_str().unwrap(),
            ".",
        ])
        .output()
        .unwrap();
    assert_ok(&o);
    fs::remove_dir_all(src).unwrap();
}

#[test]
fn corpus_through_docker_and_berth_gives_the_same_image() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let ctx = d.dir.path().join("corpus");
    corpus_context(&ctx);
    let c = ctx.to_str().unwrap();
    let o = d.docker(&[
        "build",
        "-t",
        "corpus:docker",
        "--build-arg",
        "GREETING=hi",
        c,
    ]);
    assert_ok(&o);
    let out = stdout(&o);
    assert!(out.contains("Successfully tagged corpus:docker"), "{out}");
    assert!(
        out.contains(&format!("Step {CORPUS_STEPS}/{CORPUS_STEPS} : CMD")),
        "{out}"
    );

    // Config, as `docker inspect` sees it.
    let cfg = |f: &str| inspect(&d, "corpus:docker", f);
    assert_eq!(cfg("{{json .Config.Entrypoint}}"), r#"["/bin/sh","-c"]"#);
    assert_eq!(cfg("{{json .Config.Cmd}}"), r#"["cat /srv/app/greeting"]"#);
    assert_eq!(cfg("{{.Config.WorkingDir}}"), "/srv/app");
    assert_eq!(cfg("{{.Config.User}}"), "1234");
    assert_eq!(cfg("{{.Config.StopSignal}}"), "SIGUSR1");
    assert_eq!(cfg("{{json .Config.Shell}}"), r#"["/bin/sh","-ec"]"#);
    assert_eq!(
        cfg("{{json .Config.OnBuild}}"),
        r#"["RUN echo triggered-by-onbuild"]"#
    );
    assert_eq!(
        cfg("{{json .Config.Volumes}}"),
        r#"{"/cache":{},"/data":{},"/logs":{}}"#
    );
    assert_eq!(
        cfg("{{json .Config.ExposedPorts}}"),
        r#"{"53/udp":{},"80/tcp":{},"8000-8001/tcp":{}}"#
    );
    assert_eq!(
        cfg("{{json .Config.Healthcheck}}"),
        r#"{"Test":["CMD-SHELL","test -f /srv/app/greeting"],"Interval":30000000000,"Timeout":5000000000,"StartPeriod":2000000000,"Retries":4}"#
    );
    let env = cfg("{{json .Config.Env}}");
    for e in [
        "NAME=the world",
        "EMPTY=",
        "PATHX=/opt/bin",
        "LEGACY=legacy form value",
    ] {
        assert!(env.contains(e), "{e} missing from {env}");
    }
    assert!(
        !env.contains("GREETING"),
        "build args stay out of the image: {env}"
    );
    let labels = cfg("{{json .Config.Labels}}");
    for l in [
        r#""org.example.title":"corpus image""#,
        r#""version":"1.0""#,
        r#""quoted key":"v""#,
        r#""from.arg":"hi""#,
        r#""unset.default":"dflt""#,
        r#""alt":"set""#,
    ] {
        assert!(labels.contains(l), "{l} missing from {labels}");
    }
    assert_eq!(cfg("{{.Author}}"), "someone@example.com");

    // Files, modes and owners, from a container of the image.
    let script = "cd /srv && cat app/greeting app/uid app/exec app/heredoc app/quoted app/catdoc inline.txt shell \
         dir/sub/deep.txt space/*.txt md/one.md md/two.md unpacked/inside/x.txt added-file dir/keep.log; \
         stat -c '%n %a %u:%g' app/copied/a.txt app/copied/b.txt owned-by-app; \
         test -e /srv/dir/skip.log && echo IGNORED-LOG-SENT; true";
    let listing = d.docker(&[
        "run",
        "--rm",
        "--user",
        "0",
        "--entrypoint",
        "sh",
        "corpus:docker",
        "-c",
        script,
    ]);
    assert_ok(&listing);
    let l = stdout(&listing);
    for want in [
        "hi, the world\n0\nexec-form\nheredoc-line-1\nheredoc-line-2\n$NAME stays literal\ncat hi\ninline hi\nshell is /bin/sh\ndeep\nspaced\none\ntwo\nfrom the archive\nfile a\nkept by an exception\n",
        "app/copied/a.txt 640 1:2",
        "app/copied/b.txt 640 1:2",
        "owned-by-app 644 1234:1234",
    ] {
        assert!(l.contains(want), "{want:?} not in:\n{l}");
    }
    assert!(!l.contains("IGNORED-LOG"), "{l}");
    // The image runs as its config says: ENTRYPOINT + CMD, as user 1234.
    let o = d.docker(&["run", "--rm", "corpus:docker"]);
    assert_eq!(stdout(&o), "hi, the world\n", "{}", stderr(&o));

    // History: one entry per step, empty layers for config-only steps.
    let history = stdout(&d.docker(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Size}}",
        "corpus:docker",
    ]));
    assert!(
        history
            .lines()
            .any(|h| h.starts_with("/bin/sh -c #(nop)  STOPSIGNAL SIGUSR1|0B")),
        "{history}"
    );
    assert!(
        history
            .lines()
            .any(|h| h.starts_with("|1 GREETING=hi /bin/sh -c echo \"$GREETING, $NAME\"")),
        "{history}"
    );

    // `berth build` of the same context and arguments: every step from the
    // cache, so the very same image (config, layers and history).
    let o = d.berth(&[
        "build",
        "--progress",
        "plain",
        "-t",
        "corpus:berth",
        "--build-arg",
        "GREETING=hi",
        c,
    ]);
    assert_ok(&o);
    let cached = cached_steps(&stdout(&o));
    assert_eq!(
        cached.len(),
        CORPUS_STEPS - 1,
        "every step but FROM from the cache:\n{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("cached in"),
        "berth's plain progress shows each step's time: {}",
        stdout(&o)
    );
    assert_eq!(
        inspect(&d, "corpus:berth", "{{.Id}}"),
        inspect(&d, "corpus:docker", "{{.Id}}")
    );

    // --no-cache rebuilds everything and gives the same config and files.
    let o = d.berth(&[
        "build",
        "-q",
        "--no-cache",
        "-t",
        "corpus:fresh",
        "--build-arg",
        "GREETING=hi",
        c,
    ]);
    assert_ok(&o);
    assert_ne!(
        inspect(&d, "corpus:fresh", "{{.Id}}"),
        inspect(&d, "corpus:docker", "{{.Id}}")
    );
    assert_eq!(
        inspect(&d, "corpus:fresh", "{{json .Config}}"),
        inspect(&d, "corpus:docker", "{{json .Config}}")
    );
    let files = "find /srv -exec stat -c '%n %a %u:%g %s' {} + | sort";
    let as_root = |img: &str| {
        let o = d.docker(&[
            "run",
            "--rm",
            "--user",
            "0",
            "--entrypoint",
            "sh",
            img,
            "-c",
            files,
        ]);
        assert_ok(&o);
        stdout(&o)
    };
    assert_eq!(as_root("corpus:fresh"), as_root("corpus:docker"));

    // ONBUILD fires in a child image.
    write(
        &ctx,
        &[("child/Dockerfile", "FROM corpus:docker\nCMD [\"child\"]\n")],
    );
    let o = d.docker(&["build", "-t", "child", ctx.join("child").to_str().unwrap()]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("triggered-by-onbuild"),
        "{}",
        stdout(&o)
    );
    // ...and not in the image that declares it.
    assert!(!stdout(&d.docker(&["build", "-t", "corpus:again", c])).contains("# Executing"));
    assert_eq!(inspect(&d, "child", "{{json .Config.OnBuild}}"), "null");
    assert_nothing_left(&d);
}

#[test]
fn cache_hits_and_misses_step_by_step_and_across_restarts() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let ctx = d.dir.path().join("ctx");
    let df = "FROM busybox\nRUN echo one > /one\nCOPY data.bin /data.bin\nRUN echo two > /two\nCOPY app/ /app/\nRUN echo last > /last\nCMD [\"sh\"]\n";
    write(
        &ctx,
        &[
            ("Dockerfile", df),
            ("data.bin", "v1"),
            ("app/x", "x1"),
            ("app/y", "y1"),
        ],
    );
    let c = ctx.to_str().unwrap().to_string();
    let build = |d: &Daemon| {
        let o = d.docker(&["build", "-t", "cached", &c]);
        assert_ok(&o);
        cached_steps(&stdout(&o))
    };
    assert_eq!(build(&d), Vec::<usize>::new(), "cold build");
    let first = inspect(&d, "cached", "{{.Id}}");
    assert_eq!(build(&d), vec![2, 3, 4, 5, 6, 7], "fully cached");
    assert_eq!(inspect(&d, "cached", "{{.Id}}"), first);

    // Content, not time: rewriting the same bytes changes nothing; new bytes miss from that step on.
    fs::write(ctx.join("data.bin"), "v1").unwrap();
    assert_eq!(build(&d), vec![2, 3, 4, 5, 6, 7]);
    fs::write(ctx.join("data.bin"), "v2").unwrap();
    assert_eq!(build(&d), vec![2]);
    // A mode change in a copied directory misses too.
    let y = ctx.join("app/y");
    fs::set_permissions(&y, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(build(&d), vec![2, 3, 4]);
    // Only the last RUN changed: everything before it is cached.
    write(
        &ctx,
        &[("Dockerfile", &df.replace("echo last", "echo changed"))],
    );
    assert_eq!(build(&d), vec![2, 3, 4, 5]);

    // The cache lives in the metadata database: a restarted daemon still has it.
    d.stop_daemon(libc::SIGTERM);
    d.spawn();
    assert_eq!(build(&d), vec![2, 3, 4, 5, 6, 7]);
    let o = d.docker(&["build", "--no-cache", "-t", "cached", &c]);
    assert_ok(&o);
    assert!(cached_steps(&stdout(&o)).is_empty());

    // Intermediate images hide from `images` (shown with -a).
    let top = stdout(&d.docker(&["images", "-q"])).lines().count();
    let all = stdout(&d.docker(&["images", "-aq"])).lines().count();
    assert!(
        all > top,
        "images -a lists the steps' images ({all} vs {top})"
    );
    assert_ne!(inspect(&d, "cached", "{{.Parent}}"), "");
    // builder prune empties the cache: the next build starts cold.
    let o = d.berth(&["builder", "prune", "-f"]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("Total reclaimed space"),
        "{}",
        stdout(&o)
    );
    assert_eq!(build(&d), Vec::<usize>::new());
    // rmi takes the untagged step images below it along.
    let o = d.docker(&["rmi", "cached"]);
    assert_ok(&o);
    assert!(stdout(&o).matches("Deleted:").count() > 1, "{}", stdout(&o));
    // The image `cached` named before the cold rebuild is dangling now, as with docker.
    assert_ok(&d.docker(&["image", "prune", "-f"]));
    let left = stdout(&d.docker(&["images", "-a"]));
    assert_eq!(left.lines().count(), 2, "only busybox is left: {left}");
    assert_nothing_left(&d);
}

/// `--cache-from` (defect 13): an image that is here without the build cache
/// that made it (loaded from a `docker save`) serves each step it made on
/// the same parent, RUN and COPY and config steps alike, and the result is
/// that image; a step it did not make, and every step after, run; a cache
/// source that is not here is passed over. Through the docker CLI and berth.
#[test]
fn cache_from_an_image_without_its_build_cache() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let ctx = d.dir.path().join("ctx");
    let df = "FROM busybox\nRUN echo one > /one\nENV STAGE=two\nCOPY data.bin /data.bin\nRUN echo three > /three\n";
    write(&ctx, &[("Dockerfile", df), ("data.bin", "payload")]);
    let c = ctx.to_str().unwrap().to_string();
    assert_ok(&d.docker(&["build", "-t", "src", &c]));
    let id = inspect(&d, "src", "{{.Id}}");
    let tar = d.dir.path().join("src.tar");
    assert_ok(&d.docker(&["save", "-o", tar.to_str().unwrap(), "src"]));
    // Gone with its build cache; back from the archive alone.
    assert_ok(&d.docker(&["rmi", "src"]));
    assert_ok(&d.berth(&["builder", "prune", "-f"]));
    assert_ok(&d.docker(&["load", "-i", tar.to_str().unwrap()]));
    let o = d.docker(&[
        "build",
        "--cache-from",
        "nosuch:here",
        "--cache-from",
        "src",
        "-t",
        "again",
        &c,
    ]);
    assert_ok(&o);
    assert_eq!(
        cached_steps(&stdout(&o)),
        vec![2, 3, 4, 5],
        "{}",
        stdout(&o)
    );
    assert_eq!(
        inspect(&d, "again", "{{.Id}}"),
        id,
        "the source image itself"
    );
    assert_eq!(
        run_in(&d, "again", "cat /one /data.bin; echo; cat /three"),
        "one\npayload\nthree\n"
    );
    // Without it the same build runs its steps (its build cache now knows them, so prune first).
    assert_ok(&d.berth(&["builder", "prune", "-f"]));
    assert_ok(&d.docker(&["rmi", "again"]));
    assert_ok(&d.docker(&["load", "-i", tar.to_str().unwrap()]));
    let o = d.docker(&["build", "-t", "cold", &c]);
    assert_ok(&o);
    assert!(cached_steps(&stdout(&o)).is_empty(), "{}", stdout(&o));
    // A changed step misses, and so does everything after it; berth's flag is docker's.
    assert_ok(&d.berth(&["builder", "prune", "-f"]));
    write(
        &ctx,
        &[(
            "Dockerfile",
            &df.replace("ENV STAGE=two", "ENV STAGE=other"),
        )],
    );
    let o = d.berth(&["build", "--cache-from", "src", "-t", "changed", &c]);
    assert_ok(&o);
    assert_eq!(cached_steps(&stdout(&o)), vec![2], "{}", stdout(&o));
    assert_eq!(run_in(&d, "changed", "echo $STAGE"), "other\n");
    for i in ["src", "cold", "changed"] {
        assert_ok(&d.docker(&["rmi", i]));
    }
}

#[test]
fn multi_stage_targets_skips_and_parallel_stages() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let ctx = d.dir.path().join("ms");
    // Two independent stages that each take 2 s, a stage nobody needs that
    // would fail, and a final stage that takes from both by name and by index.
    let df = r#"FROM busybox AS left
RUN cut -d' ' -f1 /proc/uptime > /start && sleep 2 && echo left > /out && cut -d' ' -f1 /proc/uptime > /end
FROM busybox AS right
RUN cut -d' ' -f1 /proc/uptime > /start && sleep 2 && echo right > /out && cut -d' ' -f1 /proc/uptime > /end
FROM busybox AS broken
RUN exit 7
FROM busybox
COPY --from=left /out /left
COPY --from=1 /out /right
COPY --from=left /start /left.start
COPY --from=left /end /left.end
COPY --from=right /start /right.start
COPY --from=right /end /right.end
CMD ["cat", "/left", "/right"]
"#;
    write(&ctx, &[("Dockerfile", df)]);
    let o = d.docker(&["build", "-t", "ms", ctx.to_str().unwrap()]);
    assert_ok(&o);
    assert!(
        !stdout(&o).contains("exit 7"),
        "the unneeded stage ran: {}",
        stdout(&o)
    );
    assert_eq!(stdout(&d.docker(&["run", "--rm", "ms"])), "left\nright\n");
    let times: Vec<f64> = run_in(
        &d,
        "ms",
        "cat /left.start /left.end /right.start /right.end",
    )
    .lines()
    .map(|l| l.parse().unwrap())
    .collect();
    let (ls, le, rs, re) = (times[0], times[1], times[2], times[3]);
    assert!(
        ls < re && rs < le,
        "stages ran one after the other: left {ls}-{le}, right {rs}-{re}"
    );

    // --target builds up to a stage; the final stage's steps are not run.
    let o = d.berth(&[
        "build",
        "--target",
        "right",
        "-t",
        "ms-right",
        ctx.to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert!(!stdout(&o).contains("COPY --from"), "{}", stdout(&o));
    assert_eq!(run_in(&d, "ms-right", "cat /out"), "right\n");
    // Unknown targets and failing stages are clear errors.
    let o = d.docker(&["build", "--target", "nope", ctx.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("failed to reach build target nope"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["build", "--target", "broken", ctx.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("returned a non-zero code: 7"),
        "{}",
        stderr(&o)
    );
    assert_nothing_left(&d);
}

#[test]
fn bad_dockerfiles_fail_clearly_and_leave_nothing() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let ctx = d.dir.path().join("bad");
    write(
        &ctx,
        &[
            ("present.txt", "x"),
            ("secret", "s"),
            (".dockerignore", "secret\n"),
        ],
    );
    let before = stdout(&d.docker(&["images", "-aq"]));
    // (Dockerfile, what the error says, whether it names the line)
    let cases: &[(&str, &str, bool)] = &[
        (
            "FROM busybox\nRUN echo hi\nFOO bar\n",
            "line 3: unknown instruction",
            true,
        ),
        ("RUN true\n", "no build stage in current context", false),
        (
            "FROM busybox\nCOPY present.txt\n",
            "requires at least two arguments",
            true,
        ),
        (
            "FROM busybox\nCOPY ../outside /x\n",
            "Forbidden path outside the build context: ../outside",
            true,
        ),
        (
            "FROM busybox\nCOPY missing.txt /x\n",
            "file not found in build context",
            true,
        ),
        (
            "FROM busybox\nCOPY secret /x\n",
            "excluded by .dockerignore",
            true,
        ),
        (
            "FROM busybox\nRUN echo partial > /p && exit 42\n",
            "returned a non-zero code: 42",
            true,
        ),
        (
            "FROM busybox\nCOPY --from=nostage /x /x\n",
            "No such image: nostage",
            true,
        ),
        (
            "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /x /x\n",
            "circular dependency",
            false,
        ),
        (
            "FROM busybox\nCOPY --from=0 /x /x\n",
            "refers to current or future build stage",
            true,
        ),
        (
            "FROM busybox\nHEALTHCHECK --interval=1ns CMD true\n",
            "cannot be less than 1ms",
            true,
        ),
        (
            "FROM busybox\nEXPOSE notaport\n",
            "Invalid containerPort",
            true,
        ),
        (
            "FROM busybox\nCOPY --chmod=999 present.txt /x\n",
            "invalid chmod",
            true,
        ),
        ("FROM busybox\nLABEL a=${x\n", "missing", true),
        (
            "FROM busybox\nCOPY --bogus=1 present.txt /x\n",
            "unknown flag",
            true,
        ),
        ("FROM nosuchimage\n", "No such image: nosuchimage", true),
    ];
    for (df, want, names_line) in cases {
        fs::write(ctx.join("Dockerfile"), df).unwrap();
        for cli in ["docker", "berth"] {
            let args = ["build", "-t", "bad:tag", ctx.to_str().unwrap()];
            let o = if cli == "docker" {
                d.docker(&args)
            } else {
                d.berth(&args)
            };
            assert_ne!(code(&o), 0, "{cli}: {df:?} built: {}", stdout(&o));
            let err = stderr(&o);
            assert!(err.contains(want), "{cli}: {df:?}: {want:?} not in {err}");
            if *names_line {
                assert!(err.contains("line"), "{cli}: {df:?}: no line in {err}");
            }
        }
    }
    assert_eq!(
        stdout(&d.docker(&["images", "-aq"])),
        before,
        "a failed build left an image"
    );
    assert!(stderr(&d.docker(&["image", "inspect", "bad:tag"])).contains("No such image"));
    assert_nothing_left(&d);

    // The API itself: malformed parameters and hostile or truncated contexts.
    let post = |query: &str, body: &[u8]| {
        raw_http(
            &d.socket,
            "POST",
            &format!("/build?{query}"),
            "application/x-tar",
            body,
        )
    };
    let (status, body) = post("buildargs=notjson", b"");
    assert_eq!(status, 400, "{body}");
    let (status, body) = post("t=Bad%20Tag", b"");
    assert_eq!(status, 400, "{body}");
    let (status, body) = post("remote=git://127.0.0.1/x.git", b"");
    assert_eq!(status, 400, "{body}");
    let mut evil = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
    h.set_cksum();
    evil.append(&h, &b"x"[..]).unwrap();
    let evil = evil.into_inner().unwrap();
    // Refused before the build began: HTTP errors, as dockerd's.
    let (status, body) = post("", &evil);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("leaves the context"), "{body}");
    assert!(!d.exec_root().join("escape").exists());
    assert!(!d.exec_root().join("build/escape").exists());
    let mut big = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5000);
    h.set_mode(0o644);
    h.set_cksum();
    big.append_data(&mut h, "Dockerfile", &[b'#'; 5000][..])
        .unwrap();
    let big = big.into_inner().unwrap();
    let (status, body) = post("", &big[..2000]);
    assert_eq!(status, 400, "truncated context: {body}");
    assert!(
        body.contains("read build context"),
        "truncated context: {body}"
    );
    assert_nothing_left(&d);
}

#[test]
fn add_from_url_stdin_dockerfile_and_tar_contexts() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // A context for `remote=`, served as a tar.
    let mut remote_tar = tar::Builder::new(Vec::new());
    for (name, body) in [
        (
            "Dockerfile",
            &b"FROM busybox\nCOPY remote.txt /remote.txt\n"[..],
        ),
        ("remote.txt", &b"from a remote context\n"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        remote_tar.append_data(&mut h, name, body).unwrap();
    }
    let remote_tar = remote_tar.into_inner().unwrap();
    // An HTTP server on loopback for ADD <url> and remote contexts.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in server.incoming() {
            let Ok(mut c) = conn else { return };
            let mut buf = [0u8; 1024];
            let n = std::io::Read::read(&mut c, &mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let reply: Vec<u8> = if req.starts_with("GET /file.txt ") {
                b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\ndownloaded!\n".to_vec()
            } else if req.starts_with("GET /moved ") {
                b"HTTP/1.0 302 Found\r\nLocation: /file.txt\r\n\r\n".to_vec()
            } else if req.starts_with("GET /context.tar ") {
                let mut r = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
                r.extend_from_slice(&remote_tar);
                r
            } else {
                b"HTTP/1.0 404 Not Found\r\n\r\n".to_vec()
            };
            let _ = std::io::Write::write_all(&mut c, &reply);
        }
    });
    let df = format!(
        "FROM busybox\nADD http://127.0.0.1:{port}/file.txt /dl/\nADD http://127.0.0.1:{port}/moved /dl/renamed.txt\nCMD [\"sh\"]\n"
    );
    // The Dockerfile alone on stdin (`docker build -`): no context at all.
    let o = d.docker_stdin(&["build", "-t", "urls", "-"], df.as_bytes());
    assert_ok(&o);
    assert_eq!(
        run_in(
            &d,
            "urls",
            "cat /dl/file.txt /dl/renamed.txt; stat -c %a /dl/file.txt"
        ),
        "downloaded!\ndownloaded!\n600\n"
    );
    let o = d.docker_stdin(
        &["build", "-"],
        format!("FROM busybox\nADD http://127.0.0.1:{port}/missing /x\n").as_bytes(),
    );
    assert!(stderr(&o).contains("404"), "{}", stderr(&o));

    // A remote context (a tar at an http:// URL), through both CLIs; git is refused clearly.
    let url = format!("http://127.0.0.1:{port}/context.tar");
    assert_ok(&d.docker(&["build", "-t", "remote1", &url]));
    assert_eq!(
        run_in(&d, "remote1", "cat /remote.txt"),
        "from a remote context\n"
    );
    assert_ok(&d.berth(&["build", "-t", "remote2", &url]));
    assert_eq!(
        inspect(&d, "remote2", "{{.Id}}"),
        inspect(&d, "remote1", "{{.Id}}")
    );
    let o = d.berth(&["build", "git@example.invalid:x/y.git"]);
    assert!(
        stderr(&o).contains("only http:// and https:// URLs"),
        "{}",
        stderr(&o)
    );

    // A context that is already a tar, and -f naming a Dockerfile outside the context.
    let ctx = d.dir.path().join("tarctx");
    write(
        &ctx,
        &[
            ("Dockerfile", "FROM busybox\nCOPY hello /hello\n"),
            ("hello", "from a tar\n"),
        ],
    );
    let tarball = d.dir.path().join("ctx.tar");
    assert_ok(
        &std::process::Command::new("tar")
            .args([
                "-cf",
                tarball.to_str().unwrap(),
                "-C",
                ctx.to_str().unwrap(),
                ".",
            ])
            .output()
            .unwrap(),
    );
    let o = d.berth(&["build", "-t", "fromtar", tarball.to_str().unwrap()]);
    assert_ok(&o);
    assert_eq!(run_in(&d, "fromtar", "cat /hello"), "from a tar\n");
    let outside = d.dir.path().join("elsewhere.Dockerfile");
    fs::write(&outside, "FROM busybox\nCOPY hello /again\n").unwrap();
    for cli in ["docker", "berth"] {
        let args = [
            "build",
            "-q",
            "-f",
            outside.to_str().unwrap(),
            "-t",
            "elsewhere",
            ctx.to_str().unwrap(),
        ];
        let o = if cli == "docker" {
            d.docker(&args)
        } else {
            d.berth(&args)
        };
        assert_ok(&o);
        assert!(
            stdout(&o).trim().starts_with("sha256:"),
            "{cli} -q prints the ID: {}",
            stdout(&o)
        );
        assert_eq!(run_in(&d, "elsewhere", "cat /again"), "from a tar\n");
    }
    let iid = d.dir.path().join("iid");
    assert_ok(&d.berth(&[
        "build",
        "--iidfile",
        iid.to_str().unwrap(),
        "--label",
        "k=v",
        ctx.to_str().unwrap(),
    ]));
    let id = fs::read_to_string(&iid).unwrap();
    assert_eq!(inspect(&d, &id, "{{.Config.Labels.k}}"), "v");
    assert_nothing_left(&d);
}

/// A context tar with one Dockerfile, for raw `POST /build` calls.
fn dockerfile_tar(name: &str, text: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, text.as_bytes()).unwrap();
    b.into_inner().unwrap()
}

/// Build errors as dockerd gives them: before the stream began (a bad or
/// missing Dockerfile, any failure of a quiet build) an HTTP 400; after, a
/// last message with `error` and `errorDetail` (a failed RUN's exit code as
/// its `code`). A RUN's stderr is in the stream; a Dockerfile outside the
/// context (the CLI sends it under a generated name) builds.
#[test]
fn build_errors_arrive_as_dockerd_sends_them() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let post = |query: &str, tar: &[u8]| {
        raw_http(
            &d.socket,
            "POST",
            &format!("/build?{query}"),
            "application/x-tar",
            tar,
        )
    };
    let failing = dockerfile_tar(
        "Dockerfile",
        "FROM busybox\nRUN echo to-stderr >&2\nRUN exit 3\n",
    );
    let (s, body) = post("", &failing);
    assert_eq!(s, 200, "{body}");
    assert!(body.contains(r#""stream":"to-stderr\n""#), "{body}");
    let last: serde_json::Value = serde_json::from_str(body.lines().last().unwrap()).unwrap();
    assert_eq!(
        last["error"],
        "The command '/bin/sh -c exit 3' returned a non-zero code: 3 (Dockerfile line 3)",
        "dockerd's words, and the line"
    );
    assert_eq!(last["errorDetail"]["code"], 3, "{last}");
    assert_eq!(last["errorDetail"]["message"], last["error"]);
    let (s, body) = post("q=1", &failing);
    assert_eq!(s, 400, "a quiet build wrote nothing: {body}");
    assert!(body.contains("returned a non-zero code: 3"), "{body}");
    let (s, body) = post("", &dockerfile_tar("Dockerfile", "FROM busybox\nBOGUS x\n"));
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("dockerfile parse error line 2"), "{body}");
    let (s, body) = post("dockerfile=nope", &failing);
    assert_eq!(s, 400, "{body}");
    assert!(
        body.contains("Cannot locate specified Dockerfile: nope"),
        "{body}"
    );
    // The CLI with a Dockerfile outside the context.
    let dir = d.dir.path().join("outside");
    std::fs::create_dir_all(dir.join("ctx")).unwrap();
    std::fs::write(dir.join("ctx/file"), "in the context\n").unwrap();
    std::fs::write(dir.join("Elsewhere"), "FROM busybox\nCOPY file /file\n").unwrap();
    let mut build = std::process::Command::new(DOCKER);
    build
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_BUILDKIT", "0");
    build
        .arg("build")
        .arg("-q")
        .arg("-t")
        .arg("outside")
        .arg("-f")
        .arg(dir.join("Elsewhere"))
        .arg(dir.join("ctx"));
    assert_ok(&build.output().unwrap());
    assert_eq!(run_in(&d, "outside", "cat /file"), "in the context\n");
}

/// `.dockerignore` exceptions are read in order, the last match winning,
/// and reach into an excluded directory (`docs` then `!docs/keep.md`), as
/// dockerd's context walk does.
#[test]
fn dockerignore_exceptions_in_order_and_inside_excluded_dirs() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let ctx = d.dir.path().join("ign");
    write(
        &ctx,
        &[
            ("a.md", ""),
            ("README.md", ""),
            ("docs/x.md", ""),
            ("docs/keep.md", ""),
            ("Dockerfile", "FROM busybox\nCOPY . /c\n"),
        ],
    );
    let listed = |ignore: &str, tag: &str| {
        fs::write(ctx.join(".dockerignore"), ignore).unwrap();
        assert_ok(&d.docker(&["build", "-q", "-t", tag, ctx.to_str().unwrap()]));
        run_in(&d, tag, "cd /c && find . -name '*.md' | sort")
    };
    assert_eq!(
        listed("*.md\n!README.md\n", "ign1"),
        "./README.md\n./docs/keep.md\n./docs/x.md\n"
    );
    assert_eq!(
        listed("!README.md\n*.md\n", "ign2"),
        "./docs/keep.md\n./docs/x.md\n",
        "the last match wins"
    );
    assert_eq!(
        listed("docs\n!docs/keep.md\n", "ign3"),
        "./README.md\n./a.md\n./docs/keep.md\n"
    );
}
