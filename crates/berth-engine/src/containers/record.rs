//! What Berth keeps about a container (persisted as one JSON document in the
//! metadata database) and where its files live.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use berth_api::types::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::engine::Engine;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    /// With its leading slash, as inspect shows it.
    pub name: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub image_id: String,
    pub state: super::state::State,
    pub restart_count: i64,
    /// The supervisor's PID while running.
    pub shim_pid: i32,
    pub runtime: String,
    /// Set by stop/kill, cleared by start: the restart policy does not act on
    /// the exit that follows, and `unless-stopped` stays down across restarts.
    #[serde(default)]
    pub manually_stopped: bool,
    /// Volumes, binds and tmpfs mounts, resolved at create time.
    #[serde(default)]
    pub mounts: Vec<super::mounts::MountPoint>,
    /// Network name → the container's endpoint on it (NetworkSettings.Networks).
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, berth_api::network::EndpointSettings>,
    /// The live wiring while it runs.
    #[serde(default)]
    pub net: crate::networks::NetRuntime,
}

/// Life-cycle changes that waiters watch for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lifecycle {
    pub starts: u64,
    pub exits: u64,
    pub removed: bool,
    pub exit_code: i64,
}

pub struct ContainerHandle {
    record: Mutex<ContainerRecord>,
    /// Serialises start/stop/remove on one container.
    pub op: tokio::sync::Mutex<()>,
    pub lifecycle: watch::Sender<Lifecycle>,
    /// The restart policy's current back-off delay (not persisted, like dockerd's).
    pub restart_delay: Mutex<std::time::Duration>,
}

/// The size at which the `none` driver's attach buffer starts over (it
/// keeps one older file: attach clients read across the switch).
pub const OUTPUT_BUFFER: u64 = 1 << 20;

impl ContainerRecord {
    /// False with log driver `none`: `logs` has nothing to read.
    pub fn keeps_log(&self) -> bool {
        self.host_config.log_config.kind != "none"
    }
}

impl ContainerHandle {
    pub fn new(rec: ContainerRecord) -> ContainerHandle {
        let exit_code = rec.state.exit_code;
        ContainerHandle {
            record: Mutex::new(rec),
            op: tokio::sync::Mutex::new(()),
            lifecycle: watch::Sender::new(Lifecycle {
                exit_code,
                ..Default::default()
            }),
            restart_delay: Mutex::new(std::time::Duration::ZERO),
        }
    }

    pub fn record(&self) -> MutexGuard<'_, ContainerRecord> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn id(&self) -> String {
        self.record().id.clone()
    }
}

/// Files of a container.
pub struct ContainerPaths {
    /// `data-root/containers/<id>`: upper dir, logs, etc files.
    pub dir: PathBuf,
    /// `exec-root/containers/<id>`: the supervisor's state and the bundle.
    pub state: PathBuf,
    /// `exec-root/s`: sockets, on a path short enough for `sun_path`.
    pub sockets: PathBuf,
    /// A prefix of the ID, unique enough to name the sockets.
    pub short: String,
}

impl ContainerPaths {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn log(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}-json.log"))
    }
    /// Where the supervisor writes the container's output: its json-file
    /// log, or with log driver `none` a buffer on the exec root (a tmpfs) that
    /// only attach reads, bounded by `OUTPUT_BUFFER` and gone at the next start.
    pub fn output(&self, rec: &ContainerRecord) -> PathBuf {
        if rec.keeps_log() {
            self.log(&rec.id)
        } else {
            self.state.join("output.log")
        }
    }
    pub fn hosts(&self) -> PathBuf {
        self.dir.join("hosts")
    }
    pub fn hostname(&self) -> PathBuf {
        self.dir.join("hostname")
    }
    pub fn resolv_conf(&self) -> PathBuf {
        self.dir.join("resolv.conf")
    }
    pub fn bundle(&self) -> PathBuf {
        self.state.join("bundle")
    }
    /// `exec-root/s/<id prefix>.a`: where attach clients reach the supervisor.
    pub fn attach_socket(&self) -> PathBuf {
        self.sockets.join(format!("{}.a", self.short))
    }
    pub fn console_socket(&self) -> PathBuf {
        self.sockets.join(format!("{}.c", self.short))
    }
}

impl Engine {
    pub fn paths(&self, id: &str) -> ContainerPaths {
        ContainerPaths {
            dir: self.cfg.data_root.join("containers").join(id),
            state: self.cfg.exec_root.join("containers").join(id),
            sockets: self.cfg.exec_root.join("s"),
            short: id.chars().take(20).collect(),
        }
    }

    pub(crate) fn cgroups_path(&self, id: &str) -> String {
        format!("/{}/{id}", self.cfg.cgroup_parent.trim_matches('/'))
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
