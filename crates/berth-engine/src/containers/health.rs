//! Healthchecks: `HEALTHCHECK` from the image or `--health-*`, run as an exec
//! every interval, with dockerd's rules (start period, retries, five results
//! kept, `health_status` events).

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_api::types::{HealthConfig, HealthcheckResult};

use super::exec::ExecCreateBody;
use super::record::{now_rfc3339, ContainerHandle};
use crate::engine::Engine;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: i64 = 3;
const MAX_OUTPUT: usize = 4096;

fn nanos(n: i64, default: Duration) -> Duration {
    if n > 0 {
        Duration::from_nanos(n as u64)
    } else {
        default
    }
}

/// The command of a healthcheck: `CMD args…` or `CMD-SHELL script`; `NONE` disables.
pub fn health_command(h: &HealthConfig) -> Option<Vec<String>> {
    let test = h.test.as_ref()?;
    match test.first().map(String::as_str) {
        Some("CMD") => Some(test[1..].to_vec()),
        Some("CMD-SHELL") => Some(vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")]),
        _ => None,
    }
}

impl Engine {
    /// Starts the probe loop for a run of a container that has a healthcheck.
    pub(crate) fn start_healthcheck(self: &Arc<Self>, h: &Arc<ContainerHandle>) {
        let (cfg, starts) = {
            let r = h.record();
            (r.config.healthcheck.clone(), h.lifecycle.borrow().starts)
        };
        let Some(cfg) = cfg else { return };
        let Some(cmd) = health_command(&cfg) else {
            return;
        };
        let _ = self.transition(h, |r| r.state.start_health());
        let engine = self.clone();
        let h = h.clone();
        tokio::spawn(async move {
            let interval = nanos(cfg.interval, DEFAULT_INTERVAL);
            let timeout = nanos(cfg.timeout, DEFAULT_TIMEOUT);
            let retries = if cfg.retries > 0 {
                cfg.retries
            } else {
                DEFAULT_RETRIES
            };
            let start_period = nanos(cfg.start_period, Duration::ZERO);
            let begun = Instant::now();
            loop {
                tokio::time::sleep(interval).await;
                // This run of the container is over: stop probing.
                let l = *h.lifecycle.borrow();
                if l.removed || l.starts != starts || !h.record().state.has_process() {
                    return;
                }
                if h.record().state.paused {
                    continue;
                }
                let start = now_rfc3339();
                let (code, output) = engine.probe(&h.id(), cmd.clone(), timeout).await;
                let result = HealthcheckResult {
                    start,
                    end: now_rfc3339(),
                    exit_code: code,
                    output,
                };
                let in_start_period = begun.elapsed() < start_period;
                let recorded = engine.transition(&h, |r| {
                    r.state.record_probe(result, retries, in_start_period)
                });
                if let Ok((rec, Some(status))) = recorded {
                    engine.container_event(&rec, &format!("health_status: {status}"), &[]);
                }
            }
        });
    }

    /// Runs one probe as an exec; (exit code, output). A timeout counts as a failure.
    async fn probe(
        self: &Arc<Self>,
        container: &str,
        cmd: Vec<String>,
        timeout: Duration,
    ) -> (i64, String) {
        let body = ExecCreateBody {
            attach_stdout: true,
            attach_stderr: true,
            cmd: Some(cmd),
            ..Default::default()
        };
        let id = match self.create_exec_as(container, body, true) {
            Ok(id) => id,
            Err(e) => return (-1, e.to_string()),
        };
        let session = match self.start_exec(&id, false).await {
            Ok(Some(s)) => s,
            Ok(None) => return (-1, String::new()),
            Err(e) => return (-1, e.to_string()),
        };
        let mut output = Vec::new();
        let mut rx = session.output;
        let read = async {
            while let Some((_, d)) = rx.recv().await {
                if output.len() < MAX_OUTPUT {
                    output.extend_from_slice(&d[..d.len().min(MAX_OUTPUT - output.len())]);
                }
            }
        };
        let timed_out = tokio::time::timeout(timeout, read).await.is_err();
        let code = if timed_out {
            -1
        } else {
            // The exit code is recorded just after the output ends.
            let mut code = None;
            for _ in 0..100 {
                code = self
                    .inspect_exec(&id)
                    .ok()
                    .and_then(|v| v["ExitCode"].as_i64());
                if code.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            code.unwrap_or(-1)
        };
        self.forget_exec(&id);
        let mut text = String::from_utf8_lossy(&output).into_owned();
        if timed_out {
            text = format!("Health check exceeded timeout ({timeout:?})");
        }
        (code, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let h = |t: &[&str]| HealthConfig {
            test: Some(t.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        assert_eq!(
            health_command(&h(&["CMD", "true"])),
            Some(vec!["true".to_string()])
        );
        assert_eq!(
            health_command(&h(&["CMD-SHELL", "exit 1"])).unwrap()[2],
            "exit 1"
        );
        assert_eq!(health_command(&h(&["NONE"])), None);
    }
}
