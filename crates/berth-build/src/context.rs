//! The build context on disk, and COPY/ADD: finding sources (wildcards,
//! `.dockerignore`, never outside the context), hashing them for the cache,
//! and copying them into an image's file system without following links out of it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use berth_rootpath::{resolve_mapped, Follow, RootDir};

use crate::error::{BuildError, Result};
use crate::ignore::{clean, glob_regex, Ignore};

fn io_err(what: &str) -> impl Fn(io::Error) -> BuildError + '_ {
    move |e| BuildError::step(format!("{what}: {e}"))
}

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

fn has_wildcard(s: &str) -> bool {
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

/// Owner and mode applied to what a COPY writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attrs {
    pub uid: u32,
    pub gid: u32,
    pub mode: Option<u32>,
}

/// Creates the directories of `path` (relative to the rootfs) that are missing, owned by `attrs`.
pub fn make_dirs(root: &Path, path: &str, attrs: Attrs) -> Result<PathBuf> {
    let dir = RootDir::open(root).map_err(|e| BuildError::step(e.to_string()))?;
    dir.mkdir_all(path, 0o755, Some((attrs.uid, attrs.gid)))
        .map_err(|e| BuildError::step(format!("cannot create directory {path}: {e}")))
}

/// Copies `src` (file, link or directory tree) to `dst` on the host path that
/// `scoped_path` gave, with Docker's COPY ownership and mode rules.
pub fn copy_tree(
    src: &Path,
    dst: &Path,
    attrs: Attrs,
    ignore: &dyn Fn(&Path) -> bool,
) -> Result<()> {
    let m = fs::symlink_metadata(src).map_err(io_err("stat"))?;
    let ft = m.file_type();
    if ft.is_dir() {
        match fs::symlink_metadata(dst) {
            Ok(d) if d.is_dir() => {}
            Ok(_) => {
                fs::remove_file(dst).map_err(io_err("replace"))?;
                fs::create_dir(dst).map_err(io_err("mkdir"))?;
            }
            Err(_) => fs::create_dir(dst).map_err(io_err("mkdir"))?,
        }
        let mut names: Vec<_> = fs::read_dir(src)
            .map_err(io_err("read dir"))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            let s = src.join(&n);
            if !ignore(&s) {
                copy_tree(&s, &dst.join(&n), attrs, ignore)?;
            }
        }
    } else {
        if fs::symlink_metadata(dst).is_ok_and(|d| d.is_dir() && !ft.is_dir()) {
            return Err(BuildError::step(format!(
                "cannot replace directory {} with a file",
                dst.display()
            )));
        }
        let _ = fs::remove_file(dst);
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(src).map_err(io_err("read link"))?, dst)
                .map_err(io_err("symlink"))?;
        } else if ft.is_file() {
            let mut from = File::open(src).map_err(io_err("open"))?;
            let mut to = File::create(dst).map_err(io_err("create"))?;
            io::copy(&mut from, &mut to).map_err(io_err("copy"))?;
            to.flush().map_err(io_err("write"))?;
        } else {
            // Devices, fifos and sockets are not build content.
            return Ok(());
        }
    }
    std::os::unix::fs::lchown(dst, Some(attrs.uid), Some(attrs.gid)).map_err(io_err("chown"))?;
    if !ft.is_symlink() {
        let mode = attrs.mode.unwrap_or(m.mode() & 0o7777);
        fs::set_permissions(dst, fs::Permissions::from_mode(mode)).map_err(io_err("chmod"))?;
        set_mtime(dst, &m);
    }
    Ok(())
}

/// Keeps the source's modification time, as Docker's COPY does.
fn set_mtime(p: &Path, m: &fs::Metadata) {
    set_times(
        p,
        libc::timespec {
            tv_sec: m.mtime(),
            tv_nsec: m.mtime_nsec(),
        },
    );
}

fn set_times(p: &Path, t: libc::timespec) {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
        return;
    };
    // SAFETY: a valid C string and two timespecs we own.
    unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            [t, t].as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        );
    }
}

/// `--chown=user:group` with names looked up in the image's own passwd and group files.
pub fn parse_chown(root: &Path, spec: &str) -> Result<(u32, u32)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let lookup = |file: &str, name: &str| -> Result<(u32, Option<u32>)> {
        if let Ok(n) = name.parse::<u32>() {
            return Ok((n, None));
        }
        let text = scoped_path(root, file, true)
            .ok()
            .and_then(|p| fs::read_to_string(p).ok())
            .unwrap_or_default();
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 3 && f[0] == name {
                let id = f[2]
                    .parse()
                    .map_err(|_| BuildError::step(format!("bad entry for {name} in {file}")))?;
                let gid = f.get(3).and_then(|g| g.parse().ok());
                return Ok((id, gid));
            }
        }
        Err(BuildError::step(format!("unable to convert uid/gid chown string to host mapping: can't find uid for user {name}: no such user: {name}")))
    };
    let (uid, primary) = lookup("/etc/passwd", user)?;
    let gid = match group {
        Some(g) => lookup("/etc/group", g)?.0,
        None => primary.unwrap_or(uid),
    };
    Ok((uid, gid))
}

pub fn parse_chmod(spec: &str) -> Result<u32> {
    u32::from_str_radix(spec, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            BuildError::step(format!(
                "invalid chmod parameter: {spec:?} (an octal mode is needed)"
            ))
        })
}

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

/// ADD's download of an `http://` URL into `dest` (HTTP/1.0, a few redirects
/// followed). Returns the file name the URL names, for a directory destination.
pub fn fetch_http(url: &str, dest: &Path) -> Result<String> {
    let mut url = url.to_string();
    for _ in 0..5 {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            BuildError::step(format!(
                "ADD {url}: only http:// URLs are supported by this version of berthd"
            ))
        })?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        let fail = |e: String| BuildError::step(format!("ADD failed: GET {url}: {e}"));
        let mut conn = std::net::TcpStream::connect(&addr).map_err(|e| fail(e.to_string()))?;
        conn.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .map_err(|e| fail(e.to_string()))?;
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: berth\r\n\r\n");
        conn.write_all(request.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        let mut reader = io::BufReader::new(conn);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            if io::BufRead::read_line(&mut reader, &mut line).map_err(|e| fail(e.to_string()))? == 0
            {
                return Err(fail("connection closed in the headers".into()));
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push(line.trim_end().to_string());
        }
        let status: u16 = head
            .first()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| fail("not an HTTP response".into()))?;
        let header = |name: &str| {
            head.iter().skip(1).find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        if (300..400).contains(&status) {
            let loc =
                header("location").ok_or_else(|| fail(format!("{status} without a Location")))?;
            url = if loc.starts_with("http") {
                loc
            } else {
                format!("http://{hostport}{loc}")
            };
            continue;
        }
        if status != 200 {
            return Err(fail(format!(
                "{status} {}",
                head[0].splitn(3, ' ').nth(2).unwrap_or("")
            )));
        }
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(io_err("create download dir"))?;
        }
        let mut out = File::create(dest).map_err(io_err("create download"))?;
        io::copy(&mut reader, &mut out).map_err(|e| fail(e.to_string()))?;
        let name = path
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        return Ok(name);
    }
    Err(BuildError::step(format!(
        "ADD failed: GET {url}: too many redirects"
    )))
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

/// The sha256 of a file's bytes.
fn file_digest(path: &Path) -> Result<[u8; 32]> {
    let mut file = File::open(path).map_err(io_err("open"))?;
    let mut h = Sha256::new();
    io::copy(&mut file, &mut HashWriter(&mut h)).map_err(io_err("read"))?;
    Ok(h.finalize().into())
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
