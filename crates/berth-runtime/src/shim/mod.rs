//! The per-container supervisor, run as its own small process (`berth-shim`)
//! so that containers outlive `berthd`. It creates the container through
//! libcontainer (or an external OCI runtime such as runc), owns its stdio and
//! writes the json-file log, reaps it, and records how it ended in
//! `exit.json` before it exits itself.
//!
//! The code here is plain synchronous code: no async runtime, no threads, so
//! each supervisor costs little memory.

pub mod exec;
pub mod io;

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use self::io::{ChildStdio, Input, Sink};
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
    /// Join this network namespace first and let the container inherit it:
    /// a container in a user namespace of its own cannot `setns` into a
    /// network namespace its user namespace does not own.
    #[serde(default)]
    pub join_netns: Option<PathBuf>,
    pub cgroups_path: String,
    /// A pseudo-terminal for the container (`Tty`).
    #[serde(default)]
    pub tty: bool,
    /// Keep stdin open for attach clients (`OpenStdin`).
    #[serde(default)]
    pub open_stdin: bool,
    /// Close stdin when the first attached client leaves (`StdinOnce`).
    #[serde(default)]
    pub stdin_once: bool,
    /// Where attach clients connect (kept short: socket paths are limited).
    #[serde(default)]
    pub attach_socket: PathBuf,
    /// Where the runtime hands over the terminal, with `tty`.
    #[serde(default)]
    pub console_socket: PathBuf,
}

/// The first error the runtime logged: libcontainer's errors say "failed to
/// prepare rootfs" and log the cause, which belongs in the user's message
/// (what it logs after, cleaning up, is not the cause).
static FIRST_RUNTIME_ERROR: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// The supervisor's own log (`shim.log`), as a descriptor of its own: the
/// runtime's child processes log after they have put the container's stdio
/// on fd 2, and a long error written into a pipe nobody reads yet (the
/// supervisor drains it only once the start is over) would block for ever.
static LOG_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(2);

/// A log line is cut here: an error can quote a 128 KiB argument.
const MAX_LOG_LINE: usize = 4096;

struct ErrorLog;

impl std::io::Write for ErrorLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let kept = &buf[..buf.len().min(MAX_LOG_LINE)];
        if let Ok(mut first) = FIRST_RUNTIME_ERROR.lock() {
            if first.is_empty() {
                *first = String::from_utf8_lossy(kept).trim().to_string();
            }
        }
        let fd = LOG_FD.load(std::sync::atomic::Ordering::Relaxed);
        let cut: &[u8] = if kept.len() < buf.len() {
            b"...\n"
        } else {
            b""
        };
        for mut out in [kept, cut] {
            while !out.is_empty() {
                // SAFETY: writing from a live buffer to a descriptor this process owns.
                let n = unsafe { libc::write(fd, out.as_ptr().cast(), out.len()) };
                if n <= 0 {
                    break;
                }
                out = &out[n as usize..];
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends the runtime's error logs to the supervisor's log (`shim.log`),
/// keeping the first one for the failure message.
pub fn log_runtime_errors() {
    // SAFETY: duplicating our own stderr to a descriptor above the ones the
    // runtime hands out.
    let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 100) };
    if fd >= 0 {
        LOG_FD.store(fd, std::sync::atomic::Ordering::Relaxed);
    }
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::ERROR)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(|| ErrorLog)
        .try_init();
}

/// `error`, with the cause the runtime logged when it adds something.
pub(crate) fn with_cause(error: String) -> String {
    let first = FIRST_RUNTIME_ERROR
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    let cause = first.trim_start_matches("ERROR").trim();
    // Nothing new when the error already ends the way the cause does.
    let tail = cause.rsplit(": ").next().unwrap_or(cause);
    if cause.is_empty() || error.contains(tail) {
        error
    } else {
        format!("{error}: {cause}")
    }
}

/// The first message on the ready pipe: the container's PID or why it failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyMessage {
    pub pid: Option<i32>,
    pub error: Option<String>,
    /// 126 / 127 for a command that cannot be run, as docker reports.
    pub exit_code: Option<i32>,
}

impl ReadyMessage {
    /// A start failure; one that is about the command gets docker's 126/127.
    pub fn failed(error: String) -> ReadyMessage {
        // libcontainer: "executable 'x' not found in $PATH" or "… does not
        // have correct permissions"; runc: `exec: "x": …`. Other failures
        // (a mount, a device) are the runtime's, not the command's.
        let is_exec = error.contains("executable") || error.contains("exec: \"");
        ReadyMessage {
            pid: None,
            exit_code: is_exec.then(|| exec_error_code(&error)),
            error: Some(error),
        }
    }
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

pub(crate) fn exec_error_code(msg: &str) -> i32 {
    let m = msg.to_ascii_lowercase();
    if m.contains("permission") || m.contains("is a directory") {
        126
    } else {
        127
    }
}

/// Moves this process into a new network namespace with loopback up (or
/// into `join`), and points the bundle's network namespace at it; with a
/// user namespace in the spec the container inherits it instead (see
/// `ShimConfig::join_netns`).
fn enter_netns(bundle: &Path, join: Option<&Path>) -> Result<(), String> {
    match join {
        Some(p) => {
            let f = fs::File::open(p).map_err(|e| format!("open {}: {e}", p.display()))?;
            nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("join netns {}: {e}", p.display()))?;
        }
        None => {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("unshare netns: {e}"))?;
            loopback_up().map_err(|e| format!("bring up loopback: {e}"))?;
        }
    }
    let cfg = bundle.join("config.json");
    let mut spec = oci_spec::runtime::Spec::load(&cfg).map_err(|e| e.to_string())?;
    let path = format!("/proc/{}/ns/net", std::process::id());
    if let Some(ns) = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.namespaces_mut().as_mut())
    {
        use oci_spec::runtime::LinuxNamespaceType::{Network, User};
        let own_userns = ns.iter().any(|n| n.typ() == User);
        ns.retain(|n| n.typ() != Network);
        if !own_userns {
            let mut net = oci_spec::runtime::LinuxNamespace::default();
            net.set_typ(Network);
            net.set_path(Some(path.into()));
            ns.push(net);
        }
    }
    spec.save(&cfg).map_err(|e| e.to_string())
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

fn start_builtin(
    cfg: &ShimConfig,
    io: Option<ChildStdio>,
    console: Option<&Path>,
) -> Result<i32, String> {
    let b = io::builder(&cfg.id, &cfg.runtime_root, io, console)?;
    let mut container = b
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

fn start_external(
    cfg: &ShimConfig,
    runtime: &Path,
    io: Option<ChildStdio>,
    console: Option<&Path>,
) -> Result<i32, String> {
    let pid_file = cfg.bundle.join("init.pid");
    let mut cmd = Command::new(runtime);
    cmd.arg("--root")
        .arg(&cfg.runtime_root)
        .args(["create", "--bundle"])
        .arg(&cfg.bundle)
        .arg("--pid-file")
        .arg(&pid_file);
    if let Some(c) = console {
        cmd.arg("--console-socket").arg(c);
    }
    if let Some(io) = io {
        cmd.stdin(std::process::Stdio::from(io.stdin))
            .stdout(std::process::Stdio::from(io.stdout))
            .stderr(std::process::Stdio::from(io.stderr));
    }
    let out = cmd
        .arg(&cfg.id)
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

/// Ends whatever the runtime left behind after a failed start (its init
/// process can be blocked writing an error nobody reads) and reaps it. The
/// supervisor is a subreaper, so every such process is its child.
pub(crate) fn end_children() {
    let me = std::process::id();
    let children = fs::read_to_string(format!("/proc/{me}/task/{me}/children")).unwrap_or_default();
    for pid in children
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
    }
}

pub(crate) fn send_ready(msg: &ReadyMessage) {
    // SAFETY: fd 3 is the ready pipe berthd gave us; we own it from here on.
    let mut f = unsafe { fs::File::from_raw_fd(READY_FD) };
    let _ = f.write_all(&serde_json::to_vec(msg).unwrap_or_default());
}

pub(crate) fn wait_exit(pid: i32) -> i32 {
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

/// Reads a supervisor's JSON config; on failure reports it on the ready pipe.
pub(crate) fn load_config<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Option<T> {
    let loaded = fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
    match loaded {
        Ok(c) => Some(c),
        Err(e) => {
            send_ready(&ReadyMessage {
                pid: None,
                error: Some(format!("{what}: {e}")),
                exit_code: None,
            });
            None
        }
    }
}

/// The supervisor's whole life; returns the process exit code.
pub fn run(state_dir: &Path) -> i32 {
    let Some(cfg) = load_config::<ShimConfig>(&state_dir.join(CONFIG_FILE), "supervisor config")
    else {
        return 1;
    };
    let fail = |e: String| {
        send_ready(&ReadyMessage::failed(e));
        1
    };
    // Orphans of an external runtime's `create` become ours to reap.
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if cfg.new_netns || cfg.join_netns.is_some() {
        if let Err(e) = enter_netns(&cfg.bundle, cfg.join_netns.as_deref()) {
            return fail(e);
        }
    }
    let mut log = match LogWriter::open(&cfg.log_path, cfg.log_max_size, cfg.log_max_files) {
        Ok(l) => l,
        Err(e) => return fail(format!("open log {}: {e}", cfg.log_path.display())),
    };
    let attach = if cfg.open_stdin || cfg.tty {
        let path = &cfg.attach_socket;
        let _ = fs::remove_file(path);
        if let Some(d) = path.parent() {
            let _ = fs::create_dir_all(d);
        }
        match std::os::unix::net::UnixListener::bind(path) {
            Ok(l) => Some(l),
            Err(e) => return fail(format!("attach socket: {e}")),
        }
    } else {
        None
    };
    let mut stdio = match io::prepare(cfg.tty, cfg.open_stdin, &cfg.console_socket) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let (child_io, console_path) = stdio.for_runtime();
    let cgroup = Cgroup::new(&cfg.cgroups_path);
    let started = cgroup
        .join_unmanaged()
        .map_err(|e| format!("join the container's cgroup: {e}"))
        .and_then(|was| {
            // The container is made from this process and keeps the cgroups it
            // had then; the supervisor itself goes back to where it was.
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
            // The cause is what the runtime logged before cleaning up logs more.
            let e = with_cause(e);
            end_children();
            delete_container(&cfg);
            cgroup.remove_tree();
            return fail(e);
        }
    };
    let our_io = match stdio.finish() {
        Ok(io) => io,
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
    our_io.pump(
        &mut Sink::Log {
            log: &mut log,
            tty: cfg.tty,
        },
        Input {
            listener: attach,
            client: None,
            stdin_once: cfg.stdin_once,
        },
    );
    let code = wait_exit(pid);
    let oom_killed = cgroup.oom_kills() > 0;
    // Child cgroups the container made first: the runtime's delete fails on
    // a cgroup that still has children, and then keeps its state too.
    cgroup.remove_tree();
    delete_container(&cfg);
    cgroup.remove_tree();
    let rec = ExitRecord {
        exit_code: code,
        oom_killed,
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    };
    let _ = fs::remove_file(&cfg.attach_socket);
    let _ = fs::remove_file(&cfg.console_socket);
    let _ = write_atomic(
        &state_dir.join(EXIT_FILE),
        &serde_json::to_vec(&rec).unwrap_or_default(),
    );
    0
}
