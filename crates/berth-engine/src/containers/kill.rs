//! `POST /containers/{id}/kill`.

use std::sync::Arc;

use crate::Error;
use berth_runtime::signal::parse_signal;
use nix::sys::signal::Signal;

use super::record::ContainerHandle;
use crate::engine::Engine;
use crate::Result;

pub(crate) fn signal_from(name: Option<&str>, default: Signal) -> Result<Signal> {
    match name.filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => {
            parse_signal(s).ok_or_else(|| Error::bad_request(format!("Invalid signal: {s}")))
        }
    }
}

impl Engine {
    /// As dockerd: SIGKILL returns once the exit is recorded (the state
    /// says exited, code 137); other signals return once sent.
    pub async fn kill_container(self: &Arc<Self>, name: &str, signal: Option<&str>) -> Result<()> {
        let h = self.container(name)?;
        let sig = signal_from(signal, Signal::SIGKILL)?;
        let (running, id) = {
            let r = h.record();
            (r.state.running, r.id.clone())
        };
        if !running {
            return Err(Error::conflict(format!(
                "Cannot kill container: {name}: Container {id} is not running"
            )));
        }
        let (rec, ()) = self.transition(&h, |r| r.manually_stopped = true)?;
        // Before the exit's "die", as dockerd orders them.
        self.container_event(&rec, "kill", &[("signal", (sig as i32).to_string())]);
        if sig == Signal::SIGKILL {
            self.kill_and_wait(&h).await
        } else if rec.state.restarting {
            // Nothing to signal between restarts; the kill ends the loop.
            self.transition(&h, |r| r.state.cancel_restart())
                .map(|_| ())
        } else {
            self.signal(&h, sig)
        }
    }

    /// Sends a signal to the container's init; a paused container is thawed
    /// first for SIGKILL, so that it can die.
    pub(crate) fn signal(&self, h: &ContainerHandle, sig: Signal) -> Result<()> {
        let (pid, paused, id) = {
            let r = h.record();
            (r.state.pid as i32, r.state.paused, r.id.clone())
        };
        if pid <= 0 || !h.record().state.has_process() {
            return Ok(());
        }
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(Error::internal(format!("kill {pid}: {e}"))),
        }
        if paused && sig == Signal::SIGKILL {
            let _ = berth_runtime::cgroups::Cgroup::new(&self.cgroups_path(&id)).freeze(false);
        }
        Ok(())
    }
}
