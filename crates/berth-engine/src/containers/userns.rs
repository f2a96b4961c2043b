//! `userns-remap`: containers whose root is an unprivileged host user. The
//! daemon keeps one user namespace with the mapping; a remapped container's
//! image layers are mounted idmapped through it (no copy), or, where the
//! kernel cannot, used as chowned copies made once per layer. `--userns=host`
//! opts a container out.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use crate::Error;
use berth_api::types::HostConfig;
use berth_runtime::userns::Remap;
use berth_store::overlay;

use super::record::ContainerPaths;
use crate::engine::Engine;
use crate::Result;

/// How a remapped container's image layers are made its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerMode {
    /// Idmapped mounts where the kernel has them, copies otherwise.
    Auto,
    Idmap,
    Copy,
}

/// daemon.json `userns-remap` (and Berth's own `userns-remap-layers`).
#[derive(Debug, Clone)]
pub struct UsernsConfig {
    pub remap: Remap,
    pub layers: LayerMode,
}

/// The mapping in use, with the namespace that carries it.
#[derive(Debug)]
pub struct ActiveRemap {
    pub remap: Remap,
    userns: OwnedFd,
    idmap: bool,
}

impl ActiveRemap {
    /// Makes the namespace and settles the layer mode (probing the kernel).
    pub fn start(
        cfg: &UsernsConfig,
        helper: &std::path::Path,
        scratch: &std::path::Path,
    ) -> Result<ActiveRemap> {
        let userns = cfg.remap.namespace(helper).map_err(Error::from)?;
        let idmap = match cfg.layers {
            LayerMode::Copy => false,
            LayerMode::Idmap => true,
            LayerMode::Auto => overlay::idmapped_layers_work(userns.as_fd(), scratch),
        };
        tracing::info!(
            user = %cfg.remap.user,
            root = ?cfg.remap.root(),
            layers = if idmap { "idmapped" } else { "chowned copies" },
            "user namespaces remapped"
        );
        Ok(ActiveRemap {
            remap: cfg.remap.clone(),
            userns,
            idmap,
        })
    }
}

/// A remapped container's root is an unprivileged host user, who must be
/// able to reach its root file system, `/etc` files and volumes: the data and
/// exec roots become searchable (0711, as dockerd makes its root), and a
/// parent that is not is an error at start rather than at every container's.
pub fn make_reachable(data_root: &std::path::Path, exec_root: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for d in [data_root, &data_root.join("containers"), exec_root] {
        let m =
            std::fs::metadata(d).map_err(|e| Error::internal(format!("{}: {e}", d.display())))?;
        if m.permissions().mode() & 0o111 != 0o111 {
            let mode = m.permissions().mode() | 0o711;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode))
                .map_err(|e| Error::internal(format!("chmod {}: {e}", d.display())))?;
        }
    }
    for root in [data_root, exec_root] {
        let full = std::fs::canonicalize(root)
            .map_err(|e| Error::internal(format!("{}: {e}", root.display())))?;
        for parent in full.ancestors().skip(1) {
            let mode = std::fs::metadata(parent)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if mode & 0o001 == 0 {
                return Err(Error::internal(format!(
                    "userns-remap: {} (mode {:o}) cannot be searched by the remapped root, so its containers could not be reached: chmod o+x {}",
                    parent.display(),
                    mode & 0o7777,
                    parent.display()
                )));
            }
        }
    }
    Ok(())
}

/// What dockerd refuses in a remapped container (`--userns=host` lifts it).
pub(crate) fn validate(hc: &HostConfig, remapped_daemon: bool) -> Result<()> {
    if !matches!(hc.userns_mode.as_str(), "" | "host") {
        return Err(Error::bad_request(format!(
            "invalid USER mode: {}",
            hc.userns_mode
        )));
    }
    if !remapped_daemon || hc.userns_mode == "host" {
        return Ok(());
    }
    if hc.privileged {
        return Err(Error::bad_request("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode"));
    }
    for (mode, what) in [
        (hc.network_mode.as_str(), "network"),
        (hc.pid_mode.as_str(), "PID"),
        (hc.ipc_mode.as_str(), "IPC"),
        (hc.uts_mode.as_str(), "UTS"),
    ] {
        if mode == "host" {
            return Err(Error::bad_request(format!(
                "cannot share the host's {what} namespace when user namespaces are enabled"
            )));
        }
    }
    Ok(())
}

impl Engine {
    /// The mapping a container runs with, if it is remapped.
    pub(crate) fn remap_of(&self, hc: &HostConfig) -> Option<&Remap> {
        self.remap
            .as_ref()
            .filter(|_| hc.userns_mode != "host")
            .map(|a| &a.remap)
    }

    /// The host IDs of root in a container with this config: (0, 0) unless remapped.
    pub(crate) fn root_ids(&self, hc: &HostConfig) -> (u32, u32) {
        self.remap_of(hc).map(Remap::root).unwrap_or((0, 0))
    }

    /// Mounts a container's root file system: its image's layers under its
    /// writable layer, made the remapped root's when it is remapped.
    pub(crate) fn mount_rootfs(
        &self,
        hc: &HostConfig,
        lowers: &[PathBuf],
        paths: &ContainerPaths,
        id: &str,
    ) -> std::result::Result<(), berth_store::StoreError> {
        let (upper, work, rootfs) = (paths.upper(), paths.work(), paths.rootfs());
        let (Some(active), Some(remap)) = (self.remap.as_ref(), self.remap_of(hc)) else {
            return overlay::mount_overlay(lowers, &upper, &work, &rootfs);
        };
        let (uid, gid) = remap.root();
        // The writable layer's top is the root directory the container sees.
        for d in [&upper, &work] {
            std::os::unix::fs::chown(d, Some(uid), Some(gid)).map_err(
                berth_store::StoreError::io(format!("chown {}", d.display())),
            )?;
        }
        if active.idmap {
            let scratch = self
                .cfg
                .exec_root
                .join("idmap")
                .join(&id[..12.min(id.len())]);
            return overlay::mount_overlay_idmapped(
                lowers,
                &upper,
                &work,
                &rootfs,
                active.userns.as_fd(),
                &scratch,
            );
        }
        let key = format!("{uid}.{gid}");
        let shift = |u: u32, g: u32| Some((remap.host_uid(u)?, remap.host_gid(g)?));
        let copies = lowers
            .iter()
            .map(|l| self.images.snapshots.remapped(l, &key, &shift))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        overlay::mount_overlay(&copies, &upper, &work, &rootfs)
    }
}

/// How owners are translated between a remapped container and the host.
pub(crate) type OwnerMap = Box<dyn Fn(u32, u32) -> (u32, u32) + Send + Sync>;

/// The overflow IDs the kernel shows for an owner outside a mapping.
const NOBODY: u32 = 65534;

impl Engine {
    /// Host owners as the remapped container sees them (cp out, export, commit).
    pub(crate) fn owners_to_container(&self, hc: &HostConfig) -> Option<OwnerMap> {
        let r = self.remap_of(hc)?.clone();
        Some(Box::new(move |u, g| {
            (
                r.container_uid(u).unwrap_or(NOBODY),
                r.container_gid(g).unwrap_or(NOBODY),
            )
        }))
    }

    /// The container's owners as host IDs (cp in): with `keep` the archive's
    /// own, else everything is the container root's, as dockerd does.
    pub(crate) fn owners_to_host(&self, hc: &HostConfig, keep: bool) -> Option<OwnerMap> {
        let r = self.remap_of(hc)?.clone();
        let (root_uid, root_gid) = r.root();
        Some(Box::new(move |u, g| {
            if !keep {
                return (root_uid, root_gid);
            }
            (
                r.host_uid(u).unwrap_or(root_uid),
                r.host_gid(g).unwrap_or(root_gid),
            )
        }))
    }
}

/// Runs `produce` with a writer whose tar stream reaches `out` with its
/// owners mapped by `map` (straight through without one).
pub(crate) fn remapped_out<W: std::io::Write + Send>(
    out: W,
    map: Option<&OwnerMap>,
    produce: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
) -> Result<()> {
    let Some(map) = map else {
        let mut out = out;
        return produce(&mut out);
    };
    let (reader, mut writer) = std::io::pipe().map_err(|e| Error::internal(e.to_string()))?;
    std::thread::scope(|s| {
        let copier = s.spawn(move || berth_store::archive::remap_tar(reader, out, map.as_ref()));
        let produced = produce(&mut writer);
        drop(writer);
        let copied = copier
            .join()
            .map_err(|_| Error::internal("remapping owners failed"))?;
        produced?;
        copied.map(|_| ()).map_err(Error::from)
    })
}

/// Runs `consume` on a reader of `input` (a tar, compressed or not) whose
/// owners `map` has mapped.
pub(crate) fn remapped_in<R: std::io::Read + Send, T>(
    input: R,
    map: Option<&OwnerMap>,
    consume: impl FnOnce(&mut dyn std::io::Read) -> Result<T>,
) -> Result<T> {
    let Some(map) = map else {
        let mut input = input;
        return consume(&mut input);
    };
    let (mut reader, writer) = std::io::pipe().map_err(|e| Error::internal(e.to_string()))?;
    std::thread::scope(|s| {
        let copier = s.spawn(move || {
            let tar = berth_store::archive::decompress(input)?;
            berth_store::archive::remap_tar(tar, writer, map.as_ref())
        });
        let consumed = consume(&mut reader);
        drop(reader);
        let copied = copier
            .join()
            .map_err(|_| Error::internal("remapping owners failed"))?;
        let value = consumed?;
        copied.map(|_| value).map_err(Error::from)
    })
}
