//! ADD's remote and archive sources: the names of downloads (the backend
//! fetches them) and the local tars ADD unpacks.

use super::*;

/// Whether `path` is a tar archive ADD unpacks (plain or gzip).
pub fn archive_kind(path: &Path) -> Option<bool> {
    let mut f = File::open(path).ok()?;
    let mut head = [0u8; 262];
    let n = f.read(&mut head).ok()?;
    if n >= 2 && head[..2] == [0x1f, 0x8b] {
        return Some(true);
    }
    (n >= 262 && &head[257..262] == b"ustar").then_some(false)
}

/// ADD's unpacking of a local archive into `dest`: entries may not leave it.
pub fn unpack_archive(path: &Path, gzip: bool, dest: &Path) -> Result<()> {
    let f = File::open(path).map_err(io_err("open archive"))?;
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_unpack_xattrs(false);
    for entry in ar.entries().map_err(io_err("read archive"))? {
        let mut entry = entry.map_err(io_err("read archive"))?;
        // unpack_in refuses `..` and paths through links that leave `dest`.
        if !entry.unpack_in(dest).map_err(io_err("unpack archive"))? {
            return Err(BuildError::step(format!(
                "archive {} has an entry outside the destination: {}",
                path.display(),
                entry
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// The file name an `ADD <url>` into a directory gets: the URL path's last
/// part, as Docker names it (empty when the path ends in `/`).
pub fn url_file_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    path.split(['?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string()
}
