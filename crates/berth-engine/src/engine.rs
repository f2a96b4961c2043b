//! The engine: opens the data root (one daemon per data root, by lock file),
//! holds the containers and the image store, and restores running
//! containers' supervision after a restart.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use crate::Error;
use berth_store::{ImageStore, Store};

use crate::config::EngineConfig;
use crate::containers::record::{ContainerHandle, ContainerRecord};
use crate::Result;

pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) images: Arc<ImageStore>,
    /// Containers', networks' and volumes' documents.
    pub(crate) objects: Arc<berth_store::Metadata>,
    pub(crate) containers: Mutex<crate::containers::index::ContainerIndex>,
    pub(crate) events: crate::events::EventBus,
    pub(crate) execs: crate::containers::exec::Execs,
    /// Names of containers being created, held until their record is stored:
    /// two creates at once never pick the same name.
    pub(crate) names_in_use: Mutex<std::collections::HashSet<String>>,
    pub(crate) net: crate::networks::NetState,
    /// The user-namespace mapping in use (`userns-remap`).
    pub(crate) remap: Option<crate::containers::userns::ActiveRemap>,
    _lock: File,
}

fn internal(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::internal(format!("{what}: {e}"))
}

impl Engine {
    /// Opens (and locks) the data root and restores container state.
    pub async fn open(cfg: EngineConfig) -> Result<Arc<Engine>> {
        for d in [&cfg.data_root, &cfg.exec_root] {
            fs::create_dir_all(d).map_err(internal("create root"))?;
        }
        fs::create_dir_all(cfg.data_root.join("containers"))
            .map_err(internal("create containers dir"))?;
        let lock_path = cfg.data_root.join("berthd.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(internal("open lock file"))?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(Error::conflict(format!(
                "another berthd is already using the data root {} (lock {} is held)",
                cfg.data_root.display(),
                lock_path.display()
            )));
        }
        let _ = fs::write(&lock_path, std::process::id().to_string());
        let remap = match &cfg.userns {
            Some(u) => {
                crate::containers::userns::make_reachable(&cfg.data_root, &cfg.exec_root)?;
                let (u, shim, scratch) = (
                    u.clone(),
                    cfg.shim_binary.clone(),
                    cfg.exec_root.join("idmap-probe"),
                );
                Some(
                    crate::blocking(move || {
                        crate::containers::userns::ActiveRemap::start(&u, &shim, &scratch)
                    })
                    .await?,
                )
            }
            None => None,
        };
        let root = cfg.data_root.clone();
        let store = crate::blocking(move || Store::open(&root).map_err(Error::from)).await?;
        let engine = Arc::new(Engine {
            cfg,
            images: store.images,
            objects: store.objects,
            containers: Mutex::new(Default::default()),
            events: Default::default(),
            execs: Default::default(),
            names_in_use: Default::default(),
            net: crate::networks::NetState::new()?,
            remap,
            _lock: lock,
        });
        engine.precompile_default_seccomp();
        engine.init_networks().await?;
        engine.restore().await?;
        engine.sync_rules().await?;
        Ok(engine)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Loads every container; re-attaches to those whose supervisor still
    /// runs, and records the exit of those that ended while we were away.
    async fn restore(self: &Arc<Self>) -> Result<()> {
        let rows = self.objects.containers().map_err(Error::from)?;
        let mut unfinished = Vec::new();
        for (id, doc) in rows {
            let rec: ContainerRecord = match serde_json::from_str(&doc) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%id, "skipping unreadable container record: {e}");
                    continue;
                }
            };
            let handle = Arc::new(ContainerHandle::new(rec));
            self.lock_map().insert(handle.clone());
            let state = handle.record().state.clone();
            // Removed half way when berthd stopped: finished below, as dockerd does.
            let removing = state.removal_in_progress;
            if removing {
                unfinished.push(id);
            }
            if state.restarting {
                // Its back-off ended with the daemon: decide again now.
                self.transition(&handle, |r| r.state.cancel_restart())?;
                if !removing {
                    self.restart_on_daemon_start(&handle);
                }
            } else if state.running {
                self.restore_sandbox(&handle).await;
                self.reattach(&handle).await;
                self.dns_sync(&handle.record());
            } else if !removing {
                self.restart_on_daemon_start(&handle);
            }
        }
        for id in unfinished {
            if let Some(h) = self.lock_map().get(&id).cloned() {
                let _ = self.transition(&h, |r| r.state.reset_removal_in_progress());
            }
            if let Err(e) = self.remove_container(&id, true, false).await {
                tracing::warn!(%id, "finishing a removal: {e}");
            }
        }
        Ok(())
    }

    pub(crate) fn lock_map(
        &self,
    ) -> std::sync::MutexGuard<'_, crate::containers::index::ContainerIndex> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Finds a container by full ID, name, or unique ID prefix, as docker does.
    pub fn container(&self, name_or_id: &str) -> Result<Arc<ContainerHandle>> {
        use crate::containers::index::Found;
        match self.lock_map().find(name_or_id) {
            Found::One(h) => Ok(h),
            Found::Ambiguous => Err(Error::not_found(format!(
                "Multiple IDs found with provided prefix: {name_or_id}"
            ))),
            Found::None => Err(Error::no_such_container(name_or_id)),
        }
    }

    /// Running, paused and restarting containers: what `docker ps` lists.
    pub fn running_containers(&self) -> Vec<Arc<ContainerHandle>> {
        self.lock_map().running().cloned().collect()
    }

    pub fn all_containers(&self) -> Vec<Arc<ContainerHandle>> {
        self.lock_map().values().cloned().collect()
    }

    /// The first container using an image, for `rmi`'s conflict check.
    pub(crate) fn image_user(&self, image_id: &str) -> Option<(String, bool)> {
        self.lock_map().values().find_map(|h| {
            let r = h.record();
            (r.image_id == image_id).then(|| (r.id.clone(), r.state.running))
        })
    }

    pub(crate) fn persist(&self, rec: &ContainerRecord) -> Result<()> {
        let doc = serde_json::to_string(rec).map_err(|e| Error::internal(e.to_string()))?;
        self.objects
            .update_container(&rec.id, &rec.name, &doc)
            .map_err(Error::from)
    }
}
