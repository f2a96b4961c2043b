//! Content-addressed blobs under `blobs/sha256/<hex>`. A blob is written to a
//! temporary file, verified against its digest, then renamed into place, so a
//! reader never sees a partial or wrong blob.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingReader};
use crate::error::{Result, StoreError};

/// What the rest of Berth needs from a content store. Kept narrow so that
/// every implementation can pass the same conformance suite (`tests` below).
pub trait ContentStore {
    /// Stores bytes whose digest, when given, must match.
    fn put(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest>;
    /// Moves a finished file into the store under the digest it hashes to.
    fn adopt(&self, file: &Path, expected: Option<&Digest>) -> Result<(Digest, u64)>;
    fn read(&self, digest: &Digest) -> Result<Vec<u8>>;
    fn path(&self, digest: &Digest) -> PathBuf;
    fn exists(&self, digest: &Digest) -> bool;
    fn delete(&self, digest: &Digest) -> Result<()>;
}

pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    pub fn open(data_root: &Path) -> Result<BlobStore> {
        let root = data_root.join("blobs/sha256");
        let tmp = data_root.join("tmp");
        for d in [&root, &tmp] {
            fs::create_dir_all(d).map_err(StoreError::io(format!("create {}", d.display())))?;
        }
        Ok(BlobStore { root, tmp })
    }

    /// A scratch file on the same file system, for writers that rename into the store.
    pub fn temp_path(&self, what: &str) -> PathBuf {
        self.tmp.join(format!("{what}-{}", rand::random::<u64>()))
    }

    fn check(actual: &Digest, expected: Option<&Digest>) -> Result<()> {
        match expected {
            Some(e) if e != actual => Err(StoreError::Invalid(format!(
                "digest mismatch: expected {e}, content hashes to {actual}"
            ))),
            _ => Ok(()),
        }
    }
}

impl ContentStore for BlobStore {
    fn put(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let d = Digest::of(bytes);
        Self::check(&d, expected)?;
        let dest = self.path(&d);
        if dest.exists() {
            return Ok(d);
        }
        let tmp = self.temp_path("blob");
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_data()?;
            fs::rename(&tmp, &dest)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            StoreError::io(format!("write blob {d}"))(e)
        })?;
        Ok(d)
    }

    fn adopt(&self, file: &Path, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let f = File::open(file).map_err(StoreError::io(format!("open {}", file.display())))?;
        let (d, n) = HashingReader::new(f)
            .finish()
            .map_err(StoreError::io("hash blob"))?;
        Self::check(&d, expected)?;
        fs::rename(file, self.path(&d)).map_err(StoreError::io(format!("store blob {d}")))?;
        Ok((d, n))
    }

    fn read(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        File::open(self.path(digest))
            .and_then(|mut f| f.read_to_end(&mut out))
            .map_err(|_| StoreError::NotFound(format!("blob {digest} not found")))?;
        // Verify on read too: a blob damaged on disk must not be served as valid.
        Self::check(&Digest::of(&out), Some(digest))?;
        Ok(out)
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join(digest.hex())
    }

    fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).exists()
    }

    fn delete(&self, digest: &Digest) -> Result<()> {
        match fs::remove_file(self.path(digest)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(format!("delete blob {digest}"))(e)),
        }
    }
}

/// The conformance suite every `ContentStore` must pass.
#[cfg(test)]
pub(crate) fn content_store_suite(store: &dyn ContentStore, scratch: &Path) {
    let d = store.put(b"hello", None).unwrap();
    assert_eq!(d, Digest::of(b"hello"));
    assert!(store.exists(&d));
    assert_eq!(store.read(&d).unwrap(), b"hello");
    // Idempotent.
    assert_eq!(store.put(b"hello", Some(&d)).unwrap(), d);
    // Wrong digest: rejected, nothing stored.
    let wrong = Digest::of(b"other");
    assert!(matches!(
        store.put(b"evil", Some(&wrong)),
        Err(StoreError::Invalid(_))
    ));
    assert!(!store.exists(&Digest::of(b"evil")));
    // Adopt a file.
    let f = scratch.join("f");
    fs::write(&f, b"file content").unwrap();
    let (fd, n) = store.adopt(&f, Some(&Digest::of(b"file content"))).unwrap();
    assert_eq!(n, 12);
    assert_eq!(store.read(&fd).unwrap(), b"file content");
    fs::write(&f, b"x").unwrap();
    assert!(store.adopt(&f, Some(&wrong)).is_err());
    // Delete.
    store.delete(&d).unwrap();
    assert!(!store.exists(&d));
    assert!(matches!(store.read(&d), Err(StoreError::NotFound(_))));
    store.delete(&d).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        content_store_suite(&store, dir.path());
    }

    #[test]
    fn damaged_blob_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let d = store.put(b"good", None).unwrap();
        fs::write(store.path(&d), b"bad!").unwrap();
        assert!(store.read(&d).is_err());
    }
}
