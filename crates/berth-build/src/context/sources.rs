//! COPY/ADD sources: found in the context by path and wildcard, never
//! outside it, `.dockerignore` applied, and hashed for the cache.

use super::*;

/// Where `path` inside the image root `root` lives on the host (resolved by
/// berth-rootpath's rules: links followed inside the root, never out of it).
pub fn scoped_path(root: &Path, path: &str, follow_last: bool) -> Result<PathBuf> {
    let under = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    let follow = if follow_last {
        Follow::All
    } else {
        Follow::NotLast
    };
    let inside =
        resolve_mapped(path, follow, &under).map_err(|e| BuildError::step(e.to_string()))?;
    Ok(under(&inside))
}

/// A tree of files a COPY reads from: the build context or another stage's file system.
pub struct SourceTree<'a> {
    pub root: &'a Path,
    pub ignore: Option<&'a Ignore>,
    /// Digests known already (the context's, taken as it was unpacked).
    pub digests: Option<&'a Digests>,
    /// Names shown in errors: "build context" or "stage x".
    pub what: &'a str,
}

/// One source found: its path relative to the tree and on disk.
#[derive(Debug, Clone)]
pub struct Found {
    pub rel: String,
    pub path: PathBuf,
}

pub(super) fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl SourceTree<'_> {
    fn excluded(&self, rel: &str) -> bool {
        self.ignore.is_some_and(|i| i.excluded(rel))
    }

    /// Every path under the tree, relative, for wildcard matching.
    fn all_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = fs::read_dir(self.root.join(&dir)) else {
                continue;
            };
            for e in rd.flatten() {
                let rel = dir.join(e.file_name());
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(rel.clone());
                }
                out.push(rel.to_string_lossy().into_owned());
            }
        }
        out.sort();
        out
    }

    /// The sources a COPY names, wildcards expanded; each must exist and not be ignored.
    pub fn find(&self, src: &str) -> Result<Vec<Found>> {
        let cleaned = clean(src.trim_start_matches('/'));
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(BuildError::step(format!(
                "Forbidden path outside the build context: {src} ()"
            )));
        }
        if has_wildcard(&cleaned) {
            let re = glob_regex(&cleaned, true).map_err(BuildError::step)?;
            let found: Vec<Found> = self
                .all_paths()
                .into_iter()
                .filter(|p| re.is_match(p) && !self.excluded(p))
                .map(|rel| Found {
                    path: self.root.join(&rel),
                    rel,
                })
                .collect();
            // Keep only the top-most matches: a matched directory brings its contents.
            let mut top: Vec<Found> = Vec::new();
            for f in found {
                if !top
                    .iter()
                    .any(|t| f.rel.starts_with(&format!("{}/", t.rel)))
                {
                    top.push(f);
                }
            }
            if top.is_empty() {
                return Err(BuildError::step(format!("COPY failed: no source files were specified (pattern {src:?} matches nothing in the {})", self.what)));
            }
            return Ok(top);
        }
        let path = if cleaned == "." {
            self.root.to_path_buf()
        } else {
            scoped_path(self.root, &cleaned, true)?
        };
        if (cleaned != "." && self.excluded(&cleaned)) || fs::symlink_metadata(&path).is_err() {
            return Err(BuildError::step(format!(
                "COPY failed: file not found in {} or excluded by .dockerignore: stat {cleaned}: file does not exist",
                self.what
            )));
        }
        Ok(vec![Found { rel: cleaned, path }])
    }

    /// Content hash of a found source: names, types, modes, owners, bytes and
    /// link targets of everything it brings along (ignored files excluded).
    pub fn hash(&self, f: &Found, h: &mut Sha256) -> Result<()> {
        let mut entries = vec![(String::new(), f.path.clone())];
        while let Some((rel, path)) = entries.pop() {
            let m = fs::symlink_metadata(&path).map_err(io_err("stat"))?;
            h.update(format!("{rel}\0{:o}\0{}\0{}\0", m.mode(), m.uid(), m.gid()).as_bytes());
            if m.file_type().is_symlink() {
                h.update(
                    fs::read_link(&path)
                        .map_err(io_err("read link"))?
                        .as_os_str()
                        .as_encoded_bytes(),
                );
            } else if m.is_file() {
                match self.digests.and_then(|d| d.0.get(&path)) {
                    Some(d) => h.update(d),
                    None => h.update(file_digest(&path)?),
                }
            } else if m.is_dir() {
                let mut names: Vec<_> = fs::read_dir(&path)
                    .map_err(io_err("read dir"))?
                    .flatten()
                    .map(|e| e.file_name())
                    .collect();
                names.sort();
                for n in names.into_iter().rev() {
                    let child_rel = format!("{rel}/{}", n.to_string_lossy());
                    let tree_rel = format!("{}/{}", f.rel, child_rel.trim_start_matches('/'));
                    let child = path.join(&n);
                    let is_dir = fs::symlink_metadata(&child).is_ok_and(|m| m.is_dir());
                    let skipped = self
                        .ignore
                        .is_some_and(|i| i.skips(tree_rel.trim_start_matches("./"), is_dir));
                    if !skipped {
                        entries.push((child_rel, child));
                    }
                }
            }
            h.update(b"\n");
        }
        Ok(())
    }
}

/// The sha256 of a file's bytes.
pub(super) fn file_digest(path: &Path) -> Result<[u8; 32]> {
    let mut file = File::open(path).map_err(io_err("open"))?;
    let mut h = Sha256::new();
    io::copy(&mut file, &mut HashWriter(&mut h)).map_err(io_err("read"))?;
    Ok(h.finalize().into())
}

pub(super) struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hash of a COPY's sources, for the cache key.
pub fn sources_digest(tree: &SourceTree<'_>, found: &[Found]) -> Result<String> {
    let mut h = Sha256::new();
    for f in found {
        h.update(f.rel.as_bytes());
        h.update(b"\0");
        tree.hash(f, &mut h)?;
    }
    Ok(hex::encode(h.finalize()))
}
