//! What registries hold of an image: its digests there, and where each of
//! its layers is a blob already (for cross-repository mounts and skipped uploads).

use super::*;

impl ImageStore {
    /// Records that `image_id` is `reference` (`repo@sha256:…`) in a registry.
    pub fn add_repo_digest(&self, image_id: &Digest, reference: &str) -> Result<()> {
        self.db.lock().execute(
            "INSERT OR REPLACE INTO repo_digests (reference, image_id) VALUES (?1, ?2)",
            params![reference, image_id.as_str()],
        )?;
        Ok(())
    }

    /// The image's `repo@sha256:…` references, sorted.
    pub fn repo_digests(&self, image_id: &Digest) -> Result<Vec<String>> {
        let conn = self.db.read();
        let mut st = conn
            .prepare("SELECT reference FROM repo_digests WHERE image_id = ?1 ORDER BY reference")?;
        let out = st
            .query_map(params![image_id.as_str()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    /// Records that a registry's repository holds layer `diff_id` as `blob`.
    pub fn add_layer_blob(&self, diff_id: &Digest, registry: &str, blob: &LayerBlob) -> Result<()> {
        self.db.lock().execute(
            "INSERT OR REPLACE INTO layer_blobs (diff_id, registry, repository, digest, media_type, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![diff_id.as_str(), registry, blob.repository, blob.digest, blob.media_type, blob.size as i64],
        )?;
        Ok(())
    }

    /// The blobs `registry` is known to hold layer `diff_id` as.
    pub fn layer_blobs(&self, diff_id: &Digest, registry: &str) -> Result<Vec<LayerBlob>> {
        let conn = self.db.read();
        let mut st = conn.prepare(
            "SELECT repository, digest, media_type, size FROM layer_blobs WHERE diff_id = ?1 AND registry = ?2 ORDER BY repository, digest",
        )?;
        let out = st
            .query_map(params![diff_id.as_str(), registry], |r| {
                Ok(LayerBlob {
                    repository: r.get(0)?,
                    digest: r.get(1)?,
                    media_type: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }
}
