//! `berth-shim exec DIR`: runs one more process in a running container
//! (joining its namespaces and cgroup through libcontainer's tenant builder,
//! or `runc exec`), streams its output as frames on fd 4 and sends its exit
//! code last. Without fd 4 (`exec -d`) the output is drained and dropped.

use std::fs::{self, File};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::io::{self, ChildStdio, Input, Sink};
use super::{load_config, send_ready, wait_exit, ReadyMessage};
use crate::frames;

pub const EXEC_CONFIG: &str = "exec.json";
/// The stream socket is the exec supervisor's fd 4.
pub const STREAM_FD: i32 = 4;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecConfig {
    pub container_id: String,
    pub runtime_root: PathBuf,
    pub runtime: Option<PathBuf>,
    /// An OCI `process` object (args, env, cwd, user, capabilities, terminal).
    pub process: PathBuf,
    pub tty: bool,
    pub open_stdin: bool,
    /// Whether fd 4 carries the stream (attached exec).
    pub attached: bool,
    /// Where the runtime hands over the terminal, with `tty`.
    pub console_socket: PathBuf,
    /// The container's `cgroupsPath`, for the hierarchies the runtime does not join.
    #[serde(default)]
    pub cgroups_path: String,
    /// Joined by the supervisor before the runtime starts the process (a
    /// remapped container's network namespace; see `ShimConfig::join_netns`).
    #[serde(default)]
    pub join_netns: Option<PathBuf>,
}

fn start_builtin(
    cfg: &ExecConfig,
    io: Option<ChildStdio>,
    console: Option<&Path>,
) -> Result<i32, String> {
    let b = io::builder(&cfg.container_id, &cfg.runtime_root, io, console)?;
    b.as_tenant()
        .with_process(Some(&cfg.process))
        .with_detach(true)
        .build()
        .map(|p| p.as_raw())
        .map_err(|e| e.to_string())
}

fn start_external(
    cfg: &ExecConfig,
    runtime: &Path,
    io: Option<ChildStdio>,
    console: Option<&Path>,
) -> Result<i32, String> {
    let mut cmd = Command::new(runtime);
    cmd.arg("--root")
        .arg(&cfg.runtime_root)
        .arg("exec")
        .arg("--process")
        .arg(&cfg.process);
    if let Some(c) = console {
        cmd.arg("--tty").arg("--console-socket").arg(c);
    }
    if let Some(io) = io {
        cmd.stdin(std::process::Stdio::from(io.stdin))
            .stdout(std::process::Stdio::from(io.stdout))
            .stderr(std::process::Stdio::from(io.stderr));
    }
    // `runc exec` stays in the foreground and exits with the process's code.
    let child = cmd
        .arg(&cfg.container_id)
        .spawn()
        .map_err(|e| format!("run {}: {e}", runtime.display()))?;
    Ok(child.id() as i32)
}

pub fn run(dir: &Path) -> i32 {
    let Some(cfg) = load_config::<ExecConfig>(&dir.join(EXEC_CONFIG), "exec config") else {
        return 1;
    };
    let fail = |e: String| {
        send_ready(&ReadyMessage::failed(e));
        1
    };
    // What the runtime forks and leaves behind is ours to end (end_children).
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // SAFETY: fd 4 is the stream socket berthd passed when attached.
    let mut stream = cfg
        .attached
        .then(|| unsafe { UnixStream::from_raw_fd(STREAM_FD) });
    let mut stdio = match io::prepare(cfg.tty, cfg.open_stdin, &cfg.console_socket) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if let Some(p) = &cfg.join_netns {
        let joined = fs::File::open(p).map_err(|e| e.to_string()).and_then(|f| {
            nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())
        });
        if let Err(e) = joined {
            return fail(format!("join network namespace {}: {e}", p.display()));
        }
    }
    let (child_io, console_path) = stdio.for_runtime();
    // As for the container itself: the hierarchies the runtime does not join.
    let started = crate::cgroups::Cgroup::new(&cfg.cgroups_path)
        .join_unmanaged()
        .map_err(|e| format!("join the container's cgroup: {e}"))
        .and_then(|was| {
            let started = match &cfg.runtime {
                Some(rt) => start_external(&cfg, rt, child_io, console_path),
                None => start_builtin(&cfg, child_io, console_path),
            };
            crate::cgroups::leave(&was);
            started
        });
    let pid = match started {
        Ok(pid) => pid,
        Err(e) => {
            let e = super::with_cause(e);
            super::end_children();
            return fail(e);
        }
    };
    let our_io = match stdio.finish() {
        Ok(io) => io,
        Err(e) => return fail(e),
    };
    send_ready(&ReadyMessage {
        pid: Some(pid),
        error: None,
        exit_code: None,
    });
    match stream.as_mut() {
        Some(s) => {
            let input = Input {
                listener: None,
                client: s.try_clone().ok(),
                stdin_once: true,
            };
            our_io.pump(&mut Sink::Stream(s), input);
        }
        None => {
            let mut sink = File::options().write(true).open("/dev/null").ok();
            match sink.as_mut() {
                Some(f) => our_io.pump(
                    &mut Sink::Discard(f),
                    Input {
                        listener: None,
                        client: None,
                        stdin_once: false,
                    },
                ),
                None => our_io.pump(
                    &mut Sink::Discard(&mut std::io::sink()),
                    Input {
                        listener: None,
                        client: None,
                        stdin_once: false,
                    },
                ),
            }
        }
    }
    let code = wait_exit(pid);
    let _ = fs::remove_file(&cfg.console_socket);
    let _ = fs::write(dir.join("exit_code"), code.to_string());
    if let Some(s) = stream.as_mut() {
        let _ = frames::write_frame(s, frames::EXIT, &code.to_be_bytes());
    }
    0
}
