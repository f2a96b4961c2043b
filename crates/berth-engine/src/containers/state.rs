//! A container's state and its transitions, as moby's `container/state.go`
//! has them: every path that changes the state (start, exit, restart
//! back-off, stop, kill, pause, remove, daemon restore) calls one of the
//! `set_*` methods through [`Engine::transition`], which persists the record
//! in the same step; the status word and text are derived here and nowhere
//! else.

use berth_api::types::{ContainerState, Health, HealthcheckResult};
use serde::{Deserialize, Serialize};

use super::record::{now_rfc3339, ContainerHandle, ContainerRecord, ZERO_TIME};
use crate::engine::Engine;
use crate::Result;

/// What Berth keeps of a container's state. `Running` stays true while the
/// restart policy waits to start it again (`Restarting`), as in dockerd:
/// a restarting container is listed by `ps`, cannot be removed without
/// force, and is stopped by `stop`. [`State::has_process`] is whether a
/// process is there to signal or join.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct State {
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub removal_in_progress: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// How a container's process ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    pub code: i64,
    pub oom_killed: bool,
    /// RFC 3339; empty for now.
    pub at: String,
}

fn never(ts: &str) -> bool {
    ts.is_empty() || ts == ZERO_TIME
}

fn since(ts: &str) -> std::time::Duration {
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .and_then(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .to_std()
                .ok()
        })
        .unwrap_or_default()
}

impl State {
    /// A container just created: never started.
    pub fn created() -> State {
        State {
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            ..State::default()
        }
    }

    /// The one place the status word is derived (dockerd's `StateString`).
    pub fn status(&self) -> &'static str {
        if self.running {
            if self.paused {
                return "paused";
            }
            if self.restarting {
                return "restarting";
            }
            return "running";
        }
        if self.removal_in_progress {
            "removing"
        } else if self.dead {
            "dead"
        } else if never(&self.started_at) {
            "created"
        } else {
            "exited"
        }
    }

    /// `ps`'s STATUS column: "Up 5 seconds (healthy)", "Restarting (1) 2
    /// seconds ago", "Exited (0) 3 minutes ago", "Created".
    pub fn status_text(&self) -> String {
        use berth_api::units::human_duration;
        if self.running {
            let up = human_duration(since(&self.started_at));
            if self.paused {
                return format!("Up {up} (Paused)");
            }
            if self.restarting {
                return format!(
                    "Restarting ({}) {} ago",
                    self.exit_code,
                    human_duration(since(&self.finished_at))
                );
            }
            return match self.health.as_ref().map(|h| h.status.as_str()) {
                Some("starting") => format!("Up {up} (health: starting)"),
                Some(h @ ("healthy" | "unhealthy")) => format!("Up {up} ({h})"),
                _ => format!("Up {up}"),
            };
        }
        if self.removal_in_progress {
            return "Removal In Progress".into();
        }
        if self.dead {
            return "Dead".into();
        }
        if never(&self.started_at) {
            return "Created".into();
        }
        if never(&self.finished_at) {
            return String::new();
        }
        format!(
            "Exited ({}) {} ago",
            self.exit_code,
            human_duration(since(&self.finished_at))
        )
    }

    /// Whether a process is there: running, paused, not between restarts.
    pub fn has_process(&self) -> bool {
        self.running && !self.restarting
    }

    /// The API's `State`.
    pub fn to_api(&self) -> ContainerState {
        ContainerState {
            status: self.status().into(),
            running: self.running,
            paused: self.paused,
            restarting: self.restarting,
            oom_killed: self.oom_killed,
            dead: self.dead,
            pid: self.pid,
            exit_code: self.exit_code,
            error: self.error.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            health: self.health.clone(),
        }
    }

    pub fn set_running(&mut self, pid: i64) {
        self.running = true;
        self.paused = false;
        self.restarting = false;
        self.pid = pid;
        self.exit_code = 0;
        self.oom_killed = false;
        self.error.clear();
        self.started_at = now_rfc3339();
    }

    fn set_exit(&mut self, exit: Exit) {
        self.paused = false;
        self.pid = 0;
        self.exit_code = exit.code;
        self.oom_killed = exit.oom_killed;
        self.finished_at = if exit.at.is_empty() {
            now_rfc3339()
        } else {
            exit.at
        };
    }

    pub fn set_stopped(&mut self, exit: Exit) {
        self.set_exit(exit);
        self.running = false;
        self.restarting = false;
    }

    /// Exited, and the restart policy will start it again after a delay.
    pub fn set_restarting(&mut self, exit: Exit) {
        self.set_exit(exit);
        self.running = true;
        self.restarting = true;
    }

    /// The restart policy's wait ended without a start (stopped, or the
    /// start failed): exited with the last exit code.
    pub fn cancel_restart(&mut self) {
        self.running = false;
        self.restarting = false;
        self.pid = 0;
    }

    /// A start that failed: the error and docker's exit code for it (126,
    /// 127 for the command, 128 otherwise); the state stays what it was.
    pub fn set_start_failed(&mut self, error: String, code: i64) {
        self.error = error;
        self.exit_code = code;
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// A run with a healthcheck begins: "starting".
    pub fn start_health(&mut self) {
        self.health = Some(Health {
            status: "starting".into(),
            failing_streak: 0,
            log: vec![],
        });
    }

    /// One probe's result, as dockerd counts them: failures in the start
    /// period do not count while the status is still "starting"; `retries`
    /// failures in a row make it "unhealthy"; the last five results are
    /// kept. The new status when it changed.
    pub fn record_probe(
        &mut self,
        result: HealthcheckResult,
        retries: i64,
        in_start_period: bool,
    ) -> Option<String> {
        const KEEP_RESULTS: usize = 5;
        let health = self.health.get_or_insert_with(Health::default);
        let before = health.status.clone();
        if result.exit_code == 0 {
            health.failing_streak = 0;
            health.status = "healthy".into();
        } else if !in_start_period || before != "starting" {
            health.failing_streak += 1;
            if health.failing_streak >= retries {
                health.status = "unhealthy".into();
            }
        }
        health.log.push(result);
        let excess = health.log.len().saturating_sub(KEEP_RESULTS);
        health.log.drain(..excess);
        (health.status != before).then(|| health.status.clone())
    }

    /// False when a removal is in progress already.
    pub fn set_removal_in_progress(&mut self) -> bool {
        !std::mem::replace(&mut self.removal_in_progress, true)
    }

    pub fn reset_removal_in_progress(&mut self) {
        self.removal_in_progress = false;
    }

    /// A removal that failed half way: the container is left dead.
    pub fn set_dead(&mut self) {
        self.dead = true;
        self.removal_in_progress = false;
    }
}

/// dockerd's 409 for what needs the process of a container between restarts.
pub fn restarting(id: &str) -> crate::Error {
    crate::Error::conflict(format!(
        "Container {id} is restarting, wait until the container is running"
    ))
}

impl Engine {
    /// Applies one change to a container's record and persists it in the
    /// same step, under the record's lock, so that what is stored is always
    /// a state the container was in and in the order it was in them. The
    /// change is made to a copy and takes effect only once it is stored: a
    /// failed write leaves the container as it was, in memory and on disk.
    pub(crate) fn transition<T>(
        &self,
        h: &ContainerHandle,
        change: impl FnOnce(&mut ContainerRecord) -> T,
    ) -> Result<(ContainerRecord, T)> {
        let mut r = h.record();
        let mut rec = r.clone();
        let out = change(&mut rec);
        self.persist(&rec)?;
        r.clone_from(&rec);
        drop(r);
        self.lock_map().set_running(&rec.id, rec.state.running);
        // The embedded DNS answers for running containers only.
        self.dns_sync(&rec);
        Ok((rec, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i64) -> Exit {
        Exit {
            code,
            oom_killed: false,
            at: String::new(),
        }
    }

    #[test]
    fn statuses_follow_dockerd() {
        let mut s = State::created();
        assert_eq!(
            (s.status(), s.status_text().as_str()),
            ("created", "Created")
        );
        s.set_running(42);
        assert_eq!(s.status(), "running");
        assert!(s.has_process());
        assert!(s.status_text().starts_with("Up "), "{}", s.status_text());
        s.set_paused(true);
        assert_eq!(s.status(), "paused");
        assert!(s.status_text().ends_with("(Paused)"));
        s.set_restarting(exit(3));
        assert_eq!(s.status(), "restarting");
        assert!(s.running, "a restarting container counts as running");
        assert!(!s.has_process() && !s.paused && s.pid == 0);
        assert!(
            s.status_text().starts_with("Restarting (3) "),
            "{}",
            s.status_text()
        );
        s.cancel_restart();
        assert_eq!((s.status(), s.exit_code), ("exited", 3));
        assert!(s.status_text().starts_with("Exited (3) "));
        s.set_running(43);
        assert_eq!((s.exit_code, s.pid), (0, 43));
        s.set_stopped(exit(137));
        assert_eq!((s.status(), s.exit_code, s.running), ("exited", 137, false));
        assert!(s.set_removal_in_progress());
        assert!(!s.set_removal_in_progress(), "a second removal is refused");
        assert_eq!(s.status(), "removing");
        s.set_dead();
        assert_eq!((s.status(), s.status_text().as_str()), ("dead", "Dead"));
    }

    #[test]
    fn a_failed_start_stays_created() {
        let mut s = State::created();
        s.set_start_failed("exec: \"nope\": not found".into(), 127);
        assert_eq!((s.status(), s.exit_code), ("created", 127));
        let api = s.to_api();
        assert_eq!((api.status.as_str(), api.exit_code), ("created", 127));
    }

    #[test]
    fn records_written_before_the_state_machine_still_load() {
        // The API's State as older berthds persisted it, Status included.
        let old = r#"{"Status":"exited","Running":false,"Paused":false,"Restarting":false,
            "OOMKilled":true,"Dead":false,"Pid":0,"ExitCode":2,"Error":"",
            "StartedAt":"2026-01-01T00:00:00Z","FinishedAt":"2026-01-01T00:00:01Z"}"#;
        let s: State = serde_json::from_str(old).unwrap();
        assert_eq!((s.status(), s.exit_code, s.oom_killed), ("exited", 2, true));
        assert!(!s.removal_in_progress);
    }
}
