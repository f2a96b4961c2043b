//! `GET /containers/{id}/logs`, and the output side of attach: records from
//! the json-file log, filtered, and followed while the container runs.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use berth_api::ErrorKind;
use berth_runtime::logs::{log_files, read_all, LogRecord};
use tokio::sync::{mpsc, watch};

use super::record::Lifecycle;
use crate::engine::Engine;
use crate::Result;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    /// Unix seconds (fractional).
    pub since: Option<f64>,
    pub until: Option<f64>,
    pub tail: Option<usize>,
}

/// Parses docker's `since`/`until` values: unix seconds with optional fraction.
pub fn parse_timestamp(s: &str) -> Result<Option<f64>> {
    if s.is_empty() || s == "0" {
        return Ok(None);
    }
    if let Ok(v) = s.parse::<f64>() {
        return Ok(Some(v));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Some(t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9))
        .map_err(|_| Error::bad_request(format!("invalid timestamp: {s:?}")))
}

impl LogOptions {
    fn keep(&self, r: &LogRecord) -> bool {
        let stream_ok =
            (r.stream == "stdout" && self.stdout) || (r.stream == "stderr" && self.stderr);
        if !stream_ok {
            return false;
        }
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let t = r
            .timestamp()
            .map(|t| t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9)
            .unwrap_or(0.0);
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

/// Reads complete lines appended to one log file, across rotation.
struct Follower {
    path: PathBuf,
    file: Option<File>,
    offset: u64,
    partial: Vec<u8>,
}

impl Follower {
    fn new(path: &Path, from_end: bool) -> Follower {
        let file = File::open(path).ok();
        let offset = if from_end {
            file.as_ref()
                .and_then(|f| f.metadata().ok())
                .map(|m| m.len())
                .unwrap_or(0)
        } else {
            0
        };
        Follower {
            path: path.into(),
            file,
            offset,
            partial: Vec::new(),
        }
    }

    fn read_new(&mut self) -> Vec<LogRecord> {
        let mut out = Vec::new();
        loop {
            if self.file.is_none() {
                self.file = File::open(&self.path).ok();
                self.offset = 0;
            }
            let Some(f) = self.file.as_mut() else {
                return out;
            };
            let mut buf = Vec::new();
            if f.seek(SeekFrom::Start(self.offset)).is_ok() {
                let _ = f.read_to_end(&mut buf);
            }
            self.offset += buf.len() as u64;
            self.partial.extend_from_slice(&buf);
            let mut start = 0;
            while let Some(i) = self.partial[start..].iter().position(|&b| b == b'\n') {
                if let Ok(r) = serde_json::from_slice::<LogRecord>(&self.partial[start..start + i])
                {
                    out.push(r);
                }
                start += i + 1;
            }
            self.partial.drain(..start);
            // Rotated: the path names a new file; finish the old one, then switch.
            let rotated = match (std::fs::metadata(&self.path), f.metadata()) {
                (Ok(new), Ok(old)) => new.ino() != old.ino(),
                _ => false,
            };
            if !rotated {
                return out;
            }
            self.file = None;
            self.partial.clear();
        }
    }
}

impl Engine {
    pub fn container_tty(&self, name: &str) -> Result<bool> {
        Ok(self.container(name)?.record().config.tty)
    }

    /// Whether an attach may begin (not to a paused container, as dockerd),
    /// and if so whether the container has a terminal.
    pub fn attach_target(&self, name: &str) -> Result<bool> {
        let h = self.container(name)?;
        let r = h.record();
        if r.state.paused {
            return Err(Error::conflict(
                "You cannot attach to a paused container, unpause it first",
            ));
        }
        Ok(r.config.tty)
    }

    pub fn container_logs(
        self: &Arc<Self>,
        name: &str,
        opts: LogOptions,
    ) -> Result<mpsc::Receiver<LogRecord>> {
        if !opts.stdout && !opts.stderr {
            return Err(Error::bad_request(
                "Bad parameters: you must choose at least one stream",
            ));
        }
        let h = self.container(name)?;
        let id = h.id();
        if !h.record().keeps_log() {
            // dockerd's error (logger.ErrReadLogsNotSupported, a 501).
            return Err(Error::new(
                ErrorKind::NotImplemented,
                "configured logging driver does not support reading",
            ));
        }
        let path = self.paths(&id).log(&id);
        let rx_life = h.lifecycle.subscribe();
        let base = *rx_life.borrow();
        let (tx, rx) = mpsc::channel(256);
        let running = h.record().state.has_process();
        tokio::spawn(async move {
            // History: rotated files, then what the current file holds now.
            let mut history: Vec<LogRecord> = Vec::new();
            for f in log_files(&path).into_iter().filter(|f| *f != path) {
                history.extend(read_all(&f));
            }
            let mut follower = Follower::new(&path, false);
            history.extend(follower.read_new());
            let mut history: Vec<LogRecord> =
                history.into_iter().filter(|r| opts.keep(r)).collect();
            if let Some(n) = opts.tail {
                let skip = history.len().saturating_sub(n);
                history.drain(..skip);
            }
            for r in history {
                if tx.send(r).await.is_err() {
                    return;
                }
            }
            if opts.follow && running {
                follow(
                    follower,
                    rx_life,
                    move |l| l.exits > base.exits || l.removed,
                    &opts,
                    &tx,
                )
                .await;
            }
        });
        Ok(rx)
    }

    /// The output of an attach: what the container writes from now until its
    /// next exit (with `logs`, its earlier output first).
    pub fn attach_output(
        self: &Arc<Self>,
        name: &str,
        with_logs: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<mpsc::Receiver<LogRecord>> {
        let h = self.container(name)?;
        let (path, with_logs) = {
            let r = h.record();
            // Without a log there is no earlier output to replay.
            (self.paths(&r.id).output(&r), with_logs && r.keeps_log())
        };
        let rx_life = h.lifecycle.subscribe();
        let base = *rx_life.borrow();
        let opts = LogOptions {
            stdout,
            stderr,
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            let follower = Follower::new(&path, !with_logs);
            follow(
                follower,
                rx_life,
                move |l| l.exits > base.exits || l.removed,
                &opts,
                &tx,
            )
            .await;
        });
        Ok(rx)
    }
}

/// Sends what the follower has read since last time; false once the receiver is gone.
async fn send_new(
    follower: &mut Follower,
    opts: &LogOptions,
    tx: &mpsc::Sender<LogRecord>,
) -> bool {
    for r in follower.read_new() {
        if opts.keep(&r) && tx.send(r).await.is_err() {
            return false;
        }
    }
    true
}

/// Sends new records until `done` holds, then what is left, then ends.
async fn follow(
    mut follower: Follower,
    mut life: watch::Receiver<Lifecycle>,
    done: impl Fn(&Lifecycle) -> bool,
    opts: &LogOptions,
    tx: &mpsc::Sender<LogRecord>,
) {
    loop {
        let finished = done(&life.borrow_and_update());
        if !send_new(&mut follower, opts, tx).await || finished {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            changed = life.changed() => if changed.is_err() {
                // The container is gone: send what it wrote last.
                send_new(&mut follower, opts, tx).await;
                return;
            },
            _ = tx.closed() => return,
        }
    }
}
