//! The build cache: which step made which image from which parent.

use super::*;

impl ImageStore {
    /// Records that the build step `key` made `image` from `parent` ("" for scratch).
    pub fn cache_put(&self, image: &Digest, parent: &str, key: &str) -> Result<()> {
        self.db.lock().execute(
            "INSERT OR REPLACE INTO build_cache (image_id, parent, key) VALUES (?1, ?2, ?3)",
            params![image.as_str(), parent, key],
        )?;
        Ok(())
    }

    /// The image an earlier build step `key` made from `parent`.
    pub fn cache_get(&self, parent: &str, key: &str) -> Result<Option<ImageRecord>> {
        let id: Option<String> = self
            .db
            .lock()
            .query_row(
                "SELECT image_id FROM build_cache WHERE parent = ?1 AND key = ?2",
                params![parent, key],
                |r| r.get(0),
            )
            .optional()?;
        match id {
            Some(id) => self.record_by_id(&id),
            None => Ok(None),
        }
    }

    /// The image a build step started from (Docker's `Parent`).
    pub fn parent_of(&self, id: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .lock()
            .query_row(
                "SELECT parent FROM build_cache WHERE image_id = ?1 AND parent != ''",
                params![id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// An untagged image other build steps started from: Docker's intermediate
    /// image, listed only with `docker images -a`.
    pub fn is_intermediate(&self, rec: &ImageRecord) -> Result<bool> {
        if !rec.tags.is_empty() {
            return Ok(false);
        }
        Ok(self.db.read().query_row(
            "SELECT COUNT(*) > 0 FROM build_cache WHERE parent = ?1",
            params![rec.id.as_str()],
            |r| r.get(0),
        )?)
    }

    /// The build cache as `system df` counts it: each cached step image no
    /// tag names, with what the step added (its own layer, if it made one).
    pub fn build_cache_entries(&self) -> Result<Vec<BuildCacheEntry>> {
        let rows: Vec<(String, String, i64, i64, i64)> = {
            let conn = self.db.read();
            let mut st = conn.prepare(
                "SELECT b.image_id, b.parent,
                    (SELECT COUNT(*) FROM image_layers WHERE image_id = b.image_id),
                    (SELECT COUNT(*) FROM image_layers WHERE image_id = b.parent),
                    COALESCE((SELECT l.content_size FROM image_layers il JOIN layers l ON l.diff_id = il.diff_id
                              WHERE il.image_id = b.image_id ORDER BY il.idx DESC LIMIT 1), 0)
                 FROM build_cache b
                 WHERE b.image_id NOT IN (SELECT image_id FROM tags)
                 ORDER BY b.image_id",
            )?;
            let rows = st.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for (id, parent, layers, parent_layers, top) in rows {
            let Some(rec) = self.record_by_id(&id)? else {
                continue;
            };
            out.push(BuildCacheEntry {
                description: rec
                    .config
                    .history
                    .last()
                    .and_then(|h| h.created_by.clone())
                    .unwrap_or_default(),
                created: rec.created,
                size: if layers > parent_layers { top } else { 0 },
                id,
                parent,
            });
        }
        Ok(out)
    }

    /// `POST /build/prune`: forgets every cached step and deletes the
    /// untagged step images nothing uses. Returns the deleted IDs and bytes freed.
    pub fn prune_build_cache(&self, users: ImageUsers) -> Result<(Vec<String>, i64)> {
        let before = self.layers_size()?;
        let ids: Vec<String> = {
            let conn = self.db.read();
            let mut st = conn.prepare(
                "SELECT image_id FROM build_cache WHERE image_id NOT IN (SELECT image_id FROM tags)",
            )?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut deleted = Vec::new();
        for id in ids {
            if users(&id).is_some() {
                continue;
            }
            if let Some(rec) = self.record_by_id(&id)? {
                self.delete_image(&rec)?;
                deleted.push(id);
            }
        }
        self.db.lock().execute("DELETE FROM build_cache", [])?;
        Ok((deleted, before - self.layers_size()?))
    }
}
