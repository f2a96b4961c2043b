//! `GET /containers/{id}/stats`: a Docker stats object from the cgroup.

use std::time::Duration;

use serde_json::{json, Value};

use berth_runtime::cgroups::Cgroup;

use crate::engine::Engine;
use crate::Result;

/// The CPU figures of a container that is not running: zeros, every key
/// there, as dockerd writes them.
static NO_CPU: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
    json!({
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
});

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
            json!({"cpu_stats": NO_CPU.clone(), "memory_stats": {}, "pids_stats": {}})
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
            .unwrap_or_else(|| NO_CPU.clone());
        v["name"] = json!(r.name);
        v["id"] = json!(r.id);
        v["num_procs"] = json!(0);
        if v.get("blkio_stats").is_none() {
            // A stopped container's, as dockerd: the lists, null.
            v["blkio_stats"] = json!({
                "io_service_bytes_recursive": null, "io_serviced_recursive": null,
                "io_queue_recursive": null, "io_service_time_recursive": null,
                "io_wait_time_recursive": null, "io_merged_recursive": null,
                "io_time_recursive": null, "sectors_recursive": null,
            });
        }
        v["storage_stats"] = json!({});
        // Per interface of the container's own network namespace, as dockerd
        // (none on the host's network, whose counters are not the container's).
        if r.state.has_process() && r.host_config.network_mode != "host" {
            if let Ok(dev) = std::fs::read_to_string(format!("/proc/{}/net/dev", r.state.pid)) {
                let networks = interface_counters(&dev);
                if !networks.is_empty() {
                    v["networks"] = Value::Object(networks);
                }
            }
        }
        Ok(v)
    }

    pub fn stats_interval() -> Duration {
        Duration::from_secs(1)
    }
}

/// `/proc/<pid>/net/dev` as the stats' `networks`: every interface but
/// the loopback, with the counters dockerd reports.
fn interface_counters(dev: &str) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    // Two header lines, then `name: rx(8 fields) tx(8 fields)`.
    for line in dev.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let n: Vec<u64> = counters
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if name == "lo" || n.len() < 16 {
            continue;
        }
        out.insert(
            name.to_string(),
            json!({
                "rx_bytes": n[0], "rx_packets": n[1], "rx_errors": n[2], "rx_dropped": n[3],
                "tx_bytes": n[8], "tx_packets": n[9], "tx_errors": n[10], "tx_dropped": n[11],
            }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_from_proc_net_dev() {
        let dev = "Inter-|   Receive                            |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:      10       1    0    0    0     0          0         0       10       1    0    0    0     0       0          0\n  \
eth0:    1234      10    1    2    0     0          0         0      560       8    3    4    0     0       0          0\n  \
bad: 1 2 3\n";
        let n = interface_counters(dev);
        assert_eq!(n.len(), 1, "{n:?}");
        assert_eq!(
            n["eth0"],
            json!({"rx_bytes": 1234, "rx_packets": 10, "rx_errors": 1, "rx_dropped": 2,
                   "tx_bytes": 560, "tx_packets": 8, "tx_errors": 3, "tx_dropped": 4})
        );
        assert!(interface_counters("").is_empty());
    }
}
