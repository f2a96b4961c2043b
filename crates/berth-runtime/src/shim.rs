//! The per-container supervisor, run as its own small process (`berth-shim`)
//! so that containers outlive `berthd`. It creates the container through
//! libcontainer (or an external OCI runtime such as runc), owns its stdio and
//! writes the json-file log, reaps it, and records how it ended in
//! `exit.json` before it exits itself.
//!
//! The code here is plain synchronous code: no async runtime, no threads, so
//! each supervisor costs little memory.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{pipe2, Pid};
use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::logs::LogWriter;

/// What `berthd` tells a supervisor, as `shim.json` in its state directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimConfig {
    pub id: String,
    /// The OCI bundle: a directory with `config.json`.
    pub bundle: PathBuf,
    /// Where the runtime keeps its own state.
    pub runtime_root: PathBuf,
    /// An external OCI runtime binary; `None` uses the built-in libcontainer.
    pub runtime: Option<PathBuf>,
    pub log_path: PathBuf,
    pub log_max_size: Option<u64>,
    pub log_max_files: u32,
    /// Give the container a fresh network namespace with loopback up.
    pub new_netns: bool,
    pub cgroups_path: String,
}

/// The first message on the ready pipe: the container's PID or why it failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyMessage {
    pub pid: Option<i32>,
    pub error: Option<String>,
    /// 126 / 127 for a command that cannot be run, as docker reports.
    pub exit_code: Option<i32>,
}

/// How the container ended, in `exit.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExitRecord {
    pub exit_code: i32,
    pub oom_killed: bool,
    pub finished_at: String,
}

pub const CONFIG_FILE: &str = "shim.json";
pub const EXIT_FILE: &str = "exit.json";
/// The ready pipe is the supervisor's fd 3.
pub const READY_FD: i32 = 3;

fn exec_error_code(msg: &str) -> i32 {
    let m = msg.to_ascii_lowercase();
    if m.contains("permission") || m.contains("is a directory") {
        126
    } else {
        127
    }
}

/// Moves this process into a new network namespace with loopback up, and
/// points the bundle's network namespace at it.
fn new_netns(bundle: &Path) -> Result<(), String> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("unshare netns: {e}"))?;
    loopback_up().map_err(|e| format!("bring up loopback: {e}"))?;
    let cfg = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&fs::read(&cfg).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let path = format!("/proc/{}/ns/net", std::process::id());
    if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({"type": "network", "path": path}));
    }
    fs::write(&cfg, serde_json::to_vec(&spec).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())
}

fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain socket/ioctl calls on a zeroed ifreq naming "lo".
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let s = OwnedFd::from_raw_fd(s);
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            ifr.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

struct Stdio {
    stdin: OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

fn start_builtin(cfg: &ShimConfig, io: Stdio) -> Result<i32, String> {
    use libcontainer::container::builder::ContainerBuilder;
    use libcontainer::syscall::syscall::SyscallType;
    let mut container = ContainerBuilder::new(cfg.id.clone(), SyscallType::Linux)
        .with_root_path(&cfg.runtime_root)
        .map_err(|e| e.to_string())?
        .with_stdin(io.stdin)
        .with_stdout(io.stdout)
        .with_stderr(io.stderr)
        .validate_id()
        .map_err(|e| e.to_string())?
        .as_init(&cfg.bundle)
        .with_systemd(false)
        .with_detach(true)
        .build()
        .map_err(|e| e.to_string())?;
    container.start().map_err(|e| e.to_string())?;
    container
        .pid()
        .map(|p| p.as_raw())
        .ok_or_else(|| "runtime reported no pid".to_string())
}

fn start_external(cfg: &ShimConfig, runtime: &Path, io: Stdio) -> Result<i32, String> {
    let pid_file = cfg.bundle.join("init.pid");
    let out = Command::new(runtime)
        .arg("--root")
        .arg(&cfg.runtime_root)
        .args(["create", "--bundle"])
        .arg(&cfg.bundle)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(&cfg.id)
        .stdin(std::process::Stdio::from(io.stdin))
        .stdout(std::process::Stdio::from(io.stdout))
        .stderr(std::process::Stdio::from(io.stderr))
        .status()
        .map_err(|e| format!("run {}: {e}", runtime.display()))?;
    if !out.success() {
        return Err(format!("{} create failed ({out})", runtime.display()));
    }
    let pid: i32 = fs::read_to_string(&pid_file)
        .map_err(|e| e.to_string())?
        .trim()
        .parse()
        .map_err(|_| "bad pid file".to_string())?;
    let st = Command::new(runtime)
        .arg("--root")
        .arg(&cfg.runtime_root)
        .args(["start", &cfg.id])
        .status()
        .map_err(|e| e.to_string())?;
    if !st.success() {
        return Err(format!("{} start failed ({st})", runtime.display()));
    }
    Ok(pid)
}

fn delete_container(cfg: &ShimConfig) {
    match &cfg.runtime {
        Some(rt) => {
            let _ = Command::new(rt)
                .arg("--root")
                .arg(&cfg.runtime_root)
                .args(["delete", "--force", &cfg.id])
                .status();
        }
        None => {
            if let Ok(mut c) =
                libcontainer::container::Container::load(cfg.runtime_root.join(&cfg.id))
            {
                let _ = c.delete(true);
            }
        }
    }
}

fn send_ready(msg: &ReadyMessage) {
    // SAFETY: fd 3 is the ready pipe berthd gave us; we own it from here on.
    let mut f = unsafe { fs::File::from_raw_fd(READY_FD) };
    let _ = f.write_all(&serde_json::to_vec(msg).unwrap_or_default());
}

/// Copies the container's output into the log until both streams end.
fn pump(out: OwnedFd, err: OwnedFd, log: &mut LogWriter) {
    let mut fds = [Some(fs::File::from(out)), Some(fs::File::from(err))];
    let mut buf = vec![0u8; 32 * 1024];
    while fds.iter().any(Option::is_some) {
        let mut polls = Vec::new();
        let mut which = Vec::new();
        for (i, f) in fds.iter().enumerate() {
            if let Some(f) = f {
                polls.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        match poll(&mut polls, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<usize> = polls
            .iter()
            .zip(&which)
            .filter(|(p, _)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, i)| *i)
            .collect();
        drop(polls);
        for i in ready {
            let Some(f) = fds[i].as_mut() else { continue };
            match f.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = log.flush_partial(i);
                    fds[i] = None;
                }
                Ok(n) => {
                    let _ = log.write(i, &buf[..n]);
                }
            }
        }
    }
}

fn wait_exit(pid: i32) -> i32 {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}

/// Writes a file so that readers see all of it or none of it.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, data)?;
    fs::rename(tmp, path)
}

/// The supervisor's whole life; returns the process exit code.
pub fn run(state_dir: &Path) -> i32 {
    let cfg: ShimConfig = match fs::read(state_dir.join(CONFIG_FILE))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            send_ready(&ReadyMessage {
                pid: None,
                error: Some(format!("supervisor config: {e}")),
                exit_code: None,
            });
            return 1;
        }
    };
    let fail = |e: String| {
        let code = exec_error_code(&e);
        let is_exec = e.contains("executable") || e.contains("exec") || e.contains("No such file");
        send_ready(&ReadyMessage {
            pid: None,
            error: Some(e),
            exit_code: is_exec.then_some(code),
        });
        1
    };
    // Orphans of an external runtime's `create` become ours to reap.
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if cfg.new_netns {
        if let Err(e) = new_netns(&cfg.bundle) {
            return fail(e);
        }
    }
    let mut log = match LogWriter::open(&cfg.log_path, cfg.log_max_size, cfg.log_max_files) {
        Ok(l) => l,
        Err(e) => return fail(format!("open log {}: {e}", cfg.log_path.display())),
    };
    let pipes = (|| -> nix::Result<_> {
        let flags = nix::fcntl::OFlag::O_CLOEXEC;
        Ok((pipe2(flags)?, pipe2(flags)?, pipe2(flags)?))
    })();
    let Ok(((in_r, in_w), (out_r, out_w), (err_r, err_w))) = pipes else {
        return fail("create stdio pipes".into());
    };
    drop(in_w); // stdin reads EOF until attach gets stdin.
    let io = Stdio {
        stdin: in_r,
        stdout: out_w,
        stderr: err_w,
    };
    let started = match &cfg.runtime {
        Some(rt) => start_external(&cfg, rt, io),
        None => start_builtin(&cfg, io),
    };
    let pid = match started {
        Ok(pid) => pid,
        Err(e) => {
            delete_container(&cfg);
            return fail(e);
        }
    };
    send_ready(&ReadyMessage {
        pid: Some(pid),
        error: None,
        exit_code: None,
    });
    pump(out_r, err_r, &mut log);
    let code = wait_exit(pid);
    let oom_killed = Cgroup::new(&cfg.cgroups_path).oom_kills() > 0;
    delete_container(&cfg);
    let rec = ExitRecord {
        exit_code: code,
        oom_killed,
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    };
    let _ = write_atomic(
        &state_dir.join(EXIT_FILE),
        &serde_json::to_vec(&rec).unwrap_or_default(),
    );
    0
}
