//! One set of hostile trees, run through both resolvers: every symlink trick
//! an image can carry must land inside the root, and nothing outside it may
//! be read, created or chowned.

use std::io::Read as _;
use std::os::unix::fs::{symlink, MetadataExt};

use super::*;

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// A directory beside the root, standing for the host.
    outside: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(dir.path()).unwrap().join("root");
    let outside = fs::canonicalize(dir.path()).unwrap().join("host");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("real/dir")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret"), "host secret").unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    fs::write(root.join("real/dir/file"), "inside").unwrap();
    // Absolute links to the host's paths, and relative ones that climb.
    symlink(&outside, root.join("abs-host")).unwrap();
    symlink(outside.join("secret"), root.join("etc/passwd")).unwrap();
    symlink("../../../../../../../..", root.join("real/up")).unwrap();
    symlink("/real/dir", root.join("to-dir")).unwrap();
    symlink("to-dir", root.join("chain")).unwrap();
    symlink("loop-b", root.join("loop-a")).unwrap();
    symlink("loop-a", root.join("loop-b")).unwrap();
    symlink("/nowhere/new", root.join("dangling")).unwrap();
    Tree {
        _dir: dir,
        root,
        outside,
    }
}

/// (path, follow, where it must resolve inside the root, or None for an error)
fn cases(t: &Tree) -> Vec<(String, Follow, Option<String>)> {
    let host = t.outside.display().to_string();
    vec![
        (
            "/real/dir/file".into(),
            Follow::All,
            Some("/real/dir/file".into()),
        ),
        (
            "/abs-host".into(),
            Follow::NotLast,
            Some("/abs-host".into()),
        ),
        // The host directory's path, looked up inside the root: not there.
        ("/abs-host/secret".into(), Follow::All, None),
        ("/etc/passwd".into(), Follow::All, None),
        ("/real/up".into(), Follow::All, Some("/".into())),
        (
            "/real/up/etc/group".into(),
            Follow::All,
            Some("/etc/group".into()),
        ),
        (
            "/../../../etc/group".into(),
            Follow::All,
            Some("/etc/group".into()),
        ),
        (
            "/chain/file".into(),
            Follow::All,
            Some("/real/dir/file".into()),
        ),
        ("/chain".into(), Follow::NotLast, Some("/chain".into())),
        ("/loop-a/x".into(), Follow::All, None),
        (format!("{host}/secret"), Follow::All, None),
    ]
}

#[test]
fn both_resolvers_keep_every_case_inside() {
    let t = tree();
    let root = RootDir::open(&t.root).unwrap();
    let under = |p: &Path| t.root.join(p.strip_prefix("/").unwrap_or(p));
    for (path, follow, want) in cases(&t) {
        let got = root.resolve(&path, follow);
        let mapped = resolve_mapped(&path, follow, &under);
        match want {
            Some(inside) => {
                assert_eq!(got.unwrap(), under(Path::new(&inside)), "{path}");
                assert_eq!(mapped.unwrap(), PathBuf::from(&inside), "{path} (mapped)");
            }
            None => {
                let e = got.unwrap_err();
                assert!(
                    matches!(e, RootPathError::NotFound(_) | RootPathError::Loop(_)),
                    "{path}: {e}"
                );
                // The walker names the in-root path; it never leaves the root.
                if let Ok(p) = mapped {
                    assert!(!under(&p).exists(), "{path} -> {}", p.display());
                }
            }
        }
    }
}

#[test]
fn loops_are_refused() {
    let t = tree();
    let under = |p: &Path| t.root.join(p.strip_prefix("/").unwrap_or(p));
    let e = resolve_mapped("/loop-a", Follow::All, &under).unwrap_err();
    assert!(matches!(e, RootPathError::Loop(_)), "{e}");
    let e = RootDir::open(&t.root)
        .unwrap()
        .resolve("/loop-a", Follow::All)
        .unwrap_err();
    assert!(matches!(e, RootPathError::Loop(_)), "{e}");
}

#[test]
fn reads_never_leave_the_root() {
    let t = tree();
    let root = RootDir::open(&t.root).unwrap();
    // /etc/passwd links to the host's secret: inside the root it is missing.
    assert_eq!(root.read("/etc/passwd", 1 << 20).unwrap(), None);
    assert_eq!(
        root.read("/real/up/etc/group", 1 << 20).unwrap().unwrap(),
        b"root:x:0:\n"
    );
    // A FIFO would block the daemon for ever; a big file would eat its memory.
    nix_mkfifo(&t.root.join("etc/fifo"));
    let e = root.read("/etc/fifo", 1 << 20).unwrap_err();
    assert!(matches!(e, RootPathError::NotRegular(_)), "{e}");
    let e = root.read("/real/dir", 1 << 20).unwrap_err();
    assert!(matches!(e, RootPathError::NotRegular(_)), "{e}");
    let e = root.read("/real/dir/file", 3).unwrap_err();
    assert!(matches!(e, RootPathError::TooLarge { .. }), "{e}");
    let e = root.read("/etc/gr\0oup", 10).unwrap_err();
    assert!(matches!(e, RootPathError::Invalid(_)), "{e}");
}

fn nix_mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

#[test]
fn mkdir_all_creates_inside_and_chowns_only_what_it_made() {
    let t = tree();
    let root = RootDir::open(&t.root).unwrap();
    let before = fs::read_dir(&t.outside).unwrap().count();
    // Through an absolute link to the host directory: made inside the root.
    let got = root
        .mkdir_all("/abs-host/made", 0o755, Some((4242, 4242)))
        .unwrap();
    assert!(got.starts_with(&t.root), "{}", got.display());
    assert_eq!(fs::read_dir(&t.outside).unwrap().count(), before);
    // Climbing out with `..`, through a dangling link, through a relative link.
    for (path, inside) in [
        ("/../../../../tmp/x", "tmp/x"),
        ("/dangling/deeper", "nowhere/new/deeper"),
        ("/real/up/climbed", "climbed"),
    ] {
        let got = root.mkdir_all(path, 0o755, Some((4242, 4242))).unwrap();
        assert_eq!(got, t.root.join(inside), "{path}");
        assert_eq!(fs::metadata(&got).unwrap().uid(), 4242, "{path}");
    }
    // Existing directories keep their owner.
    let existing = t.root.join("real/dir");
    let uid = fs::metadata(&existing).unwrap().uid();
    root.mkdir_all("/real/dir/new", 0o755, Some((4242, 4242)))
        .unwrap();
    assert_eq!(fs::metadata(&existing).unwrap().uid(), uid);
    assert_eq!(
        fs::metadata(t.root.join("real/dir/new")).unwrap().uid(),
        4242
    );
    // A file in the way is an error, not a replacement.
    let e = root
        .mkdir_all("/real/dir/file/sub", 0o755, None)
        .unwrap_err();
    assert!(
        matches!(e, RootPathError::NotDirectory(_) | RootPathError::Io { .. }),
        "{e}"
    );
    assert!(root.mkdir_all("/a\0b", 0o755, None).is_err());
}

#[test]
fn clean_is_lexical_like_go() {
    for (raw, want) in [
        ("/", "/"),
        ("", "/"),
        ("/a/./b//c/", "/a/b/c"),
        ("/../../../../tmp/x", "/tmp/x"),
        ("/a/b/../../..", "/"),
        ("relative/../x", "/x"),
    ] {
        assert_eq!(clean(raw).unwrap(), want, "{raw}");
    }
    assert!(matches!(clean("/a\0b"), Err(RootPathError::Invalid(_))));
}

#[test]
fn mount_points_follow_dangling_links_inside() {
    let t = tree();
    let root = RootDir::open(&t.root).unwrap();
    symlink(t.outside.join("hostname"), t.root.join("etc/hostname")).unwrap();
    let got = root.mount_point("/etc/hostname", false).unwrap();
    assert!(got.starts_with(&t.root), "{}", got.display());
    assert!(got.is_file());
    assert!(!t.outside.join("hostname").exists());
    // An existing file is kept as it is; a directory is made through links.
    assert_eq!(root.mount_point("/etc/hostname", false).unwrap(), got);
    let d = root.mount_point("/abs-host/vol", true).unwrap();
    assert!(d.starts_with(&t.root) && d.is_dir());
    assert_eq!(fs::read_dir(&t.outside).unwrap().count(), 1);
}

#[test]
fn lstat_beneath_follows_no_link() {
    let t = tree();
    assert!(lstat_beneath(&t.root, "/real/dir/file").unwrap().is_file());
    assert!(lstat_beneath(&t.root, "to-dir")
        .unwrap()
        .file_type()
        .is_symlink());
    // Through a link: the layer does not have it, whatever the link points at.
    assert!(lstat_beneath(&t.root, "/abs-host/secret").is_none());
    assert!(lstat_beneath(&t.root, "/chain/file").is_none());
    assert!(lstat_beneath(&t.root, "/real/../etc/group").is_none());
}

#[test]
fn entries_are_read_through_one_descriptor() {
    let t = tree();
    let root = RootDir::open(&t.root).unwrap();
    let mut e = root.entry("/real/dir/file").unwrap();
    let mut text = String::new();
    e.file.take().unwrap().read_to_string(&mut text).unwrap();
    assert_eq!(text, "inside");
    let link = root.entry("/etc/passwd").unwrap();
    assert!(link.meta.file_type().is_symlink());
    assert_eq!(link.link.unwrap(), t.outside.join("secret"));
    // Through a link to a directory: resolved inside, never to the host.
    assert!(matches!(
        root.entry("/abs-host/secret"),
        Err(RootPathError::NotFound(_))
    ));
    assert!(root.entry("/real/dir").unwrap().meta.is_dir());
}
