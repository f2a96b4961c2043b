//! `POST /containers/{id}/pause` and `/unpause`, through the freezer cgroup.

use berth_api::ApiError;
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
            return Err(ApiError::conflict(format!("Container {id} is not running")));
        }
        if restarting {
            return Err(super::state::restarting(&id));
        }
        if pause && paused {
            return Err(ApiError::conflict(format!(
                "Container {id} is already paused"
            )));
        }
        if !pause && !paused {
            return Err(ApiError::conflict(format!("Container {id} is not paused")));
        }
        let cg = Cgroup::new(&self.cgroups_path(&id));
        crate::blocking(move || {
            cg.freeze(pause)
                .map_err(|e| ApiError::internal(format!("freezer: {e}")))
        })
        .await?;
        let (rec, ()) = self.transition(&h, |r| r.state.set_paused(pause))?;
        self.container_event(&rec, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }
}
