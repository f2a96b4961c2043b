//! `POST /containers/{id}/pause` and `/unpause`, through the freezer cgroup.

use crate::Error;
use berth_runtime::cgroups::Cgroup;

use crate::engine::Engine;
use crate::Result;

impl Engine {
    pub async fn set_paused(&self, name: &str, pause: bool) -> Result<()> {
        let h = self.container(name)?;
        let _op = h.op.lock().await;
        let (id, running, paused, restarting) = {
            let r = h.record();
            (
                r.id.clone(),
                r.state.running,
                r.state.paused,
                r.state.restarting,
            )
        };
        if !running {
            return Err(Error::conflict(format!("Container {id} is not running")));
        }
        if restarting {
            return Err(super::state::restarting(&id));
        }
        if pause && paused {
            return Err(Error::conflict(format!("Container {id} is already paused")));
        }
        if !pause && !paused {
            return Err(Error::conflict(format!("Container {id} is not paused")));
        }
        let cg = Cgroup::new(&self.cgroups_path(&id));
        let frozen =
            crate::blocking(move || cg.freeze(pause).map_err(|e| Error::caused_by("freezer", e)))
                .await;
        if let Err(e) = frozen {
            // It ended on the way (its cgroup went with it; the exit may not
            // be recorded yet): dockerd's answer for a container that is not
            // running, not a freezer error.
            if !h.record().state.has_process() || !self.init_alive(&h) {
                return Err(Error::conflict(format!("Container {id} is not running")));
            }
            return Err(e);
        }
        let (rec, ()) = self.transition(&h, |r| r.state.set_paused(pause))?;
        self.container_event(&rec, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }
}

impl Engine {
    /// Whether the container's init process is still there (its exit may
    /// not be recorded yet).
    pub(crate) fn init_alive(&self, h: &super::record::ContainerHandle) -> bool {
        let pid = h.record().state.pid as i32;
        pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
    }
}
