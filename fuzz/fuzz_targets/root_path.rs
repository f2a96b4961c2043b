//! Paths resolved inside a container's root: the lexical clean and the
//! userspace walk never leave the root, whatever the path.
#![no_main]
use std::path::{Path, PathBuf};

use berth_rootpath::{clean, resolve_mapped, Follow};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    if let Ok(c) = clean(path) {
        assert!(c.starts_with('/') && !c.split('/').any(|p| p == ".."), "{c}");
    }
    // A root that does not exist: nothing is a link, the walk is lexical.
    let root = Path::new("/nonexistent-berth-fuzz-root");
    let host = |p: &Path| -> PathBuf { root.join(p.strip_prefix("/").unwrap_or(p)) };
    for follow in [Follow::All, Follow::NotLast] {
        if let Ok(inside) = resolve_mapped(path, follow, &host) {
            assert!(inside.is_absolute());
            assert!(host(&inside).starts_with(root));
        }
    }
});
