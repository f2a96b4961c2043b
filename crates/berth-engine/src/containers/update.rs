//! `POST /containers/{id}/update`: new limits and restart policy, applied to
//! the running container's cgroup at once.

use crate::Error;
use berth_api::types::HostConfig;
use berth_runtime::cgroups::Cgroup;
use serde_json::{json, Value};

use super::create::resources_of;
use crate::engine::Engine;
use crate::Result;

impl Engine {
    pub async fn update_container(&self, name: &str, update: HostConfig) -> Result<Value> {
        let h = self.container(name)?;
        let _op = h.op.lock().await;
        let mut rec = h.record().clone();
        let hc = &mut rec.host_config;
        // Zero and null mean "leave as it is", as in dockerd.
        fn set<T: Default + PartialEq + Clone>(dst: &mut T, src: &T) {
            if *src != T::default() {
                *dst = src.clone();
            }
        }
        set(&mut hc.memory, &update.memory);
        set(&mut hc.memory_swap, &update.memory_swap);
        set(&mut hc.memory_reservation, &update.memory_reservation);
        set(&mut hc.cpu_shares, &update.cpu_shares);
        set(&mut hc.cpu_quota, &update.cpu_quota);
        set(&mut hc.cpu_period, &update.cpu_period);
        set(&mut hc.cpuset_cpus, &update.cpuset_cpus);
        set(&mut hc.cpuset_mems, &update.cpuset_mems);
        if update.nano_cpus != 0 {
            hc.nano_cpus = update.nano_cpus;
            hc.cpu_quota = 0;
            hc.cpu_period = 0;
        }
        if update.pids_limit.is_some() {
            hc.pids_limit = update.pids_limit;
        }
        if !update.restart_policy.name.is_empty() {
            if hc.auto_remove && !matches!(update.restart_policy.name.as_str(), "no") {
                return Err(Error::bad_request("Restart policy cannot be updated because AutoRemove is enabled for the container"));
            }
            hc.restart_policy = update.restart_policy.clone();
        }
        super::create::validate_host_config(self, hc)?;
        if rec.state.has_process() {
            let mut res = resources_of(hc);
            // Only what the request changed goes to the kernel.
            if update.pids_limit.is_none() {
                res.pids_limit = None;
            }
            let cg = Cgroup::new(&self.cgroups_path(&rec.id));
            crate::blocking(move || {
                cg.update(&res)
                    .map_err(|e| Error::caused_by("Cannot update container", e))
            })
            .await?;
        }
        self.persist(&rec)?;
        self.container_event(&rec, "update", &[]);
        *h.record() = rec;
        Ok(json!({"Warnings": null}))
    }
}
