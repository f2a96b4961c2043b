//! Network namespaces as files, made without forking: a short-lived thread
//! unshares its own network namespace and bind-mounts it to a path, which
//! keeps the namespace alive until `remove`. (rtnetlink's
//! `NetworkNamespace::add` forks, which is unsafe in a multi-threaded daemon.)

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::{NetError, Result};

/// Creates a new network namespace and pins it at `path`.
pub fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(NetError::io("create netns dir"))?;
    }
    File::create(path).map_err(NetError::io(format!("create {}", path.display())))?;
    let target = path.to_path_buf();
    let made = std::thread::spawn(move || -> Result<()> {
        // Only this thread moves; it ends right after.
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| NetError::Io {
            what: "unshare netns".into(),
            source: e.into(),
        })?;
        let me = format!("/proc/self/task/{}/ns/net", nix::unistd::gettid());
        mount(
            Some(me.as_str()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| NetError::Io {
            what: format!("bind-mount netns to {}", target.display()),
            source: e.into(),
        })
    })
    .join()
    .map_err(|_| NetError::Invalid("netns thread panicked".into()))?;
    if made.is_err() {
        let _ = fs::remove_file(path);
    }
    made
}

/// Unpins and deletes a namespace made by `create`; missing is fine.
pub fn remove(path: &Path) {
    let _ = umount2(path, MntFlags::MNT_DETACH);
    let _ = fs::remove_file(path);
}

/// Whether `path` is a pinned namespace (after a daemon restart, say).
pub fn exists(path: &Path) -> bool {
    File::open(path)
        .ok()
        .and_then(|f| nix::sys::statfs::fstatfs(&f).ok())
        .is_some_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

/// Runs `f` on a thread inside the namespace at `path` and returns its result.
/// Sockets `f` creates stay in that namespace wherever they are used later.
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let ns = File::open(path).map_err(NetError::io(format!("open netns {}", path.display())))?;
    let path: PathBuf = path.to_path_buf();
    std::thread::spawn(move || {
        setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| NetError::Io {
            what: format!("enter netns {}", path.display()),
            source: e.into(),
        })?;
        f()
    })
    .join()
    .map_err(|_| NetError::Invalid("netns thread panicked".into()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inode(p: &str) -> u64 {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(p).unwrap().ino()
    }

    #[test]
    fn create_enter_remove() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ns1");
        create(&p).unwrap();
        assert!(exists(&p));
        let host = inode("/proc/self/ns/net");
        let inside = run_in(&p, || Ok(inode("/proc/thread-self/ns/net"))).unwrap();
        assert_ne!(inside, host, "the closure ran in the new namespace");
        assert_eq!(
            inode("/proc/thread-self/ns/net"),
            host,
            "the caller did not move"
        );
        remove(&p);
        assert!(!p.exists() && !exists(&p));
        remove(&p); // twice is fine
        assert!(run_in(&p, || Ok(())).is_err());
    }
}
