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
