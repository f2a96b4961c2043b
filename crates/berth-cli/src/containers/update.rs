//! `update`: a container's resources and restart policy.

use super::*;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Memory limit
    #[arg(short = 'm', long, value_parser = crate::output::size_arg)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true, value_parser = crate::output::size_arg)]
    memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_parser = crate::output::size_arg)]
    memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    cpu_shares: Option<i64>,
    /// Limit CPU CFS quota
    #[arg(long = "cpu-quota")]
    cpu_quota: Option<i64>,
    /// Limit CPU CFS period
    #[arg(long = "cpu-period")]
    cpu_period: Option<i64>,
    /// CPUs in which to allow execution
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

pub(super) async fn update(client: &Client, a: UpdateArgs) -> Result {
    let mem = |v: &Option<String>| -> Result<i64> {
        match v.as_deref() {
            None => Ok(0),
            Some("-1") => Ok(-1),
            Some(s) => berth_api::units::ram_in_bytes(s)
                .ok_or_else(|| CliError::Usage(format!("invalid size: {s:?}"))),
        }
    };
    let mut body = serde_json::Map::new();
    for (k, v) in [
        ("Memory", mem(&a.memory)?),
        ("MemorySwap", mem(&a.memory_swap)?),
        ("MemoryReservation", mem(&a.memory_reservation)?),
    ] {
        if v != 0 {
            body.insert(k.into(), json!(v));
        }
    }
    if let Some(c) = a.cpus {
        body.insert("NanoCpus".into(), json!((c * 1e9).round() as i64));
    }
    for (k, v) in [
        ("CpuShares", a.cpu_shares),
        ("CpuQuota", a.cpu_quota),
        ("CpuPeriod", a.cpu_period),
        ("PidsLimit", a.pids_limit),
    ] {
        if let Some(v) = v {
            body.insert(k.into(), json!(v));
        }
    }
    if let Some(c) = &a.cpuset_cpus {
        body.insert("CpusetCpus".into(), json!(c));
    }
    if let Some(r) = &a.restart {
        body.insert(
            "RestartPolicy".into(),
            serde_json::to_value(run::restart_policy(r)?).unwrap_or_default(),
        );
    }
    let body = Value::Object(body);
    let mut outcome = crate::output::Outcome::default();
    for n in &a.names {
        match client
            .post_json::<Value>(&format!("/containers/{}/update", enc(n)), &body)
            .await
        {
            Ok(_) => println!("{n}"),
            Err(e) => outcome.error(e),
        }
    }
    outcome.finish()
}
