//! Unpacking one layer tar into an empty snapshot directory, as the OCI layer
//! spec says (https://github.com/opencontainers/image-spec/blob/main/layer.md),
//! converting whiteouts to overlayfs's form: `.wh.x` becomes a 0:0 character
//! device `x`, `.wh..wh..opq` the `trusted.overlay.opaque` xattr on its dir.
//!
//! Hostile input is refused, never half-applied: `..` members, writes through
//! a symlink (which could land outside the snapshot), hard links to anything
//! outside the layer, and device nodes.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::EntryType;

use crate::archive::clean_member_path;
use crate::error::{Result, StoreError};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// What unpacking found: bytes of file content, for the image size.
#[derive(Debug, Default)]
pub struct Unpacked {
    pub content_size: u64,
}

fn invalid(msg: String) -> StoreError {
    StoreError::Invalid(msg)
}

/// Fails if any existing ancestor of `rel` under `root` is a symlink, or not a
/// directory; creates missing ancestors. This is what stops `a -> /etc`
/// followed by `a/passwd` from writing to the host.
fn prepare_parent(root: &Path, rel: &Path) -> Result<()> {
    let mut cur = root.to_path_buf();
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    for c in parent.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(invalid(format!(
                    "layer member {:?} would be written through the symlink {:?}",
                    rel.display().to_string(),
                    cur.strip_prefix(root).unwrap_or(&cur).display().to_string()
                )))
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(invalid(format!(
                    "layer member {:?}: a parent is not a directory",
                    rel.display().to_string()
                )))
            }
            Err(_) => {
                fs::create_dir(&cur).map_err(StoreError::io(format!("mkdir {}", cur.display())))?
            }
        }
    }
    Ok(())
}

/// Removes whatever is at `path` so a later layer member can replace it.
fn clear(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => {
            fs::remove_file(path).map_err(StoreError::io(format!("replace {}", path.display())))
        }
        Err(_) => Ok(()),
    }
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| invalid(format!("path with NUL byte: {p:?}")))
}

fn lchown(p: &Path, uid: u64, gid: u64) -> Result<()> {
    let c = cstr(p)?;
    // SAFETY: c is a valid NUL-terminated path.
    let r = unsafe { libc::lchown(c.as_ptr(), uid as libc::uid_t, gid as libc::gid_t) };
    if r != 0 {
        return Err(StoreError::io(format!("chown {}", p.display()))(
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn mknod(p: &Path, mode: libc::mode_t, dev: libc::dev_t) -> Result<()> {
    let c = cstr(p)?;
    // SAFETY: c is a valid NUL-terminated path.
    let r = unsafe { libc::mknod(c.as_ptr(), mode, dev) };
    if r != 0 {
        return Err(StoreError::io(format!("mknod {}", p.display()))(
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn set_opaque(dir: &Path) -> Result<()> {
    let c = cstr(dir)?;
    let name = c"trusted.overlay.opaque";
    // SAFETY: valid C strings and a 1-byte value.
    let r = unsafe { libc::lsetxattr(c.as_ptr(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    if r != 0 {
        return Err(StoreError::io(format!("mark {} opaque", dir.display()))(
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Unpacks an uncompressed layer tar into `dest`, which must exist and be empty.
pub fn unpack_layer<R: Read>(tar: &mut R, dest: &Path) -> Result<Unpacked> {
    unpack(tar, dest, true, true)
}

/// Unpacks files a user copies into a container (`PUT /archive`): like a
/// layer, but `.wh.` names are ordinary files, and without `keep_owners`
/// everything belongs to root, as `docker cp` without `-a` does.
pub fn unpack_files<R: Read>(tar: &mut R, dest: &Path, keep_owners: bool) -> Result<Unpacked> {
    unpack(tar, dest, false, keep_owners)
}

fn unpack<R: Read>(tar: &mut R, dest: &Path, layer: bool, keep_owners: bool) -> Result<Unpacked> {
    let mut copy_buf = vec![0u8; 256 * 1024];
    let mut archive = tar::Archive::new(tar);
    let mut out = Unpacked::default();
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("layer is not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| invalid(format!("layer tar is malformed or truncated: {e}")))?;
        let raw = entry
            .path()
            .map_err(|e| invalid(format!("bad member name: {e}")))?
            .into_owned();
        let rel = clean_member_path(&raw)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        prepare_parent(dest, &rel)?;
        let target = dest.join(&rel);
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();

        let (uid, gid) = if keep_owners { (uid, gid) } else { (0, 0) };
        if layer && name == OPAQUE {
            set_opaque(target.parent().unwrap_or(dest))?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX).filter(|_| layer) {
            let wh = target.with_file_name(hidden);
            clear(&wh)?;
            if wh.is_dir() {
                fs::remove_dir_all(&wh).map_err(StoreError::io("whiteout dir"))?;
            }
            mknod(&wh, libc::S_IFCHR, 0)?;
            continue;
        }

        match entry.header().entry_type() {
            EntryType::Directory => {
                match fs::symlink_metadata(&target) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        clear(&target)?;
                        fs::create_dir(&target).map_err(StoreError::io("mkdir"))?;
                    }
                    Err(_) => fs::create_dir(&target).map_err(StoreError::io("mkdir"))?,
                }
                lchown(&target, uid, gid)?;
                dirs.push((target, mode));
            }
            EntryType::Regular | EntryType::Continuous => {
                clear(&target)?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&target)
                    .map_err(StoreError::io(format!("create {}", target.display())))?;
                let n = copy_big(&mut entry, &mut f, &mut copy_buf).map_err(|e| {
                    invalid(format!(
                        "layer tar is truncated in {:?}: {e}",
                        rel.display().to_string()
                    ))
                })?;
                out.content_size += n;
                drop(f);
                lchown(&target, uid, gid)?;
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                    .map_err(StoreError::io("chmod"))?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(|e| invalid(format!("bad symlink target: {e}")))?
                    .ok_or_else(|| {
                        invalid(format!(
                            "symlink {:?} has no target",
                            rel.display().to_string()
                        ))
                    })?;
                clear(&target)?;
                std::os::unix::fs::symlink(&link, &target).map_err(StoreError::io("symlink"))?;
                lchown(&target, uid, gid)?;
                out.content_size += link.as_os_str().len() as u64;
            }
            EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(|e| invalid(format!("bad hard link target: {e}")))?
                    .ok_or_else(|| {
                        invalid(format!(
                            "hard link {:?} has no target",
                            rel.display().to_string()
                        ))
                    })?;
                let link_rel = clean_member_path(&link).map_err(|_| {
                    invalid(format!(
                        "hard link {:?} points outside the layer",
                        rel.display().to_string()
                    ))
                })?;
                prepare_parent(dest, &link_rel)?;
                let source = dest.join(&link_rel);
                match fs::symlink_metadata(&source) {
                    Ok(m) if !m.is_dir() => {}
                    _ => {
                        return Err(invalid(format!(
                            "hard link {:?} points to {:?}, which is not a file of this layer",
                            rel.display().to_string(),
                            link.display().to_string()
                        )))
                    }
                }
                clear(&target)?;
                fs::hard_link(&source, &target).map_err(StoreError::io("hard link"))?;
            }
            EntryType::Fifo => {
                clear(&target)?;
                mknod(&target, libc::S_IFIFO | mode, 0)?;
                lchown(&target, uid, gid)?;
            }
            EntryType::Char | EntryType::Block => {
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                if entry.header().entry_type() == EntryType::Char && major == 0 && minor == 0 {
                    // Already an overlay-style whiteout.
                    clear(&target)?;
                    mknod(&target, libc::S_IFCHR, 0)?;
                } else {
                    return Err(invalid(format!(
                        "device node {:?} is not allowed in an image layer",
                        rel.display().to_string()
                    )));
                }
            }
            EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink => {}
            other => {
                return Err(invalid(format!(
                    "unsupported tar member type {other:?} for {:?}",
                    rel.display().to_string()
                )))
            }
        }
    }
    // Directory modes last, so a read-only directory can still be filled.
    for (d, mode) in dirs.into_iter().rev() {
        fs::set_permissions(&d, fs::Permissions::from_mode(mode))
            .map_err(StoreError::io("chmod dir"))?;
    }
    Ok(out)
}

/// `io::copy` with a large buffer (allocated once per archive): far fewer
/// system calls for large files than its default 8 KiB.
fn copy_big(from: &mut impl Read, to: &mut File, buf: &mut [u8]) -> io::Result<u64> {
    use std::io::Write;
    let mut total = 0;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Size on disk of a directory tree (regular files only, hard links once).
pub fn tree_size(root: &Path) -> u64 {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() && seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

/// Opens a file inside an archive for reading.
pub fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(StoreError::io(format!("open {}", path.display())))
}

/// Copies a layer's tree with its owners shifted: files, links, directories,
/// device nodes (whiteouts among them), FIFOs, modes, times and extended
/// attributes (overlayfs' opaque marks). Links are copied as links, never
/// followed; an owner outside the mapping (`map` gives `None`) is an error,
/// as in dockerd.
pub fn copy_shifted<F>(src: &Path, dst: &Path, map: &F) -> Result<()>
where
    F: Fn(u32, u32) -> Option<(u32, u32)>,
{
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let io = |what: String| StoreError::io(what);
    let meta = fs::symlink_metadata(src).map_err(io(format!("stat {}", src.display())))?;
    let ft = meta.file_type();
    let (uid, gid) = map(meta.uid(), meta.gid()).ok_or_else(|| {
        StoreError::Invalid(format!(
            "{}: owner {}:{} cannot be mapped to a host ID",
            src.display(),
            meta.uid(),
            meta.gid()
        ))
    })?;
    if ft.is_dir() {
        fs::create_dir(dst).map_err(io(format!("mkdir {}", dst.display())))?;
        for e in fs::read_dir(src).map_err(io(format!("read {}", src.display())))? {
            let e = e.map_err(io(format!("read {}", src.display())))?;
            copy_shifted(&e.path(), &dst.join(e.file_name()), map)?;
        }
    } else if ft.is_symlink() {
        let target = fs::read_link(src).map_err(io(format!("readlink {}", src.display())))?;
        std::os::unix::fs::symlink(target, dst)
            .map_err(io(format!("symlink {}", dst.display())))?;
    } else if ft.is_file() {
        fs::copy(src, dst).map_err(io(format!("copy {}", src.display())))?;
    } else {
        // Devices, whiteouts (0:0 character devices) and FIFOs.
        nix::sys::stat::mknod(
            dst,
            nix::sys::stat::SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT),
            nix::sys::stat::Mode::from_bits_truncate(meta.mode() & 0o7777),
            meta.rdev(),
        )
        .map_err(|e| StoreError::Io {
            context: format!("mknod {}", dst.display()),
            source: e.into(),
        })?;
    }
    copy_xattrs(src, dst);
    std::os::unix::fs::lchown(dst, Some(uid), Some(gid))
        .map_err(io(format!("chown {}", dst.display())))?;
    if !ft.is_symlink() {
        // After the chown, which clears set-user-ID bits.
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(io(format!("chmod {}", dst.display())))?;
        let times = [
            nix::sys::time::TimeSpec::new(meta.atime(), meta.atime_nsec()),
            nix::sys::time::TimeSpec::new(meta.mtime(), meta.mtime_nsec()),
        ];
        let _ = nix::sys::stat::utimensat(
            None,
            dst,
            &times[0],
            &times[1],
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        );
    }
    Ok(())
}

/// Extended attributes of `src` onto `dst`, links not followed; the ones
/// the kernel refuses (security labels of another policy) are left out.
fn copy_xattrs(src: &Path, dst: &Path) {
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).ok();
    let (Some(s), Some(d)) = (c(src), c(dst)) else {
        return;
    };
    let mut names = vec![0u8; 64 * 1024];
    // SAFETY: valid C strings and buffers we own, with their lengths.
    let n = unsafe { libc::llistxattr(s.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return;
    }
    for name in names[..n as usize]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
    {
        let Ok(name) = std::ffi::CString::new(name) else {
            continue;
        };
        let mut value = vec![0u8; 64 * 1024];
        // SAFETY: as above.
        unsafe {
            let len = libc::lgetxattr(
                s.as_ptr(),
                name.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            );
            if len >= 0 {
                libc::lsetxattr(
                    d.as_ptr(),
                    name.as_ptr(),
                    value.as_ptr().cast(),
                    len as usize,
                    0,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn header(kind: EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o755);
        h
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = header(EntryType::Regular, data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, kind: EntryType, path: &str, target: &str) {
        let mut h = header(kind, 0);
        b.append_link(&mut h, path, target).unwrap();
    }

    /// Writes a raw name, bypassing the tar crate's own `..` check, as a hostile tool would.
    fn raw_file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = header(EntryType::Regular, data.len() as u64);
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    #[test]
    fn unpacks_files_links_and_whiteouts() {
        let t = tar_of(|b| {
            file(b, "bin/tool", b"#!x");
            link(b, EntryType::Symlink, "bin/sh", "/bin/tool");
            link(b, EntryType::Link, "bin/hard", "bin/tool");
            file(b, "etc/.wh.gone", b"");
            file(b, "var/.wh..wh..opq", b"");
        });
        let d = tempfile::tempdir().unwrap();
        let u = unpack_layer(&mut &t[..], d.path()).unwrap();
        assert!(u.content_size >= 3);
        assert_eq!(fs::read(d.path().join("bin/hard")).unwrap(), b"#!x");
        assert_eq!(
            fs::read_link(d.path().join("bin/sh")).unwrap(),
            Path::new("/bin/tool")
        );
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::symlink_metadata(d.path().join("etc/gone"))
            .unwrap()
            .file_type()
            .is_char_device());
        let mut buf = [0u8; 4];
        let c = cstr(&d.path().join("var")).unwrap();
        let n = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                buf.as_mut_ptr().cast(),
                4,
            )
        };
        assert_eq!(n, 1);
    }

    #[test]
    fn refuses_dot_dot() {
        let t = tar_of(|b| raw_file(b, "../escape", b"x"));
        let d = tempfile::tempdir().unwrap();
        let inner = d.path().join("layer");
        fs::create_dir(&inner).unwrap();
        let e = unpack_layer(&mut &t[..], &inner).unwrap_err();
        assert!(e.to_string().contains(".."), "{e}");
        assert!(!d.path().join("escape").exists());
    }

    #[test]
    fn refuses_write_through_symlink() {
        let outside = tempfile::tempdir().unwrap();
        for target in [
            outside.path().to_str().unwrap().to_string(),
            "../../../../../../..".into(),
        ] {
            let t = tar_of(|b| {
                link(b, EntryType::Symlink, "evil", &target);
                file(b, "evil/payload", b"pwned");
            });
            let d = tempfile::tempdir().unwrap();
            let e = unpack_layer(&mut &t[..], d.path()).unwrap_err();
            assert!(e.to_string().contains("symlink"), "{e}");
            assert!(!outside.path().join("payload").exists());
        }
    }

    #[test]
    fn refuses_hard_link_outside() {
        for target in ["/etc/passwd", "../../etc/passwd", "missing"] {
            let t = tar_of(|b| link(b, EntryType::Link, "h", target));
            let d = tempfile::tempdir().unwrap();
            assert!(unpack_layer(&mut &t[..], d.path()).is_err(), "{target}");
        }
    }

    #[test]
    fn refuses_devices_and_truncation() {
        let t = tar_of(|b| {
            let mut h = header(EntryType::Block, 0);
            h.set_device_major(8).unwrap();
            h.set_device_minor(0).unwrap();
            b.append_data(&mut h, "dev/sda", &[][..]).unwrap();
        });
        let d = tempfile::tempdir().unwrap();
        assert!(unpack_layer(&mut &t[..], d.path())
            .unwrap_err()
            .to_string()
            .contains("device"));

        let t = tar_of(|b| file(b, "big", &[7u8; 5000]));
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(
            unpack_layer(&mut &t[..1500], d.path()),
            Err(StoreError::Invalid(_))
        ));
    }
}
