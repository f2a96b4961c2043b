//! Noticing that a container has exited: the supervisor's pidfd becomes
//! readable, and its `exit.json` says how the container ended.

use std::sync::Arc;

use berth_runtime::supervisor;
use berth_store::overlay;
use tokio::io::unix::AsyncFd;

use super::record::{now_rfc3339, ContainerHandle};
use crate::engine::Engine;

impl Engine {
    pub(crate) fn watch_exit(self: &Arc<Self>, h: Arc<ContainerHandle>, shim_pid: i32) {
        let engine = self.clone();
        tokio::spawn(async move {
            if let Ok(fd) = supervisor::pidfd_open(shim_pid) {
                // SAFETY: the OwnedFd moves into the AsyncFd and stays open as long as it does.
                if let Ok(afd) =
                    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
                {
                    let _ = afd.readable().await;
                }
            }
            supervisor::reap(shim_pid);
            engine.on_exit(&h).await;
        });
    }

    /// After a restart: watch supervisors that still run, settle the rest.
    pub(crate) async fn reattach(self: &Arc<Self>, h: &Arc<ContainerHandle>) {
        let (id, shim_pid) = {
            let r = h.record();
            (r.id.clone(), r.shim_pid)
        };
        if shim_pid > 0 && supervisor::is_supervisor(shim_pid, &self.paths(&id).state) {
            self.watch_exit(h.clone(), shim_pid);
        } else {
            self.on_exit(h).await;
        }
    }

    async fn on_exit(self: &Arc<Self>, h: &Arc<ContainerHandle>) {
        let id = h.id();
        let paths = self.paths(&id);
        let exit = supervisor::read_exit(&paths.state);
        let rootfs = paths.rootfs();
        let _ = tokio::task::spawn_blocking(move || overlay::unmount(&rootfs)).await;
        let (rec, auto_remove) = {
            let mut r = h.record();
            r.state.running = false;
            r.state.paused = false;
            r.state.pid = 0;
            r.shim_pid = 0;
            r.state.status = "exited".into();
            match &exit {
                Some(e) => {
                    r.state.exit_code = e.exit_code as i64;
                    r.state.oom_killed = e.oom_killed;
                    r.state.finished_at = e.finished_at.clone();
                }
                None => {
                    r.state.exit_code = 255;
                    r.state.error =
                        "the container's supervisor ended without recording an exit".into();
                    r.state.finished_at = now_rfc3339();
                }
            }
            (r.clone(), r.host_config.auto_remove)
        };
        if let Err(e) = self.persist(&rec) {
            tracing::warn!(%id, "persist exit: {}", e.message);
        }
        h.lifecycle.send_modify(|l| {
            l.exits += 1;
            l.exit_code = rec.state.exit_code;
        });
        if auto_remove {
            if let Err(e) = self.remove_container(&id, false, false).await {
                tracing::warn!(%id, "auto-remove: {}", e.message);
            }
        }
    }
}
