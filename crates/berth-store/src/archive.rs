//! Tar helpers: compression sniffing, and resolving a path inside an
//! extracted archive without letting a symlink lead outside it.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use crate::error::{Result, StoreError};

/// Wraps a reader in the decompressor its magic bytes call for (gzip, zstd or none).
pub fn decompress<'a, R: Read + 'a>(r: R) -> Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(64 * 1024, r);
    let head = br.fill_buf().map_err(StoreError::io("read archive"))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(br)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let z = zstd::stream::read::Decoder::with_buffer(br).map_err(StoreError::io("zstd"))?;
        Ok(Box::new(z))
    } else {
        Ok(Box::new(br))
    }
}

/// Turns an archive member name into a relative path, refusing `..`.
/// Leading `/` and `./` are dropped, as tar itself does.
pub fn clean_member_path(raw: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                return Err(StoreError::Invalid(format!(
                    "archive member {:?} escapes the archive with '..'",
                    raw.display().to_string()
                )))
            }
            Component::Prefix(_) => {
                return Err(StoreError::Invalid(format!("bad archive member {raw:?}")))
            }
        }
    }
    Ok(out)
}

/// Resolves `rel` under `root`, following symlinks, and fails if the result
/// is outside `root` (the legacy `docker save` format links duplicate layers).
pub fn resolve_inside(root: &Path, rel: &str) -> Result<PathBuf> {
    let clean = clean_member_path(Path::new(rel))?;
    let root = fs::canonicalize(root).map_err(StoreError::io("resolve archive root"))?;
    let full = fs::canonicalize(root.join(&clean))
        .map_err(|_| StoreError::Invalid(format!("archive has no member {rel:?}")))?;
    if !full.starts_with(&root) {
        return Err(StoreError::Invalid(format!(
            "archive member {rel:?} points outside the archive"
        )));
    }
    Ok(full)
}

/// Copies a tar stream with every entry's owner mapped by `map` (a
/// remapped container's IDs to the host's, or back). Names, link targets,
/// modes, times and data are kept.
pub fn remap_tar<R: Read, W: std::io::Write>(
    input: R,
    output: W,
    map: &dyn Fn(u32, u32) -> (u32, u32),
) -> Result<W> {
    let bad = |e: std::io::Error| StoreError::Invalid(format!("tar archive is malformed: {e}"));
    let mut archive = tar::Archive::new(input);
    let mut out = tar::Builder::new(output);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let mut h = entry.header().clone();
        let (uid, gid) = map(h.uid().map_err(bad)? as u32, h.gid().map_err(bad)? as u32);
        h.set_uid(uid as u64);
        h.set_gid(gid as u64);
        let path = entry.path().map_err(bad)?.into_owned();
        let written = match entry.link_name().map_err(bad)? {
            Some(target) if h.entry_type().is_symlink() || h.entry_type().is_hard_link() => {
                let target = target.into_owned();
                out.append_link(&mut h, &path, &target)
            }
            _ => out.append_data(&mut h, &path, &mut entry),
        };
        written.map_err(StoreError::io("write tar"))?;
    }
    out.into_inner().map_err(StoreError::io("write tar"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_paths() {
        assert_eq!(
            clean_member_path(Path::new("./a/b")).unwrap(),
            Path::new("a/b")
        );
        assert_eq!(
            clean_member_path(Path::new("/etc/x")).unwrap(),
            Path::new("etc/x")
        );
        assert!(clean_member_path(Path::new("a/../../b")).is_err());
    }

    #[test]
    fn remap_tar_maps_owners_and_keeps_the_rest() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o640);
        h.set_uid(100_005);
        h.set_gid(100_007);
        b.append_data(&mut h, format!("d/{}", "n".repeat(150)), &b"abc"[..])
            .unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        l.set_uid(100_000);
        l.set_gid(100_000);
        l.set_mode(0o777);
        b.append_link(&mut l, "link", "d/target").unwrap();
        let tar = b.into_inner().unwrap();
        let out = remap_tar(&tar[..], Vec::new(), &|u, g| {
            (u.saturating_sub(100_000), g.saturating_sub(100_000))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let mut a = tar::Archive::new(&out[..]);
        let got: Vec<(String, u64, u64, u32)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(got[0], (format!("d/{}", "n".repeat(150)), 5, 7, 0o640));
        assert_eq!((got[1].0.as_str(), got[1].1), ("link", 0));
        assert!(remap_tar(&tar[..tar.len() / 2], Vec::new(), &|u, g| (u, g)).is_err());
    }

    #[test]
    fn resolve_refuses_escape() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("evil")).unwrap();
        fs::write(d.path().join("ok"), b"x").unwrap();
        std::os::unix::fs::symlink("ok", d.path().join("link")).unwrap();
        assert!(resolve_inside(d.path(), "evil").is_err());
        assert!(resolve_inside(d.path(), "link").is_ok());
        assert!(resolve_inside(d.path(), "missing").is_err());
    }
}
