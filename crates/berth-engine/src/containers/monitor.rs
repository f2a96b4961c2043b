//! Noticing that a container has exited (the supervisor's pidfd becomes
//! readable, its `exit.json` says how), and acting on the restart policy
//! with dockerd's back-off: 100 ms, doubling, at most a minute, back to
//! 100 ms once a run lasted 10 seconds.

use std::sync::Arc;
use std::time::Duration;

use berth_api::types::RestartPolicy;
use berth_runtime::supervisor;
use berth_store::overlay;
use tokio::io::unix::AsyncFd;

use super::record::{ContainerHandle, ContainerRecord};
use super::state::Exit;
use crate::engine::Engine;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);

/// Whether a policy restarts a container that exited with `code`.
/// `daemon_start` is the check made when berthd starts: `always` then
/// restarts even a container the user stopped, as dockerd does.
pub fn policy_restarts(
    p: &RestartPolicy,
    code: i64,
    restarts: i64,
    manually_stopped: bool,
    daemon_start: bool,
) -> bool {
    match p.name.as_str() {
        "always" => daemon_start || !manually_stopped,
        "unless-stopped" => !manually_stopped,
        "on-failure" => {
            !manually_stopped
                && code != 0
                && (p.maximum_retry_count == 0 || restarts < p.maximum_retry_count)
        }
        _ => false,
    }
}

fn ran_for(r: &ContainerRecord) -> Duration {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(&r.state.started_at), parse(&r.state.finished_at)) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

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

    /// After a restart: watch supervisors that still run, settle the rest,
    /// and bring back what the restart policy says should run.
    pub(crate) async fn reattach(self: &Arc<Self>, h: &Arc<ContainerHandle>) {
        let (id, shim_pid) = {
            let r = h.record();
            (r.id.clone(), r.shim_pid)
        };
        if shim_pid > 0 && supervisor::is_supervisor(shim_pid, &self.paths(&id).state) {
            self.watch_exit(h.clone(), shim_pid);
            self.start_healthcheck(h);
        } else {
            self.on_exit(h).await;
        }
    }

    /// At daemon start, for a container that is not running.
    pub(crate) fn restart_on_daemon_start(self: &Arc<Self>, h: &Arc<ContainerHandle>) {
        let r = h.record().clone();
        if r.state.status() != "created"
            && policy_restarts(
                &r.host_config.restart_policy,
                r.state.exit_code,
                r.restart_count,
                r.manually_stopped,
                true,
            )
        {
            self.schedule_restart(h.clone(), Duration::ZERO, true);
        }
    }

    async fn on_exit(self: &Arc<Self>, h: &Arc<ContainerHandle>) {
        let id = h.id();
        let paths = self.paths(&id);
        let exit = supervisor::read_exit(&paths.state);
        let rootfs = paths.rootfs();
        let _ = tokio::task::spawn_blocking(move || overlay::unmount(&rootfs)).await;
        self.disconnect_sandbox(h).await;
        let exit = match exit {
            Some(e) => Exit {
                code: e.exit_code as i64,
                oom_killed: e.oom_killed,
                at: e.finished_at,
            },
            None => Exit {
                code: 255,
                oom_killed: false,
                at: String::new(),
            },
        };
        let recorded = self.transition(h, |r| {
            r.shim_pid = 0;
            let restart = !r.host_config.auto_remove
                && policy_restarts(
                    &r.host_config.restart_policy,
                    exit.code,
                    r.restart_count,
                    r.manually_stopped,
                    false,
                );
            if exit.code == 255 && exit.at.is_empty() {
                r.state.error = "the container's supervisor ended without recording an exit".into();
            }
            if restart {
                r.state.set_restarting(exit);
            } else {
                r.state.set_stopped(exit);
            }
        });
        let rec = match recorded {
            Ok((rec, ())) => rec,
            Err(e) => {
                tracing::warn!(%id, "persist exit: {e}");
                h.record().clone()
            }
        };
        self.container_event(
            &rec,
            "die",
            &[("exitCode", rec.state.exit_code.to_string())],
        );
        h.lifecycle.send_modify(|l| {
            l.exits += 1;
            l.exit_code = rec.state.exit_code;
        });
        if rec.state.restarting {
            let delay = {
                let mut d = h.restart_delay.lock().unwrap_or_else(|p| p.into_inner());
                *d = if ran_for(&rec) >= Duration::from_secs(10) || d.is_zero() {
                    FIRST_DELAY
                } else {
                    (*d * 2).min(MAX_DELAY)
                };
                *d
            };
            self.schedule_restart(h.clone(), delay, false);
        } else if rec.host_config.auto_remove {
            if let Err(e) = self.remove_container(&id, false, true).await {
                tracing::warn!(%id, "auto-remove: {e}");
            }
        }
    }

    fn schedule_restart(
        self: &Arc<Self>,
        h: Arc<ContainerHandle>,
        delay: Duration,
        daemon_start: bool,
    ) {
        let engine = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _op = h.op.lock().await;
            {
                let r = h.record();
                // Stopped, removed or started by the user meanwhile.
                let cancelled = (r.manually_stopped && !daemon_start) || r.state.has_process();
                if h.lifecycle.borrow().removed || cancelled {
                    return;
                }
            }
            {
                let mut r = h.record();
                r.restart_count += 1;
                r.manually_stopped = false;
            }
            if let Err(e) = engine.start_locked(&h).await {
                tracing::warn!(id = %h.id(), "restart failed: {e}");
                let _ = engine.transition(&h, |r| r.state.cancel_restart());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, max: i64) -> RestartPolicy {
        RestartPolicy {
            name: name.into(),
            maximum_retry_count: max,
        }
    }

    #[test]
    fn policies_like_dockerd() {
        assert!(!policy_restarts(&p("no", 0), 1, 0, false, false));
        assert!(policy_restarts(&p("always", 0), 0, 9, false, false));
        assert!(!policy_restarts(&p("always", 0), 0, 0, true, false));
        assert!(
            policy_restarts(&p("always", 0), 0, 0, true, true),
            "always returns with the daemon"
        );
        assert!(!policy_restarts(&p("unless-stopped", 0), 0, 0, true, true));
        assert!(policy_restarts(&p("unless-stopped", 0), 0, 0, false, true));
        assert!(policy_restarts(&p("on-failure", 2), 1, 1, false, false));
        assert!(!policy_restarts(&p("on-failure", 2), 1, 2, false, false));
        assert!(!policy_restarts(&p("on-failure", 0), 0, 0, false, false));
    }
}
