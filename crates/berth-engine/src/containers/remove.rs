//! `DELETE /containers/{id}`: refuses a running container unless forced;
//! removes the mount, the files, the supervisor state and the record.

use std::fs;
use std::sync::Arc;

use crate::Error;
use berth_store::overlay;

use crate::engine::Engine;
use crate::Result;

impl Engine {
    pub async fn remove_container(
        self: &Arc<Self>,
        name: &str,
        force: bool,
        volumes: bool,
    ) -> Result<()> {
        let h = self.container(name)?;
        let (_, first) = self.transition(&h, |r| r.state.set_removal_in_progress())?;
        if !first {
            return Err(Error::conflict(format!(
                "removal of container {name} is already in progress"
            )));
        }
        let result = self.remove_locked(&h, name, force, volumes).await;
        if result.is_err() && !h.lifecycle.borrow().removed {
            let _ = self.transition(&h, |r| r.state.reset_removal_in_progress());
        }
        result
    }

    async fn remove_locked(
        self: &Arc<Self>,
        h: &Arc<super::record::ContainerHandle>,
        name: &str,
        force: bool,
        volumes: bool,
    ) -> Result<()> {
        let _op = h.op.lock().await;
        // Someone else removed it while we waited for the lock.
        if h.lifecycle.borrow().removed {
            return Err(Error::no_such_container(name));
        }
        let (state, cname) = {
            let r = h.record();
            (r.state.clone(), r.name.clone())
        };
        if state.running {
            if !force {
                let why = if state.paused {
                    "container is paused and must be unpaused first".to_string()
                } else {
                    format!(
                        "container is {}: stop the container before removing or force remove",
                        state.status()
                    )
                };
                return Err(Error::conflict(format!(
                    "cannot remove container \"{cname}\": {why}"
                )));
            }
            self.kill_and_wait(h).await?;
        }
        let id = h.id();
        let paths = self.paths(&id);
        // What a supervisor that died before cleaning up would leave: the
        // cgroups (children first) and the runtime's state.
        let cgroup = berth_runtime::cgroups::Cgroup::new(&self.cgroups_path(&id));
        let runtime_state = self.cfg.exec_root.join("runtime").join(&id);
        crate::blocking(move || {
            cgroup.remove_tree();
            overlay::unmount(&paths.rootfs()).map_err(Error::from)?;
            for d in [&paths.dir, &paths.state, &runtime_state] {
                match fs::remove_dir_all(d) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::internal(format!("remove {}: {e}", d.display()))),
                }
            }
            Ok(())
        })
        .await?;
        self.objects.delete_container(&id).map_err(Error::from)?;
        self.lock_map().remove(&id);
        self.dns_forget(&id);
        self.drop_execs(&id);
        self.container_event(&h.record(), "destroy", &[]);
        if volumes {
            let anonymous: Vec<String> = h
                .record()
                .mounts
                .iter()
                .filter(|m| m.kind == "volume")
                .map(|m| m.name.clone())
                .collect();
            self.remove_anonymous_volumes(&anonymous);
        }
        h.lifecycle.send_modify(|l| l.removed = true);
        Ok(())
    }
}
