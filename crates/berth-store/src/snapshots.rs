//! Unpacked layers under `snapshots/<diff-id hex>/`, one directory per layer,
//! used read-only as overlayfs lower dirs. A layer that is already there is
//! not unpacked again: that is the dedupe between images that share a base.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::archive::decompress;
use crate::blobs::{BlobStore, ContentStore};
use crate::digest::{BackgroundBlob, Digest, TeeReader};
use crate::error::{Result, StoreError};
use crate::layer::unpack_layer;

pub struct Snapshots {
    root: PathBuf,
}

/// The result of bringing one layer into the store.
#[derive(Debug)]
pub struct IngestedLayer {
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar (kept as a blob for `save` and `push`).
    pub tar_size: u64,
    /// Bytes of file content once unpacked.
    pub content_size: u64,
    /// True when this call created the snapshot (false: it was shared).
    pub created_snapshot: bool,
    pub created_blob: bool,
}

impl Snapshots {
    pub fn open(data_root: &Path) -> Result<Snapshots> {
        let root = data_root.join("snapshots");
        fs::create_dir_all(&root).map_err(StoreError::io("create snapshots dir"))?;
        Ok(Snapshots { root })
    }

    pub fn path(&self, diff_id: &Digest) -> PathBuf {
        self.root.join(diff_id.hex())
    }

    pub fn exists(&self, diff_id: &Digest) -> bool {
        self.path(diff_id).is_dir()
    }

    /// An empty directory used as the lower dir of an image with no layers.
    pub fn empty_dir(&self) -> Result<PathBuf> {
        let p = self.root.join("empty");
        fs::create_dir_all(&p).map_err(StoreError::io("create empty snapshot"))?;
        Ok(p)
    }

    /// Unpacks a (possibly compressed) layer, stores its uncompressed tar as a
    /// blob and its files as a snapshot. `expected` is the diff ID the image
    /// config promises; a mismatch fails and leaves nothing behind.
    pub fn ingest(
        &self,
        blobs: &BlobStore,
        layer: impl Read,
        expected: Option<&Digest>,
    ) -> Result<IngestedLayer> {
        let tmp_dir = self.root.join(format!("tmp-{}", rand::random::<u64>()));
        let tmp_blob = blobs.temp_path("layer");
        let result = self.ingest_into(blobs, layer, expected, &tmp_dir, &tmp_blob);
        if tmp_dir.exists() {
            let _ = fs::remove_dir_all(&tmp_dir);
        }
        let _ = fs::remove_file(&tmp_blob);
        result
    }

    fn ingest_into(
        &self,
        blobs: &BlobStore,
        layer: impl Read,
        expected: Option<&Digest>,
        tmp_dir: &Path,
        tmp_blob: &Path,
    ) -> Result<IngestedLayer> {
        fs::create_dir(tmp_dir).map_err(StoreError::io("create snapshot"))?;
        let copy = File::create(tmp_blob).map_err(StoreError::io("create layer blob"))?;
        let mut tee = TeeReader {
            inner: decompress(layer)?,
            copy: BackgroundBlob::start(copy),
        };
        let unpacked = unpack_layer(&mut tee, tmp_dir);
        // A tar has padding after its end marker: it belongs to the digest too.
        let drained = unpacked
            .is_ok()
            .then(|| std::io::copy(&mut tee, &mut std::io::sink()));
        let hashed = tee.copy.finish().map_err(StoreError::io("hash layer"));
        let unpacked = unpacked?;
        if let Some(Err(e)) = drained {
            return Err(StoreError::Invalid(format!(
                "layer stream is truncated: {e}"
            )));
        }
        let (diff_id, tar_size) = hashed?;
        if let Some(e) = expected {
            if *e != diff_id {
                return Err(StoreError::Invalid(format!(
                    "layer digest mismatch: the image config says {e}, the layer hashes to {diff_id}"
                )));
            }
        }
        let created_blob = !blobs.exists(&diff_id);
        if created_blob {
            fs::rename(tmp_blob, blobs.path(&diff_id))
                .map_err(StoreError::io("store layer blob"))?;
        }
        let dest = self.path(&diff_id);
        let created_snapshot = !dest.exists();
        if created_snapshot {
            fs::rename(tmp_dir, &dest).map_err(StoreError::io("commit snapshot"))?;
        }
        Ok(IngestedLayer {
            diff_id,
            tar_size,
            content_size: unpacked.content_size,
            created_snapshot,
            created_blob,
        })
    }

    pub fn remove(&self, diff_id: &Digest) -> Result<()> {
        let p = self.path(diff_id);
        if p.exists() {
            fs::remove_dir_all(&p).map_err(StoreError::io(format!("remove snapshot {diff_id}")))?;
        }
        // Its chowned copies for remapped containers go with it.
        for e in fs::read_dir(self.remapped_root())
            .into_iter()
            .flatten()
            .flatten()
        {
            let copy = e.path().join(diff_id.hex());
            if copy.exists() {
                fs::remove_dir_all(&copy).map_err(StoreError::io(format!(
                    "remove remapped snapshot {diff_id}"
                )))?;
            }
        }
        Ok(())
    }

    fn remapped_root(&self) -> PathBuf {
        self.root.with_file_name("snapshots-remapped")
    }

    /// A copy of the snapshot (or empty dir) at `dir` whose owners are shifted
    /// by `map` (host IDs for the container's IDs), for kernels without idmapped
    /// layers; made once per mapping (`key`) and kept beside the snapshots.
    pub fn remapped<F>(&self, dir: &Path, key: &str, map: &F) -> Result<PathBuf>
    where
        F: Fn(u32, u32) -> Option<(u32, u32)>,
    {
        let name = dir
            .file_name()
            .ok_or_else(|| StoreError::Invalid(format!("not a snapshot: {}", dir.display())))?;
        let base = self.remapped_root().join(key);
        let out = base.join(name);
        if out.is_dir() {
            return Ok(out);
        }
        fs::create_dir_all(&base).map_err(StoreError::io("create remapped snapshots dir"))?;
        let tmp = base.join(format!(".tmp-{}", hex::encode(rand::random::<[u8; 8]>())));
        let made = crate::layer::copy_shifted(dir, &tmp, map).and_then(|_| {
            fs::rename(&tmp, &out).map_err(StoreError::io("rename remapped snapshot"))
        });
        if made.is_err() {
            let _ = fs::remove_dir_all(&tmp);
            // Another start made the same copy meanwhile: theirs is as good.
            if out.is_dir() {
                return Ok(out);
            }
        }
        made.map(|_| out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, p, *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn ingest_dedupes_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let snaps = Snapshots::open(dir.path()).unwrap();
        let t = layer(&[("a", b"1")]);
        let first = snaps.ingest(&blobs, &t[..], None).unwrap();
        assert!(first.created_snapshot && first.created_blob);
        assert_eq!(first.diff_id, Digest::of(&t));
        let again = snaps.ingest(&blobs, &t[..], Some(&first.diff_id)).unwrap();
        assert!(!again.created_snapshot && !again.created_blob);

        // gzip-compressed input gives the same diff ID.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &t).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(
            snaps.ingest(&blobs, &gz[..], None).unwrap().diff_id,
            first.diff_id
        );

        let other = layer(&[("b", b"2")]);
        let e = snaps
            .ingest(&blobs, &other[..], Some(&first.diff_id))
            .unwrap_err();
        assert!(e.to_string().contains("mismatch"));
        assert!(!snaps.exists(&Digest::of(&other)));
        assert!(!blobs.exists(&Digest::of(&other)));
        // No temporary leftovers.
        let names: Vec<_> = fs::read_dir(dir.path().join("snapshots"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
