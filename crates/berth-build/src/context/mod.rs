//! The build context on disk: unpacked from the client's tar (padded or
//! truncated as clients send it, never outside its directory), and its
//! `.dockerignore`. Finding COPY/ADD sources is `sources`, copying them
//! into an image `copy`, ADD's downloads and archives `fetch`.

mod copy;
mod fetch;
mod sources;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use berth_rootpath::{resolve_mapped, Follow, RootDir};

use crate::error::{BuildError, Result};
use crate::ignore::{clean, glob_regex, Ignore};

pub use copy::*;
pub use fetch::*;
pub use sources::*;

fn io_err(what: &str) -> impl Fn(io::Error) -> BuildError + '_ {
    move |e| BuildError::step(format!("{what}: {e}"))
}

/// The docker CLI sends a context whose last entry lacks its zero padding
/// (and the end-of-archive blocks) when `-f` names a Dockerfile outside the
/// context; dockerd reads that. This reader follows the tar framing and
/// supplies the missing padding only, so a stream cut inside an entry's
/// data still fails as truncated.
struct PaddedTar<R> {
    inner: R,
    part: TarPart,
    /// Bytes left in the current part.
    left: u64,
    header: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq)]
enum TarPart {
    Header,
    /// Data, then the padding to a whole block.
    Data {
        padding: u64,
    },
    Padding,
}

impl<R: Read> PaddedTar<R> {
    fn new(inner: R) -> Self {
        PaddedTar {
            inner,
            part: TarPart::Header,
            left: 512,
            header: Vec::with_capacity(512),
        }
    }

    /// The entry size a header block gives (octal, or GNU base-256).
    fn entry_size(h: &[u8]) -> u64 {
        let field = &h[124..136];
        if field[0] & 0x80 != 0 {
            return field[1..].iter().fold(0u64, |n, b| (n << 8) | *b as u64);
        }
        let text: String = field
            .iter()
            .take_while(|b| **b != 0)
            .map(|b| *b as char)
            .collect();
        u64::from_str_radix(text.trim(), 8).unwrap_or(0)
    }

    fn consumed(&mut self, mut buf: &[u8]) {
        while !buf.is_empty() {
            let n = (self.left as usize).min(buf.len());
            if self.part == TarPart::Header {
                self.header.extend_from_slice(&buf[..n]);
            }
            buf = &buf[n..];
            self.left -= n as u64;
            while self.left == 0 {
                self.part = match self.part {
                    TarPart::Header => {
                        let size = Self::entry_size(&self.header);
                        self.header.clear();
                        self.left = size;
                        TarPart::Data {
                            padding: (512 - size % 512) % 512,
                        }
                    }
                    TarPart::Data { padding } => {
                        self.left = padding;
                        TarPart::Padding
                    }
                    TarPart::Padding => {
                        self.left = 512;
                        TarPart::Header
                    }
                };
            }
        }
    }
}

impl<R: Read> Read for PaddedTar<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.consumed(&buf[..n]);
            return Ok(n);
        }
        // At the end: only a missing padding is made up.
        if self.part == TarPart::Padding && self.left > 0 {
            let k = (self.left as usize).min(buf.len());
            buf[..k].fill(0);
            self.left -= k as u64;
            return Ok(k);
        }
        Ok(0)
    }
}

/// The content digests (sha256) of the context's regular files, taken while
/// they were unpacked, so COPY does not read them again for its cache key.
#[derive(Debug, Default)]
pub struct Digests(HashMap<PathBuf, [u8; 32]>);

/// A build context on disk.
#[derive(Debug)]
pub struct Context {
    pub root: PathBuf,
    pub digests: Digests,
}

impl Context {
    /// A directory as it is (files are hashed when a COPY needs them).
    pub fn dir(root: impl Into<PathBuf>) -> Context {
        Context {
            root: root.into(),
            digests: Digests::default(),
        }
    }
}

/// Makes the directories of `rel` under `root`, refusing any existing
/// component that is not a directory inside `root` (a link out of it).
fn safe_parent(root: &Path, rel: &Path) -> Result<PathBuf> {
    let mut p = root.to_path_buf();
    for c in rel.parent().into_iter().flat_map(|d| d.components()) {
        p.push(c);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::canonicalize(&p).map_err(io_err("resolve link"))?;
                if !target.starts_with(root) || !target.is_dir() {
                    return Err(BuildError::step(format!(
                        "build context member {:?} leaves the context",
                        rel.display().to_string()
                    )));
                }
            }
            Ok(_) => {
                return Err(BuildError::step(format!(
                    "build context member {:?}: a file is in the way",
                    rel.display().to_string()
                )))
            }
            Err(_) => fs::create_dir(&p).map_err(io_err("create context dir"))?,
        }
    }
    Ok(p)
}

/// Unpacks a build context sent as a tar into `dest`, hashing regular files
/// as they pass. Hostile members (absolute, `..`, through links) are refused:
/// the build fails, nothing outside `dest` changes.
pub fn unpack_context(tar_stream: impl Read, dest: &Path) -> Result<Context> {
    let root = fs::canonicalize(dest).map_err(io_err("build context dir"))?;
    let mut digests = HashMap::new();
    let mut ar = tar::Archive::new(PaddedTar::new(tar_stream));
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_unpack_xattrs(false);
    // Clients send the context owned by root (docker's CLI resets owners), and
    // COPY sets owners itself: the tar's owner fields are not read at all.
    ar.set_preserve_ownerships(false);
    let read_err = |e: io::Error| BuildError::step(format!("read build context: {e}"));
    for entry in ar.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let path = entry.path().map_err(read_err)?.into_owned();
        let name = path.display().to_string();
        let leaves =
            || BuildError::step(format!("build context member {name:?} leaves the context"));
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(leaves());
        }
        if entry.header().entry_type().is_file() {
            let rel: PathBuf = path
                .components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .collect();
            if rel.as_os_str().is_empty() {
                continue;
            }
            let target = safe_parent(&root, &rel)?.join(rel.file_name().unwrap_or_default());
            if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
                return Err(BuildError::step(format!(
                    "build context member {name:?} would replace a directory"
                )));
            }
            let _ = fs::remove_file(&target);
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
                .map_err(io_err("write context file"))?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = entry.read(&mut buf).map_err(read_err)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                out.write_all(&buf[..n])
                    .map_err(io_err("write context file"))?;
            }
            let header = entry.header();
            let mode = header.mode().map_err(read_err)? & 0o7777;
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                .map_err(io_err("chmod context file"))?;
            if let Ok(mtime) = header.mtime() {
                let t = libc::timespec {
                    tv_sec: mtime as i64,
                    tv_nsec: 0,
                };
                set_times(&target, t);
            }
            digests.insert(target, h.finalize().into());
            continue;
        }
        let unpacked = entry.unpack_in(&root).map_err(|e| {
            // tar keeps the cause one level down.
            let cause = std::error::Error::source(&e)
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            BuildError::step(format!("unpack build context member {name:?}: {e}{cause}"))
        })?;
        if !unpacked {
            return Err(leaves());
        }
    }
    Ok(Context {
        root,
        digests: Digests(digests),
    })
}

/// Names of files the context keeps (for `.dockerignore` of the Dockerfile itself).
pub fn ignore_of(root: &Path) -> Result<Option<Ignore>> {
    match fs::read_to_string(root.join(".dockerignore")) {
        Ok(t) => Ignore::parse(&t)
            .map(Some)
            .map_err(|e| BuildError::step(format!("error processing .dockerignore: {e}"))),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_are_named_after_the_url_path() {
        for (url, name) in [
            ("https://h/a/b.tar.gz?sig=1#x", "b.tar.gz"),
            ("http://h:8080/file", "file"),
            ("http://h/dir/", ""),
            ("http://h", ""),
        ] {
            assert_eq!(url_file_name(url), name, "{url}");
        }
    }

    fn tar_of(entries: &[(&str, &[u8], tar::EntryType, Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, kind, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            // Raw names: the builder's own checks would refuse the hostile ones.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn context_unpacks_and_refuses_escapes() {
        let d = tempfile::tempdir().unwrap();
        let ok = tar_of(&[("Dockerfile", b"FROM x\n", tar::EntryType::Regular, None)]);
        unpack_context(ok.as_slice(), d.path()).unwrap();
        assert_eq!(
            fs::read_to_string(d.path().join("Dockerfile")).unwrap(),
            "FROM x\n"
        );

        let outside = tempfile::tempdir().unwrap();
        for hostile in [
            tar_of(&[("../evil", b"x", tar::EntryType::Regular, None)]),
            tar_of(&[
                (
                    "link",
                    b"",
                    tar::EntryType::Symlink,
                    Some(outside.path().to_str().unwrap()),
                ),
                ("link/evil", b"x", tar::EntryType::Regular, None),
            ]),
        ] {
            let d = tempfile::tempdir().unwrap();
            assert!(unpack_context(hostile.as_slice(), d.path()).is_err());
            assert!(!outside.path().join("evil").exists());
        }
        // The docker CLI's `-f` outside the context: last padding and trailer missing.
        let mut unpadded = tar_of(&[("Dockerfile", b"FROM y\n", tar::EntryType::Regular, None)]);
        unpadded.truncate(512 + 7);
        let d = tempfile::tempdir().unwrap();
        unpack_context(unpadded.as_slice(), d.path()).unwrap();
        assert_eq!(
            fs::read_to_string(d.path().join("Dockerfile")).unwrap(),
            "FROM y\n"
        );
        // Cut inside the data of the last entry: no made-up bytes.
        let mut short = tar_of(&[("f", &[9u8; 100], tar::EntryType::Regular, None)]);
        short.truncate(512 + 50);
        assert!(unpack_context(short.as_slice(), tempfile::tempdir().unwrap().path()).is_err());
        // Truncated: an error, not a partial success.
        let mut cut = tar_of(&[("big", &[7u8; 5000], tar::EntryType::Regular, None)]);
        cut.truncate(2000);
        let d = tempfile::tempdir().unwrap();
        assert!(unpack_context(cut.as_slice(), d.path()).is_err());
    }

    #[test]
    fn scoped_paths_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("etc-link")).unwrap();
        std::os::unix::fs::symlink("../../..", d.path().join("up")).unwrap();
        assert_eq!(
            scoped_path(d.path(), "/etc-link/passwd", true).unwrap(),
            d.path().join("etc/passwd")
        );
        assert_eq!(
            scoped_path(d.path(), "up/x", true).unwrap(),
            d.path().join("x")
        );
        assert_eq!(
            scoped_path(d.path(), "../../x", true).unwrap(),
            d.path().join("x")
        );
    }

    #[test]
    fn sources_are_found_hashed_and_ignored() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("src/sub")).unwrap();
        fs::write(d.path().join("src/a.rs"), "a").unwrap();
        fs::write(d.path().join("src/sub/b.rs"), "b").unwrap();
        fs::write(d.path().join("secret"), "s").unwrap();
        let ig = Ignore::parse("secret\nsrc/sub\n").unwrap();
        let tree = SourceTree {
            root: d.path(),
            digests: None,
            ignore: Some(&ig),
            what: "build context",
        };
        assert!(tree
            .find("secret")
            .unwrap_err()
            .to_string()
            .contains("excluded by .dockerignore"));
        assert!(tree
            .find("../x")
            .unwrap_err()
            .to_string()
            .contains("outside the build context"));
        assert!(tree.find("*.none").is_err());
        let found = tree.find("src/*.rs").unwrap();
        assert_eq!(found.len(), 1);
        let h1 = sources_digest(&tree, &tree.find("src").unwrap()).unwrap();
        // An ignored file changing does not change the hash; a kept one does.
        fs::write(d.path().join("src/sub/b.rs"), "changed").unwrap();
        assert_eq!(
            sources_digest(&tree, &tree.find("src").unwrap()).unwrap(),
            h1
        );
        fs::write(d.path().join("src/a.rs"), "changed").unwrap();
        assert_ne!(
            sources_digest(&tree, &tree.find("src").unwrap()).unwrap(),
            h1
        );
    }
}
