//! overlayfs mounts for container root file systems.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Result, StoreError};

/// The lower dirs are given top layer first, as overlayfs wants them.
pub fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Result<()> {
    let lower = lowers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let data = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    // The kernel takes one page of mount data.
    if data.len() >= 4096 {
        return Err(StoreError::Invalid(format!(
            "image has too many layers ({}) to mount",
            lowers.len()
        )));
    }
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|e| StoreError::Io {
        context: format!("mount overlay on {}", target.display()),
        source: e.into(),
    })
}

/// `mount_overlay` for a remapped container: each lower is first mounted
/// idmapped through `userns` (under `scratch`, one directory per layer), so
/// the image's root-owned files are the container root's without a copy.
/// overlayfs keeps its own references to its layers, so the idmapped mounts
/// are detached again as soon as the overlay is up.
pub fn mount_overlay_idmapped(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    userns: BorrowedFd,
    scratch: &Path,
) -> Result<()> {
    let io = |context: String| move |e: std::io::Error| StoreError::Io { context, source: e };
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch).map_err(io(format!("create {}", scratch.display())))?;
    let mut mapped = Vec::new();
    let result = (|| {
        for (i, l) in lowers.iter().enumerate() {
            let m = scratch.join(i.to_string());
            std::fs::create_dir(&m).map_err(io(format!("create {}", m.display())))?;
            idmapped_bind(l, &m, userns)
                .map_err(io(format!("idmapped mount of {}", l.display())))?;
            mapped.push(m);
        }
        mount_overlay(&mapped, upper, work, target)
    })();
    for m in &mapped {
        let _ = umount2(m, MntFlags::MNT_DETACH);
    }
    let _ = std::fs::remove_dir_all(scratch);
    result
}

/// Whether this kernel makes idmapped mounts (5.12+) that overlayfs takes as
/// layers (5.19+): tried once on an empty directory.
pub fn idmapped_layers_work(userns: BorrowedFd, scratch: &Path) -> bool {
    let lower = scratch.join("l");
    let (upper, work, merged) = (scratch.join("u"), scratch.join("w"), scratch.join("m"));
    let made = [&lower, &upper, &work, &merged]
        .iter()
        .all(|d| std::fs::create_dir_all(d).is_ok());
    let ok = made
        && mount_overlay_idmapped(&[lower], &upper, &work, &merged, userns, &scratch.join("s"))
            .is_ok();
    if ok {
        let _ = umount2(&merged, MntFlags::MNT_DETACH);
    }
    let _ = std::fs::remove_dir_all(scratch);
    ok
}

/// Mounts `src` at `target` (an existing directory) with its owners seen
/// through `userns`'s mapping: host root's files are the container root's.
pub fn idmapped_bind(src: &Path, target: &Path, userns: BorrowedFd) -> std::io::Result<()> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
    };
    let (src, target) = (c(src)?, c(target)?);
    // SAFETY: the syscalls take valid C strings and a struct we own; the
    // tree's descriptor is owned right after it is returned.
    unsafe {
        let tree = libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            src.as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        );
        if tree < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let tree = OwnedFd::from_raw_fd(tree as i32);
        let mut attr: libc::mount_attr = std::mem::zeroed();
        attr.attr_set = libc::MOUNT_ATTR_IDMAP;
        attr.userns_fd = userns.as_raw_fd() as u64;
        if libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_fd().as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(
            libc::SYS_move_mount,
            tree.as_fd().as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A read-only view of several layers (no upper dir; overlayfs needs two lowers at least).
pub fn mount_overlay_ro(lowers: &[PathBuf], target: &Path) -> Result<()> {
    let lower = lowers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(format!("lowerdir={lower}").as_str()),
    )
    .map_err(|e| StoreError::Io {
        context: format!("mount overlay on {}", target.display()),
        source: e.into(),
    })
}

/// Whether something is mounted at `target`: the kernel's mount-root
/// attribute (`statx`, Linux 5.8+), in constant time, where mountinfo would
/// cost a line per mount on the host (one per running container); mountinfo
/// only where the kernel does not say.
pub fn is_mounted(target: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(target.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid C string and a zeroed statx buffer the call fills.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            0,
            &mut stx,
        )
    };
    if rc != 0 {
        return false;
    }
    let mount_root = libc::STATX_ATTR_MOUNT_ROOT as u64;
    if stx.stx_attributes_mask & mount_root != 0 {
        return stx.stx_attributes & mount_root != 0;
    }
    let t = target.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|s| s.lines().any(|l| l.split(' ').nth(4) == Some(t.as_str())))
        .unwrap_or(false)
}

/// Unmounts if mounted; a lazy detach so a busy mount cannot wedge removal.
pub fn unmount(target: &Path) -> Result<()> {
    if !is_mounted(target) {
        return Ok(());
    }
    umount2(target, MntFlags::MNT_DETACH).map_err(|e| StoreError::Io {
        context: format!("unmount {}", target.display()),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_roots_are_told_from_plain_directories() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("m");
        std::fs::create_dir(&target).unwrap();
        assert!(is_mounted(Path::new("/proc")));
        assert!(!is_mounted(&target));
        assert!(!is_mounted(&d.path().join("missing")));
        // A bind of a directory of the same file system counts too (its
        // device is its parent's: a device comparison would miss it).
        let src = d.path().join("src");
        std::fs::create_dir(&src).unwrap();
        mount(
            Some(&src),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        let mounted = is_mounted(&target);
        unmount(&target).unwrap();
        assert!(mounted);
        assert!(!is_mounted(&target));
        assert!(!is_mounted(&target.join("inside")));
    }
}
