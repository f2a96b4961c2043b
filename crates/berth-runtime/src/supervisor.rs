//! The daemon's side of a supervisor: start one, learn how it went, find out
//! when it has exited (also after a daemon restart, through a pidfd), and
//! read its exit record.

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Result, RuntimeError};
use crate::shim::exec::{ExecConfig, EXEC_CONFIG, STREAM_FD};
use crate::shim::{ExitRecord, ReadyMessage, ShimConfig, CONFIG_FILE, EXIT_FILE, READY_FD};

#[derive(Debug, Clone, Copy)]
pub struct Started {
    pub shim_pid: i32,
    pub pid: i32,
}

/// Starts `berth-shim` for a container and waits until the container runs
/// (or failed to). The shim is its own session leader, so it survives the
/// daemon and the daemon's terminal.
pub fn spawn(shim_binary: &Path, state_dir: &Path, cfg: &ShimConfig) -> Result<Started> {
    fs::create_dir_all(state_dir).map_err(RuntimeError::io("create supervisor dir"))?;
    let _ = fs::remove_file(state_dir.join(EXIT_FILE));
    let raw = serde_json::to_vec(cfg).map_err(|e| RuntimeError::Other(e.to_string()))?;
    fs::write(state_dir.join(CONFIG_FILE), raw)
        .map_err(RuntimeError::io("write supervisor config"))?;
    launch(shim_binary, &[state_dir.as_os_str()], state_dir, None)
}

/// Starts `berth-shim exec` for one exec'd process. With `stream`, its
/// output and exit code arrive as frames on that socket, and input goes back.
pub fn spawn_exec(
    shim_binary: &Path,
    dir: &Path,
    cfg: &ExecConfig,
    stream: Option<OwnedFd>,
) -> Result<Started> {
    fs::create_dir_all(dir).map_err(RuntimeError::io("create exec dir"))?;
    let raw = serde_json::to_vec(cfg).map_err(|e| RuntimeError::Other(e.to_string()))?;
    fs::write(dir.join(EXEC_CONFIG), raw).map_err(RuntimeError::io("write exec config"))?;
    launch(
        shim_binary,
        &["exec".as_ref(), dir.as_os_str()],
        dir,
        stream,
    )
}

fn launch(
    shim_binary: &Path,
    args: &[&std::ffi::OsStr],
    dir: &Path,
    stream: Option<OwnedFd>,
) -> Result<Started> {
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| RuntimeError::Other(e.to_string()))?;
    let shim_log =
        fs::File::create(dir.join("shim.log")).map_err(RuntimeError::io("create shim log"))?;
    let w = ready_w.as_raw_fd();
    let s = stream.as_ref().map(|s| s.as_raw_fd());
    let mut cmd = Command::new(shim_binary);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(shim_log.try_clone().map_err(RuntimeError::io("shim log"))?)
        .stderr(shim_log);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::dup2(w, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(s) = s {
                if libc::dup2(s, STREAM_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| {
        RuntimeError::Other(format!("start supervisor {}: {e}", shim_binary.display()))
    })?;
    drop(ready_w);
    drop(stream);
    let shim_pid = child.id() as i32;
    // The child is reaped by `reap` once its pidfd says it has exited.
    std::mem::forget(child);
    let mut msg = Vec::new();
    fs::File::from(ready_r)
        .read_to_end(&mut msg)
        .map_err(RuntimeError::io("read supervisor"))?;
    let ready: ReadyMessage = serde_json::from_slice(&msg).map_err(|_| {
        let log = fs::read_to_string(dir.join("shim.log")).unwrap_or_default();
        RuntimeError::Other(format!("supervisor failed: {}", log.trim()))
    })?;
    match (ready.pid, ready.error) {
        (Some(pid), _) => Ok(Started { shim_pid, pid }),
        (None, err) => {
            // It exits right after reporting the failure.
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(shim_pid), None);
            let message = err.unwrap_or_else(|| "container failed to start".into());
            Err(match ready.exit_code {
                Some(code) => RuntimeError::Exec { message, code },
                None => RuntimeError::Other(message),
            })
        }
    }
}

/// Collects a supervisor's exit status if it is our child; harmless otherwise.
pub fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}

/// A file descriptor that becomes readable when `pid` exits; works for
/// processes that are not our children (supervisors from before a restart).
pub fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: the syscall returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(RuntimeError::io(format!("pidfd_open {pid}"))(
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether `pid` is alive and is a supervisor for `state_dir` (PIDs are reused).
pub fn is_supervisor(pid: i32, state_dir: &Path) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let status = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // A zombie has exited already.
    if status
        .rsplit(')')
        .next()
        .is_some_and(|s| s.trim_start().starts_with('Z'))
    {
        return false;
    }
    cmdline
        .split(|b| *b == 0)
        .any(|a| a == state_dir.as_os_str().as_encoded_bytes())
}

pub fn read_exit(state_dir: &Path) -> Option<ExitRecord> {
    serde_json::from_slice(&fs::read(state_dir.join(EXIT_FILE)).ok()?).ok()
}

/// Finds `berth-shim`: next to the running binary, else on PATH.
pub fn find_shim_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_SHIM") {
        return p.into();
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let candidate = dir.join("berth-shim");
        if candidate.exists() {
            return candidate;
        }
        // Test binaries live in target/<profile>/deps.
        if let Some(up) = dir.parent().map(|p| p.join("berth-shim")) {
            if up.exists() {
                return up;
            }
        }
    }
    PathBuf::from("berth-shim")
}
