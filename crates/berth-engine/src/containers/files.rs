//! A container's files: `changes` (docker diff), `export`, and `commit`
//! (a new image from the container's writable layer).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Error;
use berth_api::types::{ContainerConfig, HistoryEntry, ImageConfigFile, ImageRuntimeConfig};
use berth_api::ImageRef;
use berth_store::{overlay, Digest, ImageRecord, ImageStore};
use serde_json::{json, Value};

use super::record::ContainerRecord;
use crate::engine::Engine;
use crate::Result;

/// What `POST /commit` asks for besides the container.
#[derive(Debug, Default)]
pub struct CommitOptions {
    pub target: Option<ImageRef>,
    pub comment: String,
    pub author: String,
    /// Freeze the container while its layer is read.
    pub pause: bool,
    /// Dockerfile instructions applied to the new config.
    pub changes: Vec<String>,
    /// Config fields that replace the container's.
    pub overrides: Option<ContainerConfig>,
}

/// Mount points the runtime creates in the writable layer; not the user's changes.
const RUNTIME_PATHS: &[&str] = &[
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/sbin/docker-init",
    "/dev",
    "/proc",
    "/sys",
];

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut buf = [0u8; 2];
    // SAFETY: valid C strings and a buffer we own.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            2,
        )
    };
    n == 1 && buf[0] == b'y'
}

/// Walks the upper dir: (container path, metadata) for every entry, parents first.
fn walk(upper: &Path) -> Vec<(String, PathBuf, fs::Metadata)> {
    let mut out = Vec::new();
    let mut stack = vec![upper.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries.into_iter().rev() {
            let p = e.path();
            let Ok(m) = fs::symlink_metadata(&p) else {
                continue;
            };
            let rel = format!("/{}", p.strip_prefix(upper).unwrap_or(&p).display());
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.push((rel, p, m));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn hidden(path: &str, mounts: &[String]) -> bool {
    RUNTIME_PATHS
        .iter()
        .chain(mounts.iter().map(String::as_str).collect::<Vec<_>>().iter())
        .any(|r| path == *r || path.starts_with(&format!("{r}/")))
}

impl Engine {
    fn mount_destinations(r: &ContainerRecord) -> Vec<String> {
        r.mounts.iter().map(|m| m.destination.clone()).collect()
    }

    /// What `path` is in the image below the container, if it is there.
    fn in_image(lowers: &[PathBuf], path: &str) -> Option<fs::Metadata> {
        // As overlayfs looks a path up in a layer: no link followed on the way.
        for l in lowers {
            if let Some(m) = berth_rootpath::lstat_beneath(l, path) {
                return (!is_whiteout(&m)).then_some(m);
            }
        }
        None
    }

    /// `GET /containers/{id}/changes`: Kind 0 changed, 1 added, 2 deleted.
    pub fn container_changes(&self, name: &str) -> Result<Vec<Value>> {
        let h = self.container(name)?;
        let r = h.record().clone();
        let image = self.images.resolve(&r.image_id).map_err(Error::from)?;
        let lowers = self.images.lower_dirs(&image).map_err(Error::from)?;
        let skip = Self::mount_destinations(&r);
        let entries: Vec<(String, u8, bool)> = walk(&self.paths(&r.id).upper())
            .into_iter()
            .filter(|(path, _, _)| !hidden(path, &skip))
            .map(|(path, _, m)| {
                if is_whiteout(&m) {
                    return (path, 2, false);
                }
                match Self::in_image(&lowers, &path) {
                    // A directory of the image that is in the writable layer
                    // only as the parent of what the daemon made (/etc for
                    // /etc/hosts) is no change of the container's, as
                    // dockerd's init layer keeps them out; one whose mode or
                    // owner changed is.
                    Some(i) if m.is_dir() && i.is_dir() => {
                        use std::os::unix::fs::MetadataExt;
                        let same = (m.mode(), m.uid(), m.gid()) == (i.mode(), i.uid(), i.gid());
                        (path, 0, same)
                    }
                    Some(_) => (path, 0, false),
                    None => (path, 1, false),
                }
            })
            .collect();
        let out = entries
            .iter()
            .filter(|(path, _, only_parent)| {
                let prefix = format!("{path}/");
                !only_parent
                    || entries
                        .iter()
                        .any(|(p, _, parent)| !parent && p.starts_with(&prefix))
            })
            .map(|(path, kind, _)| json!({"Path": path, "Kind": kind}))
            .collect();
        Ok(out)
    }

    /// Runs `f` on the container's merged root, mounting it for the time if stopped.
    pub(crate) fn with_rootfs<T>(
        &self,
        r: &ContainerRecord,
        f: impl FnOnce(&Path) -> Result<T>,
    ) -> Result<T> {
        let paths = self.paths(&r.id);
        let rootfs = paths.rootfs();
        let mounted_here = !overlay::is_mounted(&rootfs);
        if mounted_here {
            let image = self.images.resolve(&r.image_id).map_err(Error::from)?;
            let lowers = self.images.lower_dirs(&image).map_err(Error::from)?;
            let _ = fs::remove_dir_all(paths.work());
            fs::create_dir_all(paths.work()).map_err(|e| Error::internal(e.to_string()))?;
            self.mount_rootfs(&r.host_config, &lowers, &paths, &r.id)
                .map_err(Error::from)?;
        }
        let out = f(&rootfs);
        if mounted_here && !h_running(self, &r.id) {
            let _ = overlay::unmount(&rootfs);
        }
        out
    }

    /// `GET /containers/{id}/export`: the whole file system as a tar.
    pub async fn export_container(
        self: &Arc<Self>,
        name: &str,
        out: impl Write + Send + 'static,
    ) -> Result<()> {
        let r = self.container(name)?.record().clone();
        let engine = self.clone();
        crate::blocking(move || {
            engine.with_rootfs(&r, |root| {
                let owners = engine.owners_to_container(&r.host_config);
                super::userns::remapped_out(out, owners.as_ref(), |out| {
                    let mut tar = tar::Builder::new(out);
                    tar.follow_symlinks(false);
                    tar.append_dir_all(".", root)
                        .map_err(|e| Error::caused_by("export", e))?;
                    tar.into_inner()
                        .and_then(|w| w.flush())
                        .map_err(|e| Error::caused_by("export", e))
                })
            })
        })
        .await
    }

    /// `POST /commit`: the container's writable layer becomes a new image.
    pub async fn commit_container(
        self: &Arc<Self>,
        name: &str,
        opts: CommitOptions,
    ) -> Result<String> {
        let CommitOptions {
            target,
            comment,
            author,
            pause,
            changes,
            overrides,
        } = opts;
        let h = self.container(name)?;
        let r = h.record().clone();
        let base = self.images.resolve(&r.image_id).map_err(Error::from)?;
        // As dockerd: only what still runs is paused, and a container that
        // ends meanwhile (a short command) is committed all the same.
        let mut paused_here = false;
        if pause && r.state.has_process() && !r.state.paused {
            match self.set_paused(name, true).await {
                Ok(()) => paused_here = true,
                Err(_) if !h.record().state.has_process() || !self.init_alive(&h) => {}
                Err(e) => return Err(e),
            }
        }
        let mut cfg = base.config.clone();
        // The request's Config overrides the container's where it says something (dockerd's merge).
        let mut c = r.config.clone();
        if let Some(o) = overrides {
            c.cmd = o.cmd.or(c.cmd);
            c.entrypoint = o.entrypoint.or(c.entrypoint);
            c.env = o.env.filter(|e| !e.is_empty()).or(c.env);
            c.labels = o.labels.filter(|l| !l.is_empty()).or(c.labels);
            c.exposed_ports = o.exposed_ports.or(c.exposed_ports);
            c.volumes = o.volumes.or(c.volumes);
            if !o.user.is_empty() {
                c.user = o.user;
            }
            if !o.working_dir.is_empty() {
                c.working_dir = o.working_dir;
            }
        }
        let rc = &mut cfg.config;
        *rc = ImageRuntimeConfig {
            user: c.user.clone(),
            exposed_ports: c.exposed_ports.clone(),
            env: c.env.clone(),
            entrypoint: c.entrypoint.clone(),
            cmd: c.cmd.clone(),
            volumes: c.volumes.clone(),
            working_dir: if c.working_dir == "/" {
                String::new()
            } else {
                c.working_dir.clone()
            },
            labels: c.labels.clone(),
            stop_signal: c.stop_signal.clone(),
            healthcheck: c.healthcheck.clone(),
            shell: c.shell.clone(),
            on_build: c.on_build.clone(),
            extra: Default::default(),
        };
        berth_build::config::apply_changes(rc, &changes)
            .map_err(|e| Error::bad_request(e.to_string()))?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        cfg.created = Some(now.clone());
        if !author.is_empty() {
            cfg.author = Some(author.clone());
        }
        cfg.history.push(HistoryEntry {
            created: Some(now),
            created_by: Some(
                std::iter::once(r.path.clone())
                    .chain(r.args.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            author: (!author.is_empty()).then_some(author),
            comment: (!comment.is_empty()).then_some(comment),
            empty_layer: false,
        });
        let upper = self.paths(&r.id).upper();
        let skip = Self::mount_destinations(&r);
        let images = self.images.clone();
        let owners = self.owners_to_container(&r.host_config);
        let result = crate::blocking(move || {
            commit_upper(
                &images,
                &base.layers,
                upper,
                skip,
                cfg,
                target.as_ref(),
                owners,
            )
        })
        .await;
        if paused_here {
            let _ = self.set_paused(name, false).await;
        }
        let rec = result?;
        self.image_event(
            rec.id.as_str(),
            rec.familiar_tags()
                .first()
                .map(String::as_str)
                .unwrap_or(rec.id.as_str()),
            "commit",
        );
        Ok(rec.id.to_string())
    }
}

/// A new image from `base_layers` plus the changes in an overlay upper dir.
/// The layer tar streams through a pipe straight into the store's ingest.
pub(crate) fn commit_upper(
    images: &ImageStore,
    base_layers: &[Digest],
    upper: PathBuf,
    skip: Vec<String>,
    config: ImageConfigFile,
    tag: Option<&ImageRef>,
    owners: Option<super::userns::OwnerMap>,
) -> Result<ImageRecord> {
    let (mut reader, writer) = std::io::pipe().map_err(|e| Error::internal(e.to_string()))?;
    // A remapped container's files go into the image with its own IDs.
    let packer = std::thread::spawn(move || {
        super::userns::remapped_out(writer, owners.as_ref(), |out| {
            write_layer(&upper, &skip, out)
        })
    });
    let stored = images
        .commit(base_layers, Some(&mut reader), config, tag)
        .map_err(Error::from);
    let packed = packer
        .join()
        .map_err(|_| Error::internal("commit: layer writer failed"))?;
    let rec = stored?;
    packed?;
    Ok(rec)
}

fn h_running(engine: &Engine, id: &str) -> bool {
    engine
        .container(id)
        .map(|h| h.record().state.has_process())
        .unwrap_or(false)
}

/// The writable layer as an OCI layer tar: overlay whiteouts become `.wh.`
/// files again, opaque directories get `.wh..wh..opq`.
fn write_layer(upper: &Path, skip: &[String], out: impl Write) -> Result<()> {
    let err = |e: std::io::Error| Error::caused_by("commit", e);
    // Each entry is read inside the layer through one descriptor: a running
    // container cannot swap a directory for a link to the host's meanwhile.
    let layer = berth_rootpath::RootDir::open(upper).map_err(|e| Error::caused_by("commit", e))?;
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    for (path, full, m) in walk(upper) {
        if hidden(&path, skip) {
            continue;
        }
        let rel = path.trim_start_matches('/');
        if is_whiteout(&m) {
            let p = Path::new(rel);
            let name = format!(
                ".wh.{}",
                p.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            let wh = p
                .parent()
                .map(|d| d.join(&name))
                .unwrap_or_else(|| PathBuf::from(&name));
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o600);
            tar.append_data(&mut h, wh, std::io::empty()).map_err(err)?;
            continue;
        }
        match layer.entry(&path) {
            Ok(e) => {
                let mut h = tar::Header::new_gnu();
                h.set_metadata_in_mode(&e.meta, tar::HeaderMode::Complete);
                if let Some(target) = &e.link {
                    tar.append_link(&mut h, rel, target).map_err(err)?;
                } else if let Some(f) = e.file {
                    tar.append_data(&mut h, rel, f).map_err(err)?;
                } else {
                    h.set_size(0);
                    tar.append_data(&mut h, rel, std::io::empty())
                        .map_err(err)?;
                }
            }
            // Gone since the walk (the container is running): not in the layer.
            Err(berth_rootpath::RootPathError::NotFound(_)) => continue,
            Err(e) => return Err(Error::caused_by("commit", e)),
        }
        if m.is_dir() && is_opaque(&full) {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o600);
            tar.append_data(
                &mut h,
                Path::new(rel).join(".wh..wh..opq"),
                std::io::empty(),
            )
            .map_err(err)?;
        }
    }
    tar.into_inner().and_then(|mut w| w.flush()).map_err(err)?;
    Ok(())
}
