//! `POST /containers/{id}/start`: mount the root file system, write the OCI
//! bundle, and hand the container to a supervisor.

use std::fs;
use std::sync::Arc;

use crate::Error;
use berth_runtime::shim::ShimConfig;
use berth_runtime::spec::{bind_mount, build_spec, NetworkNamespace, SpecInput};
use berth_runtime::{supervisor, RuntimeError};
use berth_store::overlay;
use oci_spec::runtime::Mount;

use super::create::resources_of;
use super::record::{ContainerHandle, ContainerRecord};
use crate::config::is_builtin_runtime;
use crate::engine::Engine;
use crate::networks::NetPlan;
use crate::Result;

/// Where `--init` puts the init, as docker does.
const INIT_PATH: &str = "/sbin/docker-init";

/// The message docker's CLI turns into exit code 127 or 126.
fn exec_failure(cmd: &str, code: i32, detail: &str) -> Error {
    let why = if code == 126 {
        "permission denied"
    } else {
        "executable file not found in $PATH"
    };
    Error::bad_request(format!(
        "failed to create task for container: failed to create shim task: OCI runtime create failed: exec: \"{cmd}\": {why}: {detail}"
    ))
}

impl Engine {
    pub async fn start_container(self: &Arc<Self>, name: &str) -> Result<()> {
        let h = self.container(name)?;
        let op = h.op.lock().await;
        // As dockerd: a container waiting for its restart policy counts as
        // started (304) too.
        let result = if h.record().state.paused {
            Err(Error::conflict(
                "cannot start a paused container, try unpause instead",
            ))
        } else if h.record().state.running {
            Err(Error::new(
                berth_api::ErrorKind::NotModified,
                "container already started",
            ))
        } else {
            {
                let mut r = h.record();
                r.manually_stopped = false;
                r.restart_count = 0;
            }
            *h.restart_delay.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Duration::ZERO;
            self.start_locked(&h).await
        };
        drop(op);
        // As dockerd: a `--rm` container that cannot start is removed.
        if result
            .as_ref()
            .is_err_and(|e| e.kind() != berth_api::ErrorKind::NotModified)
            && h.record().host_config.auto_remove
        {
            let id = h.id();
            if let Err(e) = self.remove_container(&id, true, true).await {
                tracing::warn!(%id, "auto-remove after failed start: {e}");
            }
        }
        result
    }

    pub(crate) async fn start_locked(self: &Arc<Self>, h: &Arc<ContainerHandle>) -> Result<()> {
        if h.record().state.has_process() {
            return Err(Error::new(
                berth_api::ErrorKind::NotModified,
                "container already started",
            ));
        }
        // Links to containers that are not running stop the start here.
        self.linked(&h.record().clone())?;
        let plan = match self.connect_sandbox(h).await {
            Ok(p) => p,
            Err(e) => {
                self.transition(h, |r| r.state.set_start_failed(e.to_string(), 128))?;
                return Err(e);
            }
        };
        let rec = h.record().clone();
        let image = {
            let images = self.images.clone();
            let id = rec.image_id.clone();
            crate::blocking(move || images.resolve(&id).map_err(Error::from)).await?
        };
        let lowers = self.images.lower_dirs(&image).map_err(Error::from)?;
        let engine = self.clone();
        let rec2 = rec.clone();
        let started = tokio::task::spawn_blocking(move || engine.launch(&rec2, &lowers, plan))
            .await
            .map_err(|e| Error::caused_by("task failed", e))?;
        match started {
            Ok(s) => {
                let (rec, ()) = self.transition(h, |r| {
                    r.state.set_running(s.pid as i64);
                    r.shim_pid = s.shim_pid;
                })?;
                self.container_event(&rec, "start", &[]);
                self.refresh_linking_hosts(&rec);
                h.lifecycle.send_modify(|l| l.starts += 1);
                self.start_healthcheck(h);
                self.watch_exit(h.clone(), s.shim_pid);
                Ok(())
            }
            Err(e) => {
                let _ = overlay::unmount(&self.paths(&rec.id).rootfs());
                self.disconnect_sandbox(h).await;
                let (err, code) = match e {
                    RuntimeError::Exec { message, code } => {
                        (exec_failure(&rec.path, code, &message), code as i64)
                    }
                    other => (Error::from(other), 128),
                };
                self.transition(h, |r| r.state.set_start_failed(err.to_string(), code))?;
                Err(err)
            }
        }
    }

    /// Blocking part of start: mount, spec, supervisor.
    fn launch(
        &self,
        rec: &ContainerRecord,
        lowers: &[std::path::PathBuf],
        plan: NetPlan,
    ) -> Result<supervisor::Started, RuntimeError> {
        let paths = self.paths(&rec.id);
        let rootfs = paths.rootfs();
        if !overlay::is_mounted(&rootfs) {
            // A crashed run may leave the work dir in use; start from a clean one.
            let _ = fs::remove_dir_all(paths.work());
            fs::create_dir_all(paths.work()).map_err(RuntimeError::io("work dir"))?;
            self.mount_rootfs(&rec.host_config, lowers, &paths, &rec.id)
                .map_err(|e| RuntimeError::Other(e.to_string()))?;
        }
        let result = self.launch_mounted(rec, &paths, plan);
        if result.is_err() {
            let _ = overlay::unmount(&rootfs);
        }
        result
    }

    fn launch_mounted(
        &self,
        rec: &ContainerRecord,
        paths: &super::record::ContainerPaths,
        plan: NetPlan,
    ) -> Result<supervisor::Started, RuntimeError> {
        let rootfs = paths.rootfs();
        let mut user = berth_runtime::user::resolve_user(&rootfs, &rec.config.user)?;
        user.add_groups(&berth_runtime::user::resolve_groups(
            &rootfs,
            rec.host_config.group_add.as_deref().unwrap_or_default(),
        )?);
        let mut env = rec.config.env.clone().unwrap_or_default();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(format!("PATH={}", berth_api::types::DEFAULT_PATH));
        }
        if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
            env.insert(0, format!("HOSTNAME={}", rec.config.hostname));
        }
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", user.home));
        }
        for (link, target, ip) in self
            .linked(rec)
            .map_err(|e| RuntimeError::Invalid(e.to_string()))?
        {
            env.extend(super::links::env(&link, &rec.name, &target, &ip));
        }
        // Docker creates a missing working directory, owned by (remapped) root,
        // inside the container's root whatever links the image has on the way.
        let root_ids = self.root_ids(&rec.host_config);
        berth_rootpath::RootDir::open(&rootfs)
            .and_then(|root| root.mkdir_all(&rec.config.working_dir, 0o755, Some(root_ids)))
            .map_err(|e| RuntimeError::Invalid(format!("create working directory: {e}")))?;
        // The supervisor makes an isolated namespace itself and points the spec at it.
        let hc = &rec.host_config;
        // A remapped container cannot join a namespace its user namespace does
        // not own: the supervisor joins it and the container inherits it.
        let remapped = self.remap_of(hc).is_some();
        let (network, new_netns, join_netns) = match plan {
            NetPlan::Host => (NetworkNamespace::Host, false, None),
            NetPlan::Isolated => (NetworkNamespace::Host, true, None),
            NetPlan::Join(p) if remapped => (NetworkNamespace::Host, false, Some(p)),
            NetPlan::Join(p) => (NetworkNamespace::Path(p), false, None),
        };
        let with_init = hc.init.unwrap_or(self.cfg.init_by_default);
        let mut args: Vec<String> = std::iter::once(rec.path.clone())
            .chain(rec.args.iter().cloned())
            .collect();
        if with_init {
            if !self.cfg.init_binary.exists() {
                return Err(RuntimeError::Invalid(format!(
                    "--init: {} does not exist",
                    self.cfg.init_binary.display()
                )));
            }
            args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
        }
        let mut mounts = self
            .oci_mounts(&rec.mounts, &rootfs)
            .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
        if with_init {
            mounts.push(bind_mount(
                &self.cfg.init_binary,
                INIT_PATH,
                &["rbind", "ro"],
            ));
        }
        let spec = build_spec(&SpecInput {
            rootfs: &rootfs,
            args,
            env,
            cwd: rec.config.working_dir.clone(),
            user,
            hostname: rec.config.hostname.clone(),
            tty: rec.config.tty,
            network,
            etc_files: vec![
                (paths.hosts(), "/etc/hosts"),
                (paths.hostname(), "/etc/hostname"),
                (paths.resolv_conf(), "/etc/resolv.conf"),
            ],
            mounts,
            resources: resources_of(hc),
            cgroups_path: self.cgroups_path(&rec.id),
            readonly_rootfs: hc.readonly_rootfs,
            shm_size: hc.shm_size,
            confinement: self
                .confinement(hc)
                .map_err(|e| RuntimeError::Invalid(e.to_string()))?,
        })?;
        prepare_mount_points(&rootfs, spec.mounts().as_deref().unwrap_or_default())?;
        let bundle = paths.bundle();
        let _ = fs::remove_dir_all(&paths.state);
        fs::create_dir_all(&bundle).map_err(RuntimeError::io("create bundle"))?;
        spec.save(bundle.join("config.json"))
            .map_err(|e| RuntimeError::Other(format!("write config.json: {e}")))?;
        let log_opts = |k: &str| {
            hc.log_config
                .config
                .as_ref()
                .and_then(|c| c.get(k))
                .or(self.cfg.log_opts.get(k))
                .cloned()
        };
        let runtime = match rec.runtime.as_str() {
            name if is_builtin_runtime(name) => None,
            name => Some(
                self.cfg
                    .runtimes
                    .get(name)
                    .cloned()
                    .ok_or_else(|| RuntimeError::Invalid(format!("unknown runtime {name}")))?,
            ),
        };
        let cfg = ShimConfig {
            id: rec.id.clone(),
            bundle,
            runtime_root: self.cfg.exec_root.join("runtime"),
            runtime,
            log_path: paths.output(rec),
            log_max_size: match rec.keeps_log() {
                true => log_opts("max-size").and_then(|s| berth_runtime::logs::parse_size(&s)),
                false => Some(super::record::OUTPUT_BUFFER),
            },
            log_max_files: match rec.keeps_log() {
                true => log_opts("max-file")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1),
                false => 2,
            },
            new_netns,
            join_netns,
            cgroups_path: self.cgroups_path(&rec.id),
            tty: rec.config.tty,
            open_stdin: rec.config.open_stdin,
            stdin_once: rec.config.stdin_once,
            attach_socket: paths.attach_socket(),
            console_socket: paths.console_socket(),
        };
        supervisor::spawn(&self.cfg.shim_binary, &paths.state, &cfg)
    }
}

/// Creates every mount point inside the root before the runtime mounts on
/// it, through the root-confined resolver: an image's links (dangling ones
/// too) lead to places inside its root, never to the host's. The runtime's
/// own file systems (/proc, /dev, /sys) are set up by the runtime.
fn prepare_mount_points(rootfs: &std::path::Path, mounts: &[Mount]) -> Result<(), RuntimeError> {
    let root = berth_rootpath::RootDir::open(rootfs)
        .map_err(|e| RuntimeError::Other(format!("open container root: {e}")))?;
    for m in mounts {
        let dest = m.destination();
        let runtime_owned = ["/proc", "/dev", "/sys"]
            .iter()
            .any(|r| dest.starts_with(r));
        if runtime_owned {
            continue;
        }
        let dir =
            m.typ().as_deref() != Some("bind") || m.source().as_ref().is_some_and(|s| s.is_dir());
        root.mount_point(&dest.to_string_lossy(), dir)
            .map_err(|e| RuntimeError::Invalid(format!("mount point {}: {e}", dest.display())))?;
    }
    Ok(())
}
