//! A container's mounts: `-v`/`Binds`, `--mount`/`Mounts`, `--tmpfs`,
//! `--volumes-from` and the image's `VOLUME`s, resolved at create time into
//! `MountPoint`s (what inspect shows), and turned into OCI mounts at start,
//! with Docker's copy-up of image content into a new volume.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::Error;
use berth_api::types::{ContainerConfig, HostConfig};
use berth_rootpath::{Follow, RootDir, RootPathError};
use berth_runtime::spec::{bind_mount, mount};
use oci_spec::runtime::Mount;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::Engine;
use crate::volumes::VolumeCreateBody;
use crate::Result;

fn is_false(b: &bool) -> bool {
    !*b
}

/// One mount, in inspect's shape plus what start needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "Source")]
    pub source: String,
    #[serde(rename = "Destination")]
    pub destination: String,
    #[serde(rename = "Driver", default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(rename = "Mode")]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    #[serde(rename = "Propagation")]
    pub propagation: String,
    #[serde(rename = "NoCopy", default, skip_serializing_if = "is_false")]
    pub nocopy: bool,
    /// `VolumeOptions.Subpath` (API 1.45): only this directory of the volume.
    #[serde(rename = "Subpath", default, skip_serializing_if = "String::is_empty")]
    pub subpath: String,
    /// `BindOptions.NonRecursive`: the source alone, not the mounts below it.
    #[serde(rename = "NonRecursive", default, skip_serializing_if = "is_false")]
    pub non_recursive: bool,
    /// `BindOptions.ReadOnlyNonRecursive`: read-only at the top only. A
    /// read-only bind is otherwise read-only all the way down (`rro`: the
    /// mounts below its source too), as dockerd 25+ makes them.
    #[serde(
        rename = "ReadOnlyNonRecursive",
        default,
        skip_serializing_if = "is_false"
    )]
    pub ro_non_recursive: bool,
    /// tmpfs mount options (`size=…,mode=…`).
    #[serde(
        rename = "TmpfsOptions",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub tmpfs_options: String,
}

const PROPAGATIONS: &[&str] = &[
    "shared", "slave", "private", "rshared", "rslave", "rprivate",
];

fn bad(msg: String) -> Error {
    Error::bad_request(msg)
}

fn check_destination(dest: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(bad(format!(
            "invalid mount config: mount path must be absolute: {dest:?}"
        )));
    }
    if dest == "/" {
        return Err(bad("invalid specification: destination can't be '/'".into()));
    }
    Ok(())
}

/// `src:dst[:opts]` of `-v`.
fn parse_bind(spec: &str) -> Result<MountPoint> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(bad(format!("invalid volume specification: '{spec}'"))),
    };
    if src.is_empty() || dst.is_empty() {
        return Err(bad(format!("invalid volume specification: '{spec}'")));
    }
    check_destination(dst)?;
    let mut m = MountPoint {
        destination: dst.into(),
        mode: mode.into(),
        rw: true,
        ..Default::default()
    };
    for o in mode.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => m.rw = false,
            "rw" | "z" | "Z" | "consistent" | "cached" | "delegated" => {}
            "nocopy" => m.nocopy = true,
            p if PROPAGATIONS.contains(&p) => m.propagation = p.into(),
            other => return Err(bad(format!("invalid mode: {other}"))),
        }
    }
    if src.starts_with('/') {
        m.kind = "bind".into();
        m.source = src.into();
        if m.propagation.is_empty() {
            m.propagation = "rprivate".into();
        }
    } else {
        m.kind = "volume".into();
        m.name = src.into();
        m.driver = "local".into();
    }
    Ok(m)
}

/// One `--mount` object (`HostConfig.Mounts`).
fn parse_mount(v: &Value) -> Result<MountPoint> {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let kind = s("Type");
    let target = s("Target");
    if !matches!(kind.as_str(), "bind" | "volume" | "tmpfs") {
        return Err(bad(format!(
            "invalid mount config for type \"{kind}\": mount type unknown"
        )));
    }
    if !target.starts_with('/') {
        return Err(bad(format!("invalid mount config for type \"{kind}\": invalid mount path: '{target}' mount path must be absolute")));
    }
    check_destination(&target)?;
    let ro = v["ReadOnly"].as_bool().unwrap_or(false);
    let mut m = MountPoint {
        kind: kind.clone(),
        destination: target,
        rw: !ro,
        mode: if ro { "ro".into() } else { String::new() },
        ..Default::default()
    };
    match kind.as_str() {
        "bind" => {
            let src = s("Source");
            if !src.starts_with('/') {
                return Err(bad(format!("invalid mount config for type \"bind\": invalid mount path: '{src}' mount path must be absolute")));
            }
            let create = v["BindOptions"]["CreateMountpoint"]
                .as_bool()
                .unwrap_or(false);
            if !Path::new(&src).exists() {
                if !create {
                    return Err(bad(format!("invalid mount config for type \"bind\": bind source path does not exist: {src}")));
                }
                fs::create_dir_all(&src)
                    .map_err(|e| bad(format!("create bind source {src}: {e}")))?;
            }
            m.source = src;
            let p = v["BindOptions"]["Propagation"]
                .as_str()
                .unwrap_or("rprivate");
            if !PROPAGATIONS.contains(&p) {
                return Err(bad(format!("invalid propagation mode: {p}")));
            }
            m.propagation = p.into();
            let opt = |k: &str| v["BindOptions"][k].as_bool().unwrap_or(false);
            m.non_recursive = opt("NonRecursive");
            m.ro_non_recursive = opt("ReadOnlyNonRecursive");
            if opt("ReadOnlyForceRecursive") && (!ro || m.ro_non_recursive) {
                return Err(bad(
                    "invalid mount config for type \"bind\": ReadOnlyForceRecursive needs ReadOnly and excludes ReadOnlyNonRecursive".into(),
                ));
            }
        }
        "volume" => {
            if !v["BindOptions"].is_null() {
                return Err(bad(
                    "invalid mount config for type \"volume\": field BindOptions must not be specified".into(),
                ));
            }
            m.name = s("Source");
            m.driver = "local".into();
            m.nocopy = v["VolumeOptions"]["NoCopy"].as_bool().unwrap_or(false);
            let subpath = v["VolumeOptions"]["Subpath"].as_str().unwrap_or_default();
            if !subpath.is_empty() {
                // dockerd's rule: relative, and no way out of the volume.
                let local = !subpath.starts_with('/')
                    && !subpath.contains('\0')
                    && subpath.split('/').all(|c| c != "..");
                if !local {
                    return Err(bad(format!(
                        "invalid mount config for type \"volume\": subpath must be a relative path within the volume: {subpath:?}"
                    )));
                }
                m.subpath = subpath.into();
            }
        }
        "tmpfs" => {
            if !s("Source").is_empty() {
                return Err(bad(
                    "invalid mount config for type \"tmpfs\": field Source must not be specified"
                        .into(),
                ));
            }
            let mut opts = Vec::new();
            if let Some(size) = v["TmpfsOptions"]["SizeBytes"].as_i64().filter(|s| *s > 0) {
                opts.push(format!("size={size}"));
            }
            if let Some(mode) = v["TmpfsOptions"]["Mode"].as_u64() {
                opts.push(format!("mode={mode:o}"));
            }
            // API 1.46: further options as [key] or [key, value] pairs, the
            // flags dockerd allows (exec, for one).
            for o in v["TmpfsOptions"]["Options"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let parts: Vec<&str> = o
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                match parts.as_slice() {
                    [flag] if TMPFS_FLAGS.contains(flag) => opts.push(flag.to_string()),
                    _ => return Err(bad(format!("invalid tmpfs option {o}"))),
                }
            }
            m.tmpfs_options = opts.join(",");
        }
        other => {
            return Err(bad(format!(
                "invalid mount config: mount type unknown: {other:?}"
            )))
        }
    }
    Ok(m)
}

/// The tmpfs flags a user may set (`--tmpfs /t:exec`, `TmpfsOptions.Options`).
const TMPFS_FLAGS: &[&str] = &["exec", "noexec", "suid", "nosuid", "dev", "nodev"];

fn tmpfs_mount(dest: &str, opts: &str) -> Result<MountPoint> {
    check_destination(dest)?;
    let mut m = MountPoint {
        kind: "tmpfs".into(),
        destination: dest.into(),
        rw: true,
        ..Default::default()
    };
    let mut keep = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => m.rw = false,
            "rw" => {}
            o if o.starts_with("size=")
                || o.starts_with("mode=")
                || o.starts_with("uid=")
                || o.starts_with("gid=")
                || TMPFS_FLAGS.contains(&o) =>
            {
                keep.push(o.to_string())
            }
            other => return Err(bad(format!("invalid tmpfs option {other:?}"))),
        }
    }
    m.tmpfs_options = keep.join(",");
    Ok(m)
}

impl Engine {
    /// Works out every mount of a new container; creates the volumes it names.
    pub(crate) fn resolve_mounts(
        &self,
        config: &ContainerConfig,
        hc: &HostConfig,
        image_volumes: &[String],
    ) -> Result<Vec<MountPoint>> {
        let mut mounts: Vec<MountPoint> = Vec::new();
        for b in hc.binds.iter().flatten() {
            mounts.push(parse_bind(b)?);
        }
        if let Some(Value::Array(list)) = hc.extra.get("Mounts") {
            for v in list {
                mounts.push(parse_mount(v)?);
            }
        }
        if let Some(Value::Object(t)) = hc.extra.get("Tmpfs") {
            for (dest, opts) in t {
                mounts.push(tmpfs_mount(dest, opts.as_str().unwrap_or(""))?);
            }
        }
        if let Some(from) = &hc.volumes_from {
            for spec in from {
                let (name, mode) = spec.split_once(':').unwrap_or((spec, ""));
                let other = self.container(name)?;
                for mut m in other.record().mounts.clone() {
                    if m.kind == "tmpfs" {
                        continue;
                    }
                    match mode {
                        "ro" => m.rw = false,
                        "rw" => m.rw = true,
                        "" => {}
                        x => return Err(bad(format!("invalid mode for volumes-from: {x}"))),
                    }
                    mounts.push(m);
                }
            }
        }
        // VOLUME of the image and of the request: anonymous volumes where nothing else is mounted.
        let declared = config
            .volumes
            .iter()
            .flat_map(|v| v.keys().cloned())
            .chain(image_volumes.iter().cloned());
        for dest in declared {
            if !mounts.iter().any(|m| m.destination == dest) {
                check_destination(&dest)?;
                mounts.push(MountPoint {
                    kind: "volume".into(),
                    destination: dest,
                    driver: "local".into(),
                    rw: true,
                    ..Default::default()
                });
            }
        }
        let mut seen = std::collections::HashSet::new();
        for m in &mounts {
            if !seen.insert(m.destination.clone()) {
                return Err(bad(format!("Duplicate mount point: {}", m.destination)));
            }
        }
        // Binds named by -v are created when missing (dockerd does; --mount refused above).
        for m in mounts.iter_mut() {
            match m.kind.as_str() {
                "bind" if !Path::new(&m.source).exists() => {
                    fs::create_dir_all(&m.source)
                        .map_err(|e| bad(format!("create bind source {}: {e}", m.source)))?;
                }
                "volume" => {
                    let v = self.create_volume(VolumeCreateBody {
                        name: m.name.clone(),
                        ..Default::default()
                    })?;
                    m.name = v.name;
                    m.source = v.mountpoint;
                }
                _ => {}
            }
        }
        mounts.sort_by_key(|m| m.destination.matches('/').count());
        Ok(mounts)
    }

    /// The OCI mounts for a container's mount points (after Docker's defaults).
    pub(crate) fn oci_mounts(&self, mounts: &[MountPoint], rootfs: &Path) -> Result<Vec<Mount>> {
        let mut out = Vec::new();
        for m in mounts {
            match m.kind.as_str() {
                "tmpfs" => {
                    let mut opts = vec!["nosuid", "nodev", "noexec"];
                    if !m.rw {
                        opts.push("ro");
                    }
                    opts.extend(m.tmpfs_options.split(',').filter(|o| !o.is_empty()));
                    out.push(mount(&m.destination, "tmpfs", "tmpfs", &opts));
                }
                kind => {
                    let source = if kind == "volume" {
                        let mut v = self.volume(&m.name)?;
                        let data = self.prepare_volume(&v)?;
                        if !m.subpath.is_empty() {
                            // Inside the volume, whatever links its content
                            // (written by containers) has on the way; it must
                            // exist, as with dockerd. No copy-up into a part.
                            berth_rootpath::RootDir::open(&data)
                                .and_then(|root| {
                                    root.resolve(&m.subpath, berth_rootpath::Follow::All)
                                })
                                .map_err(|e| {
                                    bad(format!(
                                        "cannot access path {:?} of volume {}: {e}",
                                        m.subpath, m.name
                                    ))
                                })?
                        } else {
                            if !v.initialized {
                                if !m.nocopy {
                                    copy_up(rootfs, &m.destination, &data)?;
                                }
                                v.initialized = true;
                                self.save_volume(&v)?;
                            }
                            data
                        }
                    } else {
                        m.source.clone().into()
                    };
                    let propagation = if m.propagation.is_empty() {
                        "rprivate"
                    } else {
                        m.propagation.as_str()
                    };
                    let bind = if m.non_recursive { "bind" } else { "rbind" };
                    let access = if m.rw {
                        "rw"
                    } else if m.ro_non_recursive || m.non_recursive {
                        "ro"
                    } else {
                        "rro"
                    };
                    out.push(bind_mount(
                        source,
                        &m.destination,
                        &[bind, access, propagation],
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// Docker's copy-up: a new, empty volume mounted over image content starts
/// with a copy of it (modes and owners kept). The content is looked up inside
/// the root, where the runtime mounts the volume: an image whose `/data`
/// links to `/etc` gets its own `/etc` copied, never the host's.
fn copy_up(rootfs: &Path, destination: &str, to: &Path) -> Result<()> {
    let from = match RootDir::open(rootfs).and_then(|r| r.resolve(destination, Follow::All)) {
        Ok(p) => p,
        Err(RootPathError::NotFound(_) | RootPathError::NotDirectory(_)) => return Ok(()),
        Err(e) => return Err(bad(format!("volume at {destination}: {e}"))),
    };
    let from = from.as_path();
    let meta = match fs::symlink_metadata(from) {
        Ok(m) if m.is_dir() => m,
        _ => return Ok(()),
    };
    if fs::read_dir(to)
        .map(|mut d| d.next().is_some())
        .unwrap_or(true)
    {
        return Ok(());
    }
    copy_tree(from, to).map_err(|e| Error::caused_by("copy image content into volume", e))?;
    let _ = std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()));
    let _ = fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777));
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(from)? {
        let e = e?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let m = fs::symlink_metadata(&src)?;
        let ft = m.file_type();
        if ft.is_dir() {
            fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            fs::copy(&src, &dst)?;
        } else {
            continue;
        }
        std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
        if !ft.is_symlink() {
            fs::set_permissions(&dst, fs::Permissions::from_mode(m.mode() & 0o7777))?;
        }
    }
    Ok(())
}

/// `Mounts` as the API shows them.
pub fn to_json(mounts: &[MountPoint]) -> Vec<Value> {
    mounts
        .iter()
        .map(|m| serde_json::to_value(m).unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn binds() {
        let m = parse_bind("/host:/ctr:ro,z").unwrap();
        assert_eq!(
            (m.kind.as_str(), m.rw, m.source.as_str()),
            ("bind", false, "/host")
        );
        let m = parse_bind("data:/var/lib/data").unwrap();
        assert_eq!(
            (m.kind.as_str(), m.name.as_str(), m.rw),
            ("volume", "data", true)
        );
        for bad in ["/x", "a:relative", "a:/b:bogus", "::", "/a:/"] {
            assert!(parse_bind(bad).is_err(), "{bad}");
        }
        let t = tmpfs_mount("/run", "size=64m,mode=1777").unwrap();
        assert_eq!(t.tmpfs_options, "size=64m,mode=1777");
        assert!(tmpfs_mount("/run", "evil=1").is_err());
    }

    #[test]
    fn mount_objects() {
        let m = parse_mount(&json!({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024, "Mode": 448}})).unwrap();
        assert_eq!(m.tmpfs_options, "size=1024,mode=700");
        let e =
            parse_mount(&json!({"Type": "bind", "Source": "/no/such/dir/here", "Target": "/x"}))
                .unwrap_err();
        assert!(e.to_string().contains("bind source path does not exist"));
        assert!(parse_mount(&json!({"Type": "nfs", "Target": "/x"})).is_err());
    }
}
