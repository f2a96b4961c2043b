//! `GET /containers/{id}/stats`: a Docker stats object from the cgroup.

use std::time::Duration;

use serde_json::{json, Value};

use berth_runtime::cgroups::Cgroup;

use crate::engine::Engine;
use crate::Result;

impl Engine {
    /// One sample; `previous` fills `precpu_stats` (docker computes CPU % from the pair).
    pub fn stats_sample(&self, name: &str, previous: Option<&Value>) -> Result<Value> {
        let h = self.container(name)?;
        let r = h.record().clone();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let zero_read = "0001-01-01T00:00:00Z";
        let mut v = if r.state.has_process() {
            Cgroup::new(&self.cgroups_path(&r.id)).stats()
        } else {
            json!({"cpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}, "memory_stats": {}, "pids_stats": {}})
        };
        v["read"] = json!(if r.state.has_process() {
            now
        } else {
            zero_read.to_string()
        });
        v["preread"] = previous
            .map(|p| p["read"].clone())
            .unwrap_or(json!(zero_read));
        v["precpu_stats"] = previous
            .map(|p| p["cpu_stats"].clone())
            .unwrap_or(json!({"cpu_usage": {"total_usage": 0}, "throttling_data": {}}));
        v["name"] = json!(r.name);
        v["id"] = json!(r.id);
        v["num_procs"] = json!(0);
        v["blkio_stats"] =
            json!({"io_service_bytes_recursive": null, "io_serviced_recursive": null});
        v["storage_stats"] = json!({});
        Ok(v)
    }

    pub fn stats_interval() -> Duration {
        Duration::from_secs(1)
    }
}
