//! `POST /containers/{id}/stop` and `/restart`: the stop signal, then SIGKILL
//! when the timeout runs out.

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use berth_api::ErrorKind;
use nix::sys::signal::Signal;

use super::kill::signal_from;
use super::record::{ContainerHandle, Lifecycle};
use crate::engine::Engine;
use crate::Result;
use tokio::sync::watch;

const DEFAULT_STOP_TIMEOUT: i64 = 10;

impl Engine {
    pub async fn stop_container(
        self: &Arc<Self>,
        name: &str,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<()> {
        let h = self.container(name)?;
        let _op = h.op.lock().await;
        if !h.record().state.running {
            return Err(Error::new(
                ErrorKind::NotModified,
                "container already stopped",
            ));
        }
        // The exit this causes must not trigger the restart policy.
        self.transition(&h, |r| r.manually_stopped = true)?;
        self.stop_locked(&h, signal, timeout).await?;
        self.container_event(&h.record(), "stop", &[]);
        Ok(())
    }

    pub(crate) async fn stop_locked(
        self: &Arc<Self>,
        h: &Arc<ContainerHandle>,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<()> {
        let (stop_signal, stop_timeout) = {
            let r = h.record();
            (r.config.stop_signal.clone(), r.config.stop_timeout)
        };
        let sig = signal_from(signal.or(stop_signal.as_deref()), Signal::SIGTERM)?;
        let timeout = timeout.or(stop_timeout).unwrap_or(DEFAULT_STOP_TIMEOUT);
        let Some((mut rx, exits, paused)) = self.exit_watch(h)? else {
            return Ok(());
        };
        if paused {
            // A frozen process cannot act on its stop signal.
            let id = h.id();
            let _ = berth_runtime::cgroups::Cgroup::new(&self.cgroups_path(&id)).freeze(false);
            self.transition(h, |r| r.state.set_paused(false))?;
        }
        self.signal(h, sig)?;
        let exited = async {
            let _ = rx.wait_for(|l| l.exits > exits || l.removed).await;
        };
        if timeout >= 0 {
            if tokio::time::timeout(Duration::from_secs(timeout as u64), exited)
                .await
                .is_ok()
            {
                return Ok(());
            }
        } else {
            exited.await;
            return Ok(());
        }
        self.kill_and_wait(h).await
    }

    /// What a stop or kill waits on: the lifecycle, subscribed before the
    /// state is read (an exit in between is seen), the exits so far, and
    /// whether the container is paused. `None` when there is no process to
    /// signal: already exited, or between restarts, which this ends.
    fn exit_watch(
        &self,
        h: &ContainerHandle,
    ) -> Result<Option<(watch::Receiver<Lifecycle>, u64, bool)>> {
        let rx = h.lifecycle.subscribe();
        let exits = rx.borrow().exits;
        let state = h.record().state.clone();
        if state.restarting {
            self.transition(h, |r| r.state.cancel_restart())?;
            return Ok(None);
        }
        Ok(state.has_process().then_some((rx, exits, state.paused)))
    }

    /// SIGKILL, then wait for the exit to be recorded; between restarts,
    /// ends the restart loop.
    pub(crate) async fn kill_and_wait(self: &Arc<Self>, h: &Arc<ContainerHandle>) -> Result<()> {
        let Some((mut rx, exits, _)) = self.exit_watch(h)? else {
            return Ok(());
        };
        self.signal(h, Signal::SIGKILL)?;
        let exited = tokio::time::timeout(
            Duration::from_secs(30),
            rx.wait_for(|l| l.exits > exits || l.removed),
        )
        .await
        .is_ok();
        if exited {
            Ok(())
        } else {
            Err(Error::internal(format!(
                "container {} did not exit after SIGKILL",
                h.id()
            )))
        }
    }

    pub async fn restart_container(
        self: &Arc<Self>,
        name: &str,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<()> {
        let h = self.container(name)?;
        let _op = h.op.lock().await;
        if h.record().state.running {
            // The exit this causes must not also trigger the restart policy.
            self.transition(&h, |r| r.manually_stopped = true)?;
            self.stop_locked(&h, signal, timeout).await?;
        }
        {
            let mut r = h.record();
            r.manually_stopped = false;
            r.restart_count = 0;
        }
        self.start_locked(&h).await?;
        self.container_event(&h.record(), "restart", &[]);
        Ok(())
    }
}
