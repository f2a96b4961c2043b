//! overlayfs mounts for container root file systems.

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

pub fn is_mounted(target: &Path) -> bool {
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
