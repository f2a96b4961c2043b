//! Copying into an image's file system: directories made, trees copied
//! with their times, owners (`--chown`) and modes (`--chmod`), never
//! following a link out of the root.

use super::*;

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
pub(super) fn set_mtime(p: &Path, m: &fs::Metadata) {
    set_times(
        p,
        libc::timespec {
            tv_sec: m.mtime(),
            tv_nsec: m.mtime_nsec(),
        },
    );
}

pub(super) fn set_times(p: &Path, t: libc::timespec) {
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
