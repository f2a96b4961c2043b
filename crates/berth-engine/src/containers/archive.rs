//! `GET|HEAD|PUT /containers/{id}/archive` (docker cp). Every path is
//! resolved as the container sees it — symlinks followed relative to the
//! container's root, volumes and binds mapped to their sources — so nothing
//! outside the container can be read or written.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Error;
use berth_rootpath::{resolve_mapped, Follow};
use serde_json::{json, Value};

use super::mounts::MountPoint;
use crate::engine::Engine;
use crate::Result;

/// Maps a container path (absolute, clean) to where it lives on the host.
fn host_path(root: &Path, mounts: &[MountPoint], cpath: &Path) -> PathBuf {
    let mut best: Option<(&MountPoint, usize)> = None;
    for m in mounts.iter().filter(|m| m.kind != "tmpfs") {
        let d = Path::new(&m.destination);
        if cpath.starts_with(d) {
            let depth = d.components().count();
            if best.is_none_or(|(_, b)| depth > b) {
                best = Some((m, depth));
            }
        }
    }
    match best {
        Some((m, _)) => {
            Path::new(&m.source).join(cpath.strip_prefix(&m.destination).unwrap_or(Path::new("")))
        }
        None => root.join(cpath.strip_prefix("/").unwrap_or(cpath)),
    }
}

/// Resolves `path` inside the container: (container path, host path).
pub fn resolve(
    root: &Path,
    mounts: &[MountPoint],
    path: &str,
    follow_last: bool,
) -> Result<(PathBuf, PathBuf)> {
    let host = |p: &Path| host_path(root, mounts, p);
    let follow = if follow_last {
        Follow::All
    } else {
        Follow::NotLast
    };
    let cur = resolve_mapped(path, follow, &host).map_err(|e| Error::bad_request(e.to_string()))?;
    let on_host = host(&cur);
    Ok((cur, on_host))
}

/// How `PUT /containers/{id}/archive` treats what it finds.
#[derive(Debug, Clone, Copy, Default)]
pub struct PutOptions {
    /// `copyUIDGID`: the archive's owners, not the container's root.
    pub copy_uid_gid: bool,
    /// `noOverwriteDirNonDir` (the docker CLI always sets it): a directory
    /// of the archive does not replace a file either.
    pub no_overwrite_dir_non_dir: bool,
}

/// Before anything moves: a directory of the archive may only merge into a
/// real directory (never through a symlink), and never replace one (a
/// stricter rule than dockerd's without `noOverwriteDirNonDir`, which lets
/// a file replace a whole tree).
fn check_merge(from: &Path, to: &Path, options: PutOptions) -> Result<()> {
    for e in fs::read_dir(from).map_err(|e| Error::internal(e.to_string()))? {
        let e = e.map_err(|e| Error::internal(e.to_string()))?;
        let src_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let target = to.join(e.file_name());
        match fs::symlink_metadata(&target) {
            Ok(m) if m.is_dir() && src_dir => check_merge(&e.path(), &target, options)?,
            Ok(m) if m.is_dir() => {
                return Err(Error::bad_request(format!(
                    "cannot overwrite directory {:?} with non-directory",
                    target.file_name().unwrap_or_default()
                )));
            }
            Ok(m) if m.file_type().is_symlink() && src_dir => {
                return Err(Error::bad_request(format!(
                    "cannot copy a directory over the symlink {:?}",
                    target.file_name().unwrap_or_default()
                )));
            }
            Ok(_) if src_dir && options.no_overwrite_dir_non_dir => {
                return Err(Error::bad_request(format!(
                    "cannot overwrite non-directory {:?} with directory",
                    target.file_name().unwrap_or_default()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Moves the staged entries into place (renames within one file system).
fn merge(from: &Path, to: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        let src_dir = e.file_type()?.is_dir();
        match fs::symlink_metadata(&target) {
            Ok(m) if m.is_dir() && src_dir => merge(&e.path(), &target)?,
            Ok(_) => {
                fs::remove_file(&target)?;
                fs::rename(e.path(), &target)?;
            }
            Err(_) => fs::rename(e.path(), &target)?,
        }
    }
    Ok(())
}

/// Go's `os.FileMode` bits, as the stat header carries them.
fn go_mode(m: &fs::Metadata) -> u32 {
    let mut mode = m.mode() & 0o777;
    let ft = m.file_type();
    if ft.is_dir() {
        mode |= 1 << 31;
    } else if ft.is_symlink() {
        mode |= 1 << 27;
    }
    if m.mode() & 0o4000 != 0 {
        mode |= 1 << 23;
    }
    if m.mode() & 0o2000 != 0 {
        mode |= 1 << 22;
    }
    if m.mode() & 0o1000 != 0 {
        mode |= 1 << 20;
    }
    mode
}

/// dockerd's words, with the container as the request named it.
fn not_found(path: &str, container: &str) -> Error {
    Error::not_found(format!(
        "Could not find the file {path} in container {container}"
    ))
}

impl Engine {
    /// `HEAD /archive`: the stat of a path (the `X-Docker-Container-Path-Stat` value).
    pub async fn archive_stat(self: &Arc<Self>, name: &str, path: &str) -> Result<Value> {
        let r = self.container(name)?.record().clone();
        let engine = self.clone();
        let path = path.to_string();
        let container = name.to_string();
        crate::blocking(move || {
            engine.with_rootfs(&r, |root| {
                let follow = path.ends_with('/') || path.ends_with("/.");
                let (cpath, host) = resolve(root, &r.mounts, &path, follow)?;
                let m = fs::symlink_metadata(&host).map_err(|_| not_found(&path, &container))?;
                // As dockerd: the link's target resolved inside the container.
                let link = if m.file_type().is_symlink() {
                    resolve(root, &r.mounts, &path, true)?.0.display().to_string()
                } else {
                    String::new()
                };
                Ok(json!({
                    "name": cpath.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "/".into()),
                    "size": m.len(),
                    "mode": go_mode(&m),
                    "mtime": chrono::DateTime::from_timestamp(m.mtime(), 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
                    "linkTarget": link,
                }))
            })
        })
        .await
    }

    /// `GET /archive`: a tar of the path, its root entry named after the path.
    pub async fn archive_get(
        self: &Arc<Self>,
        name: &str,
        path: &str,
        out: impl Write + Send + 'static,
    ) -> Result<()> {
        let r = self.container(name)?.record().clone();
        let engine = self.clone();
        let path = path.to_string();
        let container = name.to_string();
        crate::blocking(move || {
            engine.with_rootfs(&r, |root| {
                // The last component is not followed (cp copies a symlink as a symlink),
                // unless the path ends in '/' or '/.' and so names a directory.
                let follow = path.ends_with('/') || path.ends_with("/.");
                let (_, host) = resolve(root, &r.mounts, &path, follow)?;
                let m = fs::symlink_metadata(&host).map_err(|_| not_found(&path, &container))?;
                let base = Path::new(&path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| ".".into());
                let owners = engine.owners_to_container(&r.host_config);
                super::userns::remapped_out(out, owners.as_ref(), |out| {
                    let mut tar = tar::Builder::new(out);
                    tar.follow_symlinks(false);
                    let err = |e: std::io::Error| Error::caused_by("archive", e);
                    if m.is_dir() {
                        tar.append_dir_all(&base, &host).map_err(err)?;
                    } else {
                        tar.append_path_with_name(&host, &base).map_err(err)?;
                    }
                    tar.into_inner().and_then(|w| w.flush()).map_err(err)
                })
            })
        })
        .await
    }

    /// `PUT /archive`: extracts a tar into a directory of the container;
    /// a hostile archive is refused before anything is written.
    pub async fn archive_put(
        self: &Arc<Self>,
        name: &str,
        path: &str,
        archive: impl Read + Send + 'static,
        options: PutOptions,
    ) -> Result<()> {
        let r = self.container(name)?.record().clone();
        if r.host_config.readonly_rootfs {
            return Err(Error::new(
                berth_api::ErrorKind::Conflict,
                "container rootfs is marked read-only",
            ));
        }
        let engine = self.clone();
        let path = path.to_string();
        let container = name.to_string();
        crate::blocking(move || {
            engine.with_rootfs(&r, |root| {
                let (_, dest) = resolve(root, &r.mounts, &path, true)?;
                match fs::symlink_metadata(&dest) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        return Err(Error::bad_request(format!(
                            "extraction point is not a directory: {path}"
                        )))
                    }
                    Err(_) => return Err(not_found(&path, &container)),
                }
                // Unpacked into a fresh directory beside the files first (same file
                // system, one write), checked, and only then moved into place: a
                // refused archive leaves nothing behind.
                let staging = dest.join(format!(".berth-cp-{:016x}", rand::random::<u64>()));
                fs::create_dir(&staging).map_err(|e| Error::caused_by("staging", e))?;
                // A remapped container's files are its root's, or the archive's
                // owners as its own IDs on the host.
                let owners = engine.owners_to_host(&r.host_config, options.copy_uid_gid);
                let keep = options.copy_uid_gid || owners.is_some();
                let res = (|| {
                    super::userns::remapped_in(archive, owners.as_ref(), |reader| {
                        let mut tar =
                            berth_store::archive::decompress(reader).map_err(Error::from)?;
                        berth_store::layer::unpack_files(&mut tar, &staging, keep)
                            .map_err(Error::from)
                    })?;
                    check_merge(&staging, &dest, options)?;
                    merge(&staging, &dest)
                        .map_err(|e| Error::internal(format!("copy into {path}: {e}")))
                })();
                let _ = fs::remove_dir_all(&staging);
                res
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/shadow"), "inside").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let (c, h) = resolve(root, &[], "/abs", true).unwrap();
        assert_eq!(
            (c.as_path(), h),
            (Path::new("/etc/shadow"), root.join("etc/shadow"))
        );
        let (_, h) = resolve(root, &[], "/up/shadow", true).unwrap();
        assert_eq!(h, root.join("etc/shadow"));
        let (_, h) = resolve(root, &[], "/../../../etc/shadow", true).unwrap();
        assert_eq!(h, root.join("etc/shadow"));
        assert!(resolve(root, &[], "/loop", true).is_err());
        let (_, h) = resolve(root, &[], "/abs", false).unwrap();
        assert_eq!(h, root.join("abs"));
        let vol = MountPoint {
            kind: "volume".into(),
            source: "/vol/data".into(),
            destination: "/data".into(),
            ..Default::default()
        };
        let (_, h) = resolve(root, &[vol], "/data/x", true).unwrap();
        assert_eq!(h, Path::new("/vol/data/x"));
    }
}
