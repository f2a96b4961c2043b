//! Paths inside a container's or an image's root, resolved as a process
//! chrooted there sees them: symlinks are followed relative to the root and
//! `..` never climbs above it. Every path the daemon resolves inside such a
//! root goes through here, so a hostile image cannot make it read, create or
//! chown anything on the host.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use pathrs::flags::OpenFlags;

/// How many symlinks one resolution may follow (the kernel's own limit).
const MAX_LINKS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum RootPathError {
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: not a directory")]
    NotDirectory(String),
    #[error("{0}: not a regular file")]
    NotRegular(String),
    #[error("{path}: larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("{0}: invalid path")]
    Invalid(String),
    #[error("too many levels of symbolic links: {0}")]
    Loop(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

pub type Result<T, E = RootPathError> = std::result::Result<T, E>;

/// Whether the last component is followed when it is a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    All,
    /// The link itself is meant (`lstat`, removing or copying a link).
    NotLast,
}

fn from_pathrs(path: &str, e: pathrs::error::Error) -> RootPathError {
    use pathrs::error::ErrorKind;
    match e.kind() {
        ErrorKind::OsError(Some(libc::ENOENT)) => RootPathError::NotFound(path.into()),
        ErrorKind::OsError(Some(libc::ENOTDIR)) => RootPathError::NotDirectory(path.into()),
        ErrorKind::OsError(Some(libc::ELOOP)) => RootPathError::Loop(path.into()),
        ErrorKind::InvalidArgument | ErrorKind::OsError(Some(libc::EINVAL)) => {
            RootPathError::Invalid(path.into())
        }
        _ => RootPathError::Io {
            path: path.into(),
            message: e.to_string(),
        },
    }
}

fn io(path: &str) -> impl Fn(std::io::Error) -> RootPathError + '_ {
    move |e| match e.raw_os_error() {
        Some(libc::ENOENT) => RootPathError::NotFound(path.into()),
        Some(libc::ENOTDIR) => RootPathError::NotDirectory(path.into()),
        _ => RootPathError::Io {
            path: path.into(),
            message: e.to_string(),
        },
    }
}

/// A path made clean the way Go's `filepath.Clean` does for an absolute
/// path (dockerd cleans `WorkingDir` so): `.`, `..` and repeated slashes
/// are resolved lexically, and `..` stops at `/`. Refuses NUL bytes.
pub fn clean(path: &str) -> Result<String> {
    if path.contains('\0') {
        return Err(RootPathError::Invalid(path.escape_debug().to_string()));
    }
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    Ok(format!("/{}", out.join("/")))
}

/// The host path an open descriptor names (what the kernel resolved).
fn fd_path(fd: &impl AsRawFd, path: &str) -> Result<PathBuf> {
    fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(io(path))
}

/// A root directory, opened once, inside which paths are resolved.
#[derive(Debug)]
pub struct RootDir {
    root: pathrs::Root,
    path: PathBuf,
}

impl RootDir {
    pub fn open(path: &Path) -> Result<RootDir> {
        let shown = path.display().to_string();
        let root = pathrs::Root::open(path).map_err(|e| from_pathrs(&shown, e))?;
        Ok(RootDir {
            root,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn handle(&self, path: &str, follow: Follow) -> Result<pathrs::Handle> {
        let p = Path::new(path);
        if path.contains('\0') {
            return Err(RootPathError::Invalid(path.escape_debug().to_string()));
        }
        match follow {
            Follow::All => self.root.resolve(p),
            Follow::NotLast => self.root.resolve_nofollow(p),
        }
        .map_err(|e| from_pathrs(path, e))
    }

    /// The host path of `path` inside the root; it must exist.
    pub fn resolve(&self, path: &str, follow: Follow) -> Result<PathBuf> {
        let h = self.handle(path, follow)?;
        fd_path(&h.as_fd(), path)
    }

    /// Reads a regular file inside the root, at most `limit` bytes; `None`
    /// when it does not exist. FIFOs and devices are refused without being
    /// opened (a container can make either at any path of its own).
    pub fn read(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let h = match self.handle(path, Follow::All) {
            Ok(h) => h,
            Err(RootPathError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !is_regular(&h).map_err(io(path))? {
            return Err(RootPathError::NotRegular(path.into()));
        }
        let f: File = h
            .reopen(OpenFlags::O_RDONLY | OpenFlags::O_NONBLOCK | OpenFlags::O_CLOEXEC)
            .map_err(|e| from_pathrs(path, e))?;
        let mut buf = Vec::new();
        f.take(limit + 1).read_to_end(&mut buf).map_err(io(path))?;
        if buf.len() as u64 > limit {
            return Err(RootPathError::TooLarge {
                path: path.into(),
                limit,
            });
        }
        Ok(Some(buf))
    }

    /// Creates directory `path` and its missing parents inside the root
    /// (mode `mode`), chowning the ones it created to `owner`; existing
    /// directories are left as they are. Returns the host path.
    pub fn mkdir_all(&self, path: &str, mode: u32, owner: Option<(u32, u32)>) -> Result<PathBuf> {
        // Dangling links are followed to where they point inside the root,
        // as dockerd's secure join does (pathrs refuses to create through
        // them); pathrs then creates what is missing, confined again.
        let under = |p: &Path| self.path.join(p.strip_prefix("/").unwrap_or(p));
        let inside = resolve_mapped(&clean(path)?, Follow::All, &under)?;
        let clean = inside.to_string_lossy().into_owned();
        // Which prefixes are missing before: only those are chowned.
        let mut missing = Vec::new();
        let mut prefix = String::new();
        for part in clean.split('/').filter(|p| !p.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            match self.handle(&prefix, Follow::All) {
                Ok(_) => {}
                Err(RootPathError::NotFound(_)) => missing.push(prefix.clone()),
                Err(e) => return Err(e),
            }
        }
        let h = self
            .root
            .mkdir_all(Path::new(&clean), &fs::Permissions::from_mode(mode))
            .map_err(|e| from_pathrs(&clean, e))?;
        if let Some((uid, gid)) = owner {
            for p in &missing {
                let d = self.handle(p, Follow::All)?;
                fchown_fd(&d, uid, gid).map_err(io(p))?;
            }
        }
        fd_path(&h.as_fd(), &clean)
    }

    /// What is at `path` (the link itself for a link), read through one
    /// descriptor: its metadata, and for a regular file the file, opened
    /// read-only. Nothing is looked up by name again after the resolution, so
    /// a running container swapping a directory for a link meanwhile cannot
    /// point the read elsewhere.
    pub fn entry(&self, path: &str) -> Result<Entry> {
        let h = self.handle(path, Follow::NotLast)?;
        let pathfile = File::from(std::os::fd::OwnedFd::from(
            h.try_clone().map_err(|e| from_pathrs(path, e))?,
        ));
        let meta = pathfile.metadata().map_err(io(path))?;
        let (file, link) = if meta.file_type().is_file() {
            let f = h
                .reopen(OpenFlags::O_RDONLY | OpenFlags::O_NONBLOCK | OpenFlags::O_CLOEXEC)
                .map_err(|e| from_pathrs(path, e))?;
            (Some(f), None)
        } else if meta.file_type().is_symlink() {
            (None, Some(readlink_fd(&pathfile).map_err(io(path))?))
        } else {
            (None, None)
        };
        Ok(Entry { meta, file, link })
    }

    /// Makes sure something can be mounted at `path`: a directory (`dir`) or
    /// an empty file, created with its parents where missing, following links
    /// inside the root as dockerd does (an image's dangling `/etc/hostname`
    /// link gets the file it points to, inside). Returns the host path the
    /// runtime will mount on.
    pub fn mount_point(&self, path: &str, dir: bool) -> Result<PathBuf> {
        if dir {
            return self.mkdir_all(path, 0o755, None);
        }
        let under = |p: &Path| self.path.join(p.strip_prefix("/").unwrap_or(p));
        let inside = resolve_mapped(&clean(path)?, Follow::All, &under)?;
        let shown = inside.to_string_lossy().into_owned();
        if let Some(parent) = inside.parent() {
            self.mkdir_all(&parent.to_string_lossy(), 0o755, None)?;
        }
        match self.root.create_file(
            &inside,
            OpenFlags::O_EXCL | OpenFlags::O_CREAT | OpenFlags::O_NOFOLLOW | OpenFlags::O_CLOEXEC,
            &fs::Permissions::from_mode(0o644),
        ) {
            Ok(_) => {}
            Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::EEXIST)) => {}
            Err(e) => return Err(from_pathrs(&shown, e)),
        }
        self.resolve(&shown, Follow::All)
    }
}

/// One entry of a root, as `RootDir::entry` read it.
#[derive(Debug)]
pub struct Entry {
    pub meta: fs::Metadata,
    /// A regular file's content.
    pub file: Option<File>,
    /// A link's target.
    pub link: Option<PathBuf>,
}

/// `readlinkat(fd, "")`: the target of the link an `O_PATH` descriptor names.
fn readlink_fd(f: &File) -> std::io::Result<PathBuf> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: a valid descriptor, an empty C string and a buffer we own.
    let n = unsafe {
        libc::readlinkat(
            f.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(PathBuf::from(
        <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(buf),
    ))
}

/// `fstat` on the handle itself: no second lookup by name.
fn is_regular(h: &pathrs::Handle) -> std::io::Result<bool> {
    // SAFETY: a valid descriptor and a zeroed struct the kernel fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(h.as_fd().as_raw_fd(), &mut st) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFREG)
}

/// `fchownat(fd, "", AT_EMPTY_PATH)`: chowns what an `O_PATH` handle names.
fn fchown_fd(h: &pathrs::Handle, uid: u32, gid: u32) -> std::io::Result<()> {
    let fd = h.as_fd().as_raw_fd();
    // SAFETY: a valid descriptor and an empty C string.
    let r = unsafe { libc::fchownat(fd, c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The metadata of `rel` under `dir` looked up the way overlayfs looks up a
/// layer: component by component, no link followed, every parent a real
/// directory. `None` when it is not there so.
pub fn lstat_beneath(dir: &Path, rel: &str) -> Option<fs::Metadata> {
    let mut cur = dir.to_path_buf();
    let mut parts = rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .peekable();
    while let Some(part) = parts.next() {
        if part == ".." {
            return None;
        }
        cur.push(part);
        let m = fs::symlink_metadata(&cur).ok()?;
        if parts.peek().is_none() {
            return Some(m);
        }
        if !m.is_dir() {
            return None;
        }
    }
    fs::symlink_metadata(dir).ok()
}

/// The parts of a path, `..` kept: symlink targets are walked the same way.
fn parts(p: &Path) -> Vec<String> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Resolves `path` with the same rules as [`RootDir`], walked component by
/// component in userspace over `host`, which maps a clean absolute in-root
/// path to where it lives on the host (a container's volumes and binds live
/// outside its root file system). Returns the resolved in-root path.
pub fn resolve_mapped(
    path: &str,
    follow: Follow,
    host: &dyn Fn(&Path) -> PathBuf,
) -> Result<PathBuf> {
    if path.contains('\0') {
        return Err(RootPathError::Invalid(path.escape_debug().to_string()));
    }
    let mut todo: Vec<String> = parts(Path::new(path)).into_iter().rev().collect();
    let mut cur = PathBuf::from("/");
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&part);
        let is_last = todo.is_empty();
        let on_host = host(&next);
        match fs::symlink_metadata(&on_host) {
            Ok(m) if m.file_type().is_symlink() && (!is_last || follow == Follow::All) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(RootPathError::Loop(path.into()));
                }
                let target = fs::read_link(&on_host).map_err(io(path))?;
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                todo.extend(parts(&target).into_iter().rev());
            }
            _ => cur = next,
        }
    }
    Ok(cur)
}

#[cfg(test)]
mod tests;
