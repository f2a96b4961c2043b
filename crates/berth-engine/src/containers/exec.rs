//! `POST /containers/{id}/exec`, `/exec/{id}/start|resize|json`: one more
//! process in a running container, run by a `berth-shim exec` that joins the
//! container's namespaces and cgroup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::Error;
use berth_runtime::frames::{self, FrameReader};
use berth_runtime::shim::exec::ExecConfig;
use berth_runtime::supervisor;
use bytes::Bytes;
use oci_spec::runtime::{Process, Spec};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::config::is_builtin_runtime;
use crate::engine::Engine;
use crate::Result;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecCreateBody {
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(default)]
    pub detach_keys: String,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default)]
    pub console_size: Option<Vec<u16>>,
}

#[derive(Debug)]
pub struct ExecInstance {
    pub id: String,
    pub container_id: String,
    pub config: ExecCreateBody,
    pub started: bool,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub pid: i32,
    input: Option<mpsc::Sender<Vec<u8>>>,
    quiet: bool,
}

impl ExecInstance {
    /// dockerd's 409 for an exec that has run or is running, in its words
    /// ("Error: " and all).
    fn check_startable(&self) -> Result<()> {
        let id = &self.id;
        if self.exit_code.is_some() {
            return Err(Error::conflict(format!(
                "Error: Exec command {id} has already run"
            )));
        }
        if self.started {
            return Err(Error::conflict(format!(
                "Error: Exec command {id} is already running"
            )));
        }
        Ok(())
    }
}

pub type Execs = Mutex<HashMap<String, Arc<Mutex<ExecInstance>>>>;

/// What an attached client gets: the process's output, and a way to send input.
pub struct ExecSession {
    /// (1 = stdout, 2 = stderr, payload); closed when the process has exited.
    pub output: mpsc::Receiver<(u8, Bytes)>,
    pub input: mpsc::Sender<Vec<u8>>,
    pub tty: bool,
}

/// Input to an exec or attach, encoded for the supervisor.
pub fn stdin_frame(data: &[u8]) -> Vec<u8> {
    frames::encode(frames::STDIN, data)
}

pub fn stdin_eof_frame() -> Vec<u8> {
    frames::encode(frames::STDIN_EOF, &[])
}

pub fn resize_frame(rows: u16, cols: u16) -> Vec<u8> {
    frames::encode(frames::RESIZE, &frames::resize_payload(rows, cols))
}

/// Checks a terminal size the way dockerd does (zero or absurd sizes are 400).
pub fn check_size(h: i64, w: i64) -> Result<(u16, u16)> {
    if !(1..=u16::MAX as i64).contains(&h) || !(1..=u16::MAX as i64).contains(&w) {
        return Err(Error::bad_request(format!("invalid terminal size {h}x{w}")));
    }
    Ok((h as u16, w as u16))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Engine {
    fn exec(&self, id: &str) -> Result<Arc<Mutex<ExecInstance>>> {
        lock(&self.execs)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))
    }

    pub fn create_exec(&self, container: &str, body: ExecCreateBody) -> Result<String> {
        self.create_exec_as(container, body, false)
    }

    /// `quiet` execs (healthcheck probes) publish no exec events.
    pub(crate) fn create_exec_as(
        &self,
        container: &str,
        body: ExecCreateBody,
        quiet: bool,
    ) -> Result<String> {
        let h = self.container(container)?;
        let (cid, state) = {
            let r = h.record();
            (r.id.clone(), r.state.clone())
        };
        if !state.running {
            return Err(Error::conflict(format!("container {cid} is not running")));
        }
        if state.paused {
            return Err(Error::conflict(format!(
                "Container {cid} is paused, unpause the container before exec"
            )));
        }
        if state.restarting {
            return Err(super::state::restarting(&cid));
        }
        if body
            .cmd
            .as_ref()
            .is_none_or(|c| c.is_empty() || c[0].is_empty())
        {
            return Err(Error::bad_request("No exec command specified"));
        }
        if !body.detach_keys.is_empty() && berth_api::detach::parse(&body.detach_keys).is_err() {
            return Err(Error::bad_request(format!(
                "Invalid escape keys ({}) provided",
                body.detach_keys
            )));
        }
        // Refused here, not by a runtime that has half started it.
        berth_runtime::spec::check_command(
            body.cmd.as_deref().unwrap_or(&[]),
            body.env.as_deref().unwrap_or(&[]),
        )
        .map_err(Error::from)?;
        if !body.working_dir.is_empty() && !body.working_dir.starts_with('/') {
            return Err(Error::bad_request(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                body.working_dir
            )));
        }
        let id = hex::encode(rand::random::<[u8; 32]>());
        let inst = ExecInstance {
            id: id.clone(),
            container_id: cid,
            config: body,
            started: false,
            running: false,
            exit_code: None,
            pid: 0,
            input: None,
            quiet,
        };
        let cmd = inst.config.cmd.clone().unwrap_or_default().join(" ");
        lock(&self.execs).insert(id.clone(), Arc::new(Mutex::new(inst)));
        if !quiet {
            self.container_event(
                &h.record(),
                &format!("exec_create: {cmd}"),
                &[("execID", id.clone())],
            );
        }
        Ok(id)
    }

    /// The OCI process for an exec, derived from the container's own.
    fn exec_process(&self, cid: &str, c: &ExecCreateBody, tty: bool) -> Result<Process> {
        let paths = self.paths(cid);
        let spec = Spec::load(paths.bundle().join("config.json"))
            .map_err(|e| Error::caused_by("read container spec", e))?;
        let mut p = spec
            .process()
            .clone()
            .ok_or_else(|| Error::internal("the container's spec has no process"))?;
        p.set_args(Some(c.cmd.clone().unwrap_or_default()));
        p.set_terminal(Some(tty));
        let mut env = p.env().clone().unwrap_or_default();
        for e in c.env.iter().flatten() {
            let key = e.split('=').next().unwrap_or_default();
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        p.set_env(Some(env));
        if !c.working_dir.is_empty() {
            p.set_cwd(c.working_dir.clone().into());
        }
        if !c.user.is_empty() {
            let mut u =
                berth_runtime::user::resolve_user(&paths.rootfs(), &c.user).map_err(Error::from)?;
            // The container's --group-add holds for its execs too, as in dockerd.
            let group_add = self.container(cid)?.record().host_config.group_add.clone();
            u.add_groups(
                &berth_runtime::user::resolve_groups(
                    &paths.rootfs(),
                    group_add.as_deref().unwrap_or_default(),
                )
                .map_err(Error::from)?,
            );
            let mut user = p.user().clone();
            user.set_uid(u.uid);
            user.set_gid(u.gid);
            user.set_additional_gids(Some(u.additional_gids));
            p.set_user(user);
        }
        if c.privileged {
            // Every capability the daemon itself has, as for --privileged.
            let caps =
                berth_runtime::spec::capabilities(true, &[], &[], &self.cfg.security.bounding)
                    .map_err(Error::from)?;
            p.set_capabilities(Some(
                berth_runtime::spec::capability_set(&caps).map_err(Error::from)?,
            ));
        }
        Ok(p)
    }

    /// Starts an exec. Attached, it returns the session; detached, `None`.
    /// Whether it has a terminal is the exec's create config's say, as in
    /// dockerd (the start request's `Tty` only frames the stream).
    pub async fn start_exec(
        self: &Arc<Self>,
        id: &str,
        detach: bool,
    ) -> Result<Option<ExecSession>> {
        let inst = self.exec(id)?;
        let (cid, config) = {
            let mut i = lock(&inst);
            i.check_startable()?;
            i.started = true;
            (i.container_id.clone(), i.config.clone())
        };
        let h = self.container(&cid)?;
        let (running, runtime, remapped_pid) = {
            let r = h.record();
            let remapped = self.remap_of(&r.host_config).is_some();
            (
                r.state.has_process(),
                r.runtime.clone(),
                remapped.then_some(r.state.pid),
            )
        };
        if !running {
            return Err(Error::conflict(format!("container {cid} is not running")));
        }
        let tty = config.tty;
        // A process that cannot be made (no such user) ends the exec as
        // dockerd's does: exit code 126, which the CLI reports.
        let process = self.exec_process(&cid, &config, tty).inspect_err(|_| {
            lock(&inst).exit_code = Some(126);
        })?;
        let dir = self.paths(&cid).state.join("exec").join(id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::caused_by("exec dir", e))?;
        std::fs::write(
            dir.join("process.json"),
            serde_json::to_vec(&process).unwrap_or_default(),
        )
        .map_err(|e| Error::caused_by("exec process", e))?;
        let cfg = ExecConfig {
            container_id: cid.clone(),
            runtime_root: self.cfg.exec_root.join("runtime"),
            runtime: match runtime.as_str() {
                name if is_builtin_runtime(name) => None,
                name => self.cfg.runtimes.get(name).cloned(),
            },
            process: dir.join("process.json"),
            tty,
            open_stdin: config.attach_stdin && !detach,
            attached: !detach,
            console_socket: self.paths(&cid).sockets.join(format!("{}.c", &id[..20])),
            cgroups_path: self.cgroups_path(&cid),
            join_netns: remapped_pid.map(|pid| format!("/proc/{pid}/ns/net").into()),
        };
        let (ours, theirs) = if detach {
            (None, None)
        } else {
            let (a, b) = std::os::unix::net::UnixStream::pair()
                .map_err(|e| Error::caused_by("exec socket", e))?;
            (Some(a), Some(std::os::fd::OwnedFd::from(b)))
        };
        let shim = self.cfg.shim_binary.clone();
        let dir2 = dir.clone();
        let started =
            tokio::task::spawn_blocking(move || supervisor::spawn_exec(&shim, &dir2, &cfg, theirs))
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
        let started = match started {
            Ok(s) => s,
            Err(e) => {
                // 126 whatever the cause, not found in PATH too: dockerd's code
                // for an exec that could not start (a run's 127 is the runtime's).
                lock(&inst).exit_code = Some(126);
                // The command's own failure in runc's words, which the
                // docker CLI and scripts know; any other as the runtime said it.
                let why = match &e {
                    berth_runtime::RuntimeError::Exec { code, .. } => {
                        let argv0 = config
                            .cmd
                            .iter()
                            .flatten()
                            .next()
                            .cloned()
                            .unwrap_or_default();
                        let cause = match *code {
                            126 => "permission denied".to_string(),
                            _ if argv0.contains('/') => {
                                format!("stat {argv0}: no such file or directory")
                            }
                            _ => "executable file not found in $PATH".to_string(),
                        };
                        format!(
                            "unable to start container process: exec: {argv0:?}: {cause}: unknown"
                        )
                    }
                    _ => Error::from(e).to_string(),
                };
                return Err(Error::bad_request(format!(
                    "OCI runtime exec failed: exec failed: {why}"
                )));
            }
        };
        {
            let mut i = lock(&inst);
            i.running = true;
            i.pid = started.pid;
        }
        let quiet = lock(&inst).quiet;
        if !quiet {
            let cmd = config.cmd.clone().unwrap_or_default().join(" ");
            self.container_event(
                &h.record(),
                &format!("exec_start: {cmd}"),
                &[("execID", id.to_string())],
            );
        }
        let announce_exit = {
            let engine = self.clone();
            let h = h.clone();
            let id = id.to_string();
            move |code: i64| {
                if !quiet {
                    engine.container_event(
                        &h.record(),
                        "exec_die",
                        &[("execID", id), ("exitCode", code.to_string())],
                    );
                }
            }
        };
        let Some(ours) = ours else {
            // Detached: learn the exit code when the supervisor ends.
            let inst = inst.clone();
            tokio::spawn(async move {
                wait_pid(started.shim_pid).await;
                let code = std::fs::read_to_string(dir.join("exit_code"))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(255);
                {
                    let mut i = lock(&inst);
                    i.running = false;
                    i.exit_code = Some(code);
                }
                announce_exit(code);
            });
            return Ok(None);
        };
        ours.set_nonblocking(true)
            .map_err(|e| Error::internal(e.to_string()))?;
        let sock =
            tokio::net::UnixStream::from_std(ours).map_err(|e| Error::internal(e.to_string()))?;
        let (out_tx, out_rx) = mpsc::channel::<(u8, Bytes)>(64);
        let (in_tx, mut in_rx) = mpsc::channel::<Vec<u8>>(64);
        lock(&inst).input = Some(in_tx.clone());
        if let Some([rows, cols]) = config
            .console_size
            .as_deref()
            .and_then(|s| <[u16; 2]>::try_from(s).ok())
        {
            if rows > 0 && cols > 0 {
                let _ = in_tx.try_send(resize_frame(rows, cols));
            }
        }
        let (mut rd, mut wr) = sock.into_split();
        tokio::spawn(async move {
            while let Some(frame) = in_rx.recv().await {
                if wr.write_all(&frame).await.is_err() {
                    return;
                }
            }
        });
        let shim_pid = started.shim_pid;
        // Streams the exec was not created to attach get no frames (dockerd drops them too).
        let (want_out, want_err) = {
            let i = lock(&inst);
            (i.config.attach_stdout, i.config.attach_stderr)
        };
        tokio::spawn(async move {
            let mut frames_in = FrameReader::default();
            let mut buf = vec![0u8; 32 * 1024];
            let mut code: i64 = 255;
            'read: loop {
                let n = match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                frames_in.push(&buf[..n]);
                while let Ok(Some((kind, payload))) = frames_in.next_frame() {
                    match kind {
                        frames::STDOUT if !want_out => {}
                        frames::STDERR if !want_err => {}
                        frames::STDOUT | frames::STDERR => {
                            // A client that went away does not stop the process.
                            let _ = out_tx.send((kind, Bytes::from(payload))).await;
                        }
                        frames::EXIT if payload.len() == 4 => {
                            code = i32::from_be_bytes([
                                payload[0], payload[1], payload[2], payload[3],
                            ]) as i64;
                            break 'read;
                        }
                        _ => {}
                    }
                }
            }
            wait_pid(shim_pid).await;
            {
                let mut i = lock(&inst);
                i.running = false;
                i.exit_code = Some(code);
                i.input = None;
            }
            announce_exit(code);
            drop(out_tx);
        });
        Ok(Some(ExecSession {
            output: out_rx,
            input: in_tx,
            tty,
        }))
    }

    pub fn resize_exec(&self, id: &str, h: i64, w: i64) -> Result<()> {
        let (rows, cols) = check_size(h, w)?;
        let inst = self.exec(id)?;
        let input = lock(&inst).input.clone();
        if let Some(tx) = input {
            let _ = tx.try_send(resize_frame(rows, cols));
        }
        Ok(())
    }

    /// Whether an exec may start (the check `start_exec` makes, for a
    /// caller that must answer before it starts it).
    pub fn check_exec_startable(&self, id: &str) -> Result<()> {
        let inst = self.exec(id)?;
        let i = lock(&inst);
        i.check_startable()
    }

    /// The detach-key watcher for an exec's input: for a terminal with
    /// stdin, the exec's own keys or ctrl-p,ctrl-q, as dockerd.
    pub fn exec_escape(&self, id: &str) -> Result<Option<berth_api::detach::Escape>> {
        let inst = self.exec(id)?;
        let i = lock(&inst);
        if !(i.config.tty && i.config.attach_stdin) {
            return Ok(None);
        }
        let keys = match i.config.detach_keys.as_str() {
            "" => berth_api::detach::DEFAULT.to_vec(),
            k => berth_api::detach::parse(k).unwrap_or_default(),
        };
        Ok(Some(berth_api::detach::Escape::new(keys)))
    }

    pub fn inspect_exec(&self, id: &str) -> Result<Value> {
        let inst = self.exec(id)?;
        let i = lock(&inst);
        let cmd = i.config.cmd.clone().unwrap_or_default();
        let mut process = json!({
            "tty": i.config.tty,
            "entrypoint": cmd.first().cloned().unwrap_or_default(),
            "arguments": cmd.iter().skip(1).collect::<Vec<_>>(),
            "privileged": i.config.privileged,
        });
        // dockerd leaves out a user that was not given (omitempty).
        if !i.config.user.is_empty() {
            process["user"] = json!(i.config.user);
        }
        Ok(json!({
            "ID": i.id,
            "Running": i.running,
            "ExitCode": i.exit_code,
            "ProcessConfig": process,
            "OpenStdin": i.config.attach_stdin,
            "OpenStderr": i.config.attach_stderr,
            "OpenStdout": i.config.attach_stdout,
            // Only an exec that has run may go (dockerd's CanRemove).
            "CanRemove": i.exit_code.is_some(),
            "ContainerID": i.container_id,
            // Bytes, as dockerd's (Go's []byte: base64).
            "DetachKeys": base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                berth_api::detach::parse(&i.config.detach_keys).unwrap_or_default(),
            ),
            "Pid": i.pid,
        }))
    }

    /// Forgets one exec instance (the internal ones of healthchecks).
    pub(crate) fn forget_exec(&self, id: &str) {
        lock(&self.execs).remove(id);
    }

    /// Forgets the exec instances of a removed container.
    /// The container's exec instances (inspect's `ExecIDs`; null for none, as dockerd).
    pub(crate) fn exec_ids(&self, container_id: &str) -> Option<Vec<String>> {
        let mut ids: Vec<String> = lock(&self.execs)
            .iter()
            .filter(|(_, i)| {
                let i = lock(i);
                i.container_id == container_id && !i.quiet
            })
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        (!ids.is_empty()).then_some(ids)
    }

    pub(crate) fn drop_execs(&self, container_id: &str) {
        lock(&self.execs).retain(|_, i| lock(i).container_id != container_id);
    }
}

/// Waits for a process to end (a supervisor), then reaps it.
async fn wait_pid(pid: i32) {
    if let Ok(fd) = supervisor::pidfd_open(pid) {
        // SAFETY: the OwnedFd moves into the AsyncFd and stays open as long as it does.
        if let Ok(afd) = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
        } {
            let _ = afd.readable().await;
        }
    }
    supervisor::reap(pid);
}
