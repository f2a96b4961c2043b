//! Images: lookup, commit, tag, remove, list, history, prune; import,
//! load and save in `archives`, the build cache in `build_cache`, what
//! registries hold of them in `distribution`.
//! Every operation either lands whole or leaves the store as it was: blobs
//! and snapshots created by a failed operation are removed again.

mod archives;
mod build_cache;
mod distribution;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_api::types::{
    HistoryEntry, ImageConfigFile, ImageDeleteItem, ImageRuntimeConfig, RootFs,
};
use berth_api::ImageRef;
use rusqlite::{params, OptionalExtension};
use serde::Deserialize;
use serde_json::json;

use crate::archive::{decompress, resolve_inside};
use crate::blobs::{BlobStore, ContentStore};
use crate::digest::Digest;
use crate::error::{Result, StoreError};
use crate::layer::unpack_layer;
use crate::metadata::Metadata;
use crate::snapshots::{IngestedLayer, Snapshots};

pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// A layer as a registry's repository holds it: a blob, perhaps compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    pub repository: String,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

/// One cached build step (`system df`'s build cache).
#[derive(Debug, Clone, PartialEq)]
pub struct BuildCacheEntry {
    /// The step's image.
    pub id: String,
    /// The image it was made from ("" for scratch).
    pub parent: String,
    /// The step, as its history has it.
    pub description: String,
    /// Unix seconds.
    pub created: i64,
    /// Bytes of the layer the step added; 0 for a step that only changed the config.
    pub size: i64,
}

#[derive(Debug, Clone)]
pub struct ImageRecord {
    pub id: Digest,
    pub manifest_digest: Digest,
    pub config: ImageConfigFile,
    /// Sum of the layers' unpacked content.
    pub size: i64,
    /// Unix seconds from the config's `created`.
    pub created: i64,
    /// Canonical references (`docker.io/library/busybox:latest`).
    pub tags: Vec<String>,
    pub layers: Vec<Digest>,
}

impl ImageRecord {
    pub fn familiar_tags(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter_map(|t| ImageRef::parse(t).ok())
            .map(|r| r.familiar())
            .collect()
    }
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config.config.labels.clone().unwrap_or_default()
    }
}

/// Who uses an image, so `remove` can refuse: (container id, running).
pub type ImageUsers<'a> = &'a dyn Fn(&str) -> Option<(String, bool)>;

pub struct ImageStore {
    pub blobs: BlobStore,
    pub snapshots: Snapshots,
    /// The image tables; containers, networks and volumes are the
    /// [`crate::Store`]'s, over the same database.
    pub(crate) db: Arc<Metadata>,
    tmp: PathBuf,
}

/// What a failed operation must take back.
#[derive(Default)]
struct Undo {
    snapshots: Vec<Digest>,
    blobs: Vec<Digest>,
}

impl Undo {
    fn record(&mut self, l: &IngestedLayer) {
        if l.created_snapshot {
            self.snapshots.push(l.diff_id.clone());
        }
        if l.created_blob {
            self.blobs.push(l.diff_id.clone());
        }
    }
    fn run(self, store: &ImageStore) {
        for s in self.snapshots {
            let _ = store.snapshots.remove(&s);
        }
        for b in self.blobs {
            let _ = store.blobs.delete(&b);
        }
    }
}

fn parse_time(s: Option<&str>) -> i64 {
    s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl ImageStore {
    pub fn open(data_root: &Path) -> Result<ImageStore> {
        fs::create_dir_all(data_root).map_err(StoreError::io("create data root"))?;
        let db = Arc::new(Metadata::open(&data_root.join("metadata.db"))?);
        ImageStore::open_with(data_root, db)
    }

    pub(crate) fn open_with(data_root: &Path, db: Arc<Metadata>) -> Result<ImageStore> {
        let blobs = BlobStore::open(data_root)?;
        let snapshots = Snapshots::open(data_root)?;
        let tmp = data_root.join("tmp");
        // Scratch from a crash is garbage by definition.
        if let Ok(rd) = fs::read_dir(&tmp) {
            for e in rd.flatten() {
                let _ = fs::remove_dir_all(e.path()).or_else(|_| fs::remove_file(e.path()));
            }
        }
        let store = ImageStore {
            blobs,
            snapshots,
            db,
            tmp,
        };
        store.remove_unreferenced_snapshot_dirs();
        Ok(store)
    }

    fn remove_unreferenced_snapshot_dirs(&self) {
        if let Ok(rd) = fs::read_dir(
            self.snapshots
                .path(&Digest::of(b""))
                .parent()
                .unwrap_or(Path::new("/")),
        ) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with("tmp-") {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
    }

    fn scratch_dir(&self) -> Result<PathBuf> {
        let d = self.tmp.join(format!("work-{}", rand::random::<u64>()));
        fs::create_dir_all(&d).map_err(StoreError::io("create scratch dir"))?;
        Ok(d)
    }

    // ---- lookup ----

    fn record_by_id(&self, id: &str) -> Result<Option<ImageRecord>> {
        let reader = self.db.read();
        // One snapshot for the three queries (a read transaction, rolled back).
        let conn = reader.unchecked_transaction()?;
        let row: Option<(String, String, i64, i64)> = conn
            .query_row(
                "SELECT manifest_digest, config, size, created FROM images WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((manifest, config, size, created)) = row else {
            return Ok(None);
        };
        let mut st = conn.prepare(
            "SELECT reference FROM tags WHERE image_id = ?1 ORDER BY tagged_at, reference",
        )?;
        let tags = st
            .query_map(params![id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut st =
            conn.prepare("SELECT diff_id FROM image_layers WHERE image_id = ?1 ORDER BY idx")?;
        let layers = st
            .query_map(params![id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|d| Digest::parse(&d))
            .collect::<Result<Vec<_>>>()?;
        let config: ImageConfigFile = serde_json::from_str(&config)
            .map_err(|e| StoreError::Invalid(format!("stored config of {id}: {e}")))?;
        Ok(Some(ImageRecord {
            id: Digest::parse(id)?,
            manifest_digest: Digest::parse(&manifest)?,
            config,
            size,
            created,
            tags,
            layers,
        }))
    }

    /// Finds an image by reference, full ID, or unique ID prefix, as docker does.
    pub fn resolve(&self, name: &str) -> Result<ImageRecord> {
        let looks_like_id = {
            let hex = name.strip_prefix("sha256:").unwrap_or(name);
            !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit())
        };
        let parsed = ImageRef::parse(name);
        // dockerd names what it did not find with the tag it assumed.
        let tagless = !name.contains('@') && !name.rsplit('/').next().unwrap_or("").contains(':');
        let shown = if parsed.is_ok() && tagless && !looks_like_id {
            format!("{name}:latest")
        } else {
            name.to_string()
        };
        let not_found = || StoreError::NotFound(format!("No such image: {shown}"));
        if let (Err(e), false) = (&parsed, looks_like_id) {
            return Err(StoreError::Invalid(e.message.clone()));
        }
        if let Ok(r) = parsed {
            // `repo@sha256:…` is a RepoDigest; anything else, a tag.
            let (table, key) = match &r.digest {
                Some(d) => ("repo_digests", format!("{}@{d}", r.repository())),
                None => ("tags", r.canonical()),
            };
            let id: Option<String> = self
                .db
                .lock()
                .query_row(
                    &format!("SELECT image_id FROM {table} WHERE reference = ?1"),
                    params![key],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = id {
                return self.record_by_id(&id)?.ok_or_else(not_found);
            }
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 4 && hex.len() <= 64 && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            let ids: Vec<String> = {
                let conn = self.db.read();
                let mut st = conn.prepare("SELECT id FROM images WHERE id LIKE ?1")?;
                let rows = st.query_map(params![format!("sha256:{hex}%")], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            match ids.len() {
                1 => return self.record_by_id(&ids[0])?.ok_or_else(not_found),
                0 => {}
                _ => {
                    return Err(StoreError::NotFound(format!(
                        "No such image: {name} (ambiguous prefix)"
                    )))
                }
            }
        }
        Err(not_found())
    }

    pub fn list(&self) -> Result<Vec<ImageRecord>> {
        let ids: Vec<String> = {
            let conn = self.db.read();
            let mut st =
                conn.prepare("SELECT id FROM images ORDER BY created DESC, loaded_at DESC")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        Ok(ids
            .iter()
            .filter_map(|id| self.record_by_id(id).ok().flatten())
            .collect())
    }

    /// The image's snapshot directories, top layer first (overlayfs order).
    pub fn lower_dirs(&self, image: &ImageRecord) -> Result<Vec<PathBuf>> {
        self.layer_dirs(&image.layers)
    }

    /// The snapshot directories of `layers` (bottom first), top first; an
    /// empty directory for none (overlayfs needs a lower dir).
    pub fn layer_dirs(&self, layers: &[Digest]) -> Result<Vec<PathBuf>> {
        if layers.is_empty() {
            return Ok(vec![self.snapshots.empty_dir()?]);
        }
        Ok(layers
            .iter()
            .rev()
            .map(|d| self.snapshots.path(d))
            .collect())
    }

    /// Bytes of unpacked layers on disk, each shared layer once.
    pub fn layers_size(&self) -> Result<i64> {
        Ok(self.db.read().query_row(
            "SELECT COALESCE(SUM(content_size), 0) FROM layers",
            [],
            |r| r.get(0),
        )?)
    }

    /// Bytes an image shares with other images.
    pub fn shared_size(&self, image: &ImageRecord) -> Result<i64> {
        Ok(self.db.read().query_row(
            "SELECT COALESCE(SUM(l.content_size), 0) FROM layers l WHERE l.diff_id IN
               (SELECT diff_id FROM image_layers WHERE image_id = ?1)
             AND (SELECT COUNT(DISTINCT image_id) FROM image_layers x WHERE x.diff_id = l.diff_id) > 1",
            params![image.id.as_str()],
            |r| r.get(0),
        )?)
    }

    // ---- creating images ----

    /// Writes the config and a generated OCI manifest and records the image,
    /// in one transaction, tagging it with `tags` (moved from any other image).
    fn commit_image(
        &self,
        config_raw: &[u8],
        layers: &[IngestedLayer],
        tags: &[ImageRef],
        undo: &mut Undo,
    ) -> Result<ImageRecord> {
        let config: ImageConfigFile = serde_json::from_slice(config_raw)
            .map_err(|e| StoreError::Invalid(format!("invalid image config: {e}")))?;
        if config.rootfs.diff_ids.len() != layers.len() {
            return Err(StoreError::Invalid(format!(
                "image config lists {} layers, the archive has {}",
                config.rootfs.diff_ids.len(),
                layers.len()
            )));
        }
        let config_new = !self.blobs.exists(&Digest::of(config_raw));
        let id = self.blobs.put(config_raw, None)?;
        if config_new {
            undo.blobs.push(id.clone());
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_OCI_MANIFEST,
            "config": {"mediaType": MEDIA_OCI_CONFIG, "digest": id.as_str(), "size": config_raw.len()},
            "layers": layers.iter().map(|l| json!({
                "mediaType": MEDIA_OCI_LAYER, "digest": l.diff_id.as_str(), "size": l.tar_size
            })).collect::<Vec<_>>(),
        });
        let manifest_raw =
            serde_json::to_vec(&manifest).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let manifest_new = !self.blobs.exists(&Digest::of(&manifest_raw));
        let manifest_digest = self.blobs.put(&manifest_raw, None)?;
        if manifest_new {
            undo.blobs.push(manifest_digest.clone());
        }
        let size: u64 = layers.iter().map(|l| l.content_size).sum();
        let created = parse_time(config.created.as_deref());
        let config_text = String::from_utf8_lossy(config_raw).into_owned();
        self.db.transaction(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO images (id, manifest_digest, config, size, created, loaded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id.as_str(), manifest_digest.as_str(), config_text, size as i64, created, now()],
            )?;
            for (i, l) in layers.iter().enumerate() {
                tx.execute(
                    "INSERT OR IGNORE INTO layers (diff_id, tar_size, content_size) VALUES (?1, ?2, ?3)",
                    params![l.diff_id.as_str(), l.tar_size as i64, l.content_size as i64],
                )?;
                tx.execute(
                    "INSERT OR IGNORE INTO image_layers (image_id, idx, diff_id) VALUES (?1, ?2, ?3)",
                    params![id.as_str(), i as i64, l.diff_id.as_str()],
                )?;
            }
            for t in tags {
                tx.execute(
                    "INSERT OR REPLACE INTO tags (reference, image_id, tagged_at) VALUES (?1, ?2, ?3)",
                    params![t.canonical(), id.as_str(), now()],
                )?;
            }
            Ok(())
        })?;
        self.record_by_id(id.as_str())?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))
    }

    /// `docker commit` and build steps: the base layers plus, if given, one
    /// new layer (an uncompressed tar of a container's changes), under `config`.
    pub fn commit(
        &self,
        base_layers: &[Digest],
        layer: Option<&mut dyn Read>,
        mut config: ImageConfigFile,
        tag: Option<&ImageRef>,
    ) -> Result<ImageRecord> {
        let mut undo = Undo::default();
        let r = (|| {
            let mut layers = Vec::new();
            for d in base_layers {
                layers.push(
                    self.known_layer(d)?
                        .ok_or_else(|| StoreError::NotFound(format!("layer {d}")))?,
                );
            }
            if let Some(layer) = layer {
                let new = self.snapshots.ingest(&self.blobs, layer, None)?;
                undo.record(&new);
                layers.push(new);
            }
            config.rootfs.diff_ids = layers.iter().map(|l| l.diff_id.to_string()).collect();
            let raw =
                serde_json::to_vec(&config).map_err(|e| StoreError::Invalid(e.to_string()))?;
            self.commit_image(
                &raw,
                &layers,
                tag.into_iter().cloned().collect::<Vec<_>>().as_slice(),
                &mut undo,
            )
        })();
        if r.is_err() {
            undo.run(self);
        }
        r
    }

    /// A layer the store has already (a pull skips downloading it).
    pub fn known_layer(&self, diff_id: &Digest) -> Result<Option<IngestedLayer>> {
        let row: Option<(i64, i64)> = self
            .db
            .lock()
            .query_row(
                "SELECT tar_size, content_size FROM layers WHERE diff_id = ?1",
                params![diff_id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row
            .filter(|_| self.snapshots.exists(diff_id))
            .map(|(tar_size, content_size)| IngestedLayer {
                diff_id: diff_id.clone(),
                tar_size: tar_size as u64,
                content_size: content_size as u64,
                created_snapshot: false,
                created_blob: false,
            }))
    }

    /// A pulled image: the config as the registry sent it and its layers,
    /// ingested (or known) already. Layers created for it go if this fails.
    pub fn commit_pulled(
        &self,
        config_raw: &[u8],
        layers: &[IngestedLayer],
        tag: Option<&ImageRef>,
    ) -> Result<ImageRecord> {
        let mut undo = Undo::default();
        for l in layers {
            undo.record(l);
        }
        let r = self.commit_image(
            config_raw,
            layers,
            tag.into_iter().cloned().collect::<Vec<_>>().as_slice(),
            &mut undo,
        );
        if r.is_err() {
            undo.run(self);
        }
        r
    }

    // ---- tags and removal ----

    pub fn tag(&self, source: &str, target: &ImageRef) -> Result<()> {
        let rec = self.resolve(source)?;
        if target.digest.is_some() {
            return Err(StoreError::Invalid(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        self.db.lock().execute(
            "INSERT OR REPLACE INTO tags (reference, image_id, tagged_at) VALUES (?1, ?2, ?3)",
            params![target.canonical(), rec.id.as_str(), now()],
        )?;
        Ok(())
    }

    /// `docker rmi`: untags a reference, and deletes the image when nothing
    /// refers to it any more; refuses (409) when a container uses it, unless forced.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        users: ImageUsers,
    ) -> Result<Vec<ImageDeleteItem>> {
        let rec = self.resolve(name)?;
        let by_ref = ImageRef::parse(name)
            .ok()
            .map(|r| r.canonical())
            .filter(|c| rec.tags.contains(c));
        let short = &rec.id.hex()[..12];
        let user = users(rec.id.as_str());
        let mut out = Vec::new();
        let untag = |reference: &str, out: &mut Vec<ImageDeleteItem>| -> Result<()> {
            self.db
                .lock()
                .execute("DELETE FROM tags WHERE reference = ?1", params![reference])?;
            let familiar = ImageRef::parse(reference)
                .map(|r| r.familiar())
                .unwrap_or_else(|_| reference.to_string());
            out.push(ImageDeleteItem {
                untagged: Some(familiar),
                deleted: None,
            });
            Ok(())
        };
        if let Some(reference) = by_ref {
            if rec.tags.len() > 1 {
                untag(&reference, &mut out)?;
                return Ok(out);
            }
            if let Some((cid, _)) = &user {
                if !force {
                    return Err(StoreError::Conflict(format!(
                        "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {short}",
                        &cid[..12.min(cid.len())]
                    )));
                }
                untag(&reference, &mut out)?;
                return Ok(out);
            }
            untag(&reference, &mut out)?;
        } else {
            if let Some((cid, running)) = &user {
                let state = if *running { "running" } else { "stopped" };
                if *running || !force {
                    let forced = if *running {
                        "cannot be forced"
                    } else {
                        "must be forced"
                    };
                    return Err(StoreError::Conflict(format!(
                        "conflict: unable to delete {short} ({forced}) - image is being used by {state} container {}",
                        &cid[..12.min(cid.len())]
                    )));
                }
            }
            if rec.tags.len() > 1 && !force {
                return Err(StoreError::Conflict(format!(
                    "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
                )));
            }
            for t in &rec.tags {
                untag(t, &mut out)?;
            }
            if user.is_some() {
                return Ok(out);
            }
        }
        let mut parent = self.parent_of(rec.id.as_str())?;
        self.delete_image(&rec)?;
        out.push(ImageDeleteItem {
            untagged: None,
            deleted: Some(rec.id.to_string()),
        });
        // The build steps below it go too, while no tag, container or other step needs them.
        while let Some(p) = parent {
            let Some(prec) = self.record_by_id(&p)? else {
                break;
            };
            if !prec.tags.is_empty() || self.is_intermediate(&prec)? || users(&p).is_some() {
                break;
            }
            parent = self.parent_of(&p)?;
            self.delete_image(&prec)?;
            out.push(ImageDeleteItem {
                untagged: None,
                deleted: Some(p),
            });
        }
        Ok(out)
    }

    /// Drops an image row and every blob and snapshot nothing else uses.
    fn delete_image(&self, rec: &ImageRecord) -> Result<()> {
        let orphans: Vec<String> = self.db.transaction(|tx| {
            tx.execute("DELETE FROM tags WHERE image_id = ?1", params![rec.id.as_str()])?;
            tx.execute("DELETE FROM repo_digests WHERE image_id = ?1", params![rec.id.as_str()])?;
            tx.execute("DELETE FROM image_layers WHERE image_id = ?1", params![rec.id.as_str()])?;
            tx.execute("DELETE FROM images WHERE id = ?1", params![rec.id.as_str()])?;
            let mut st = tx.prepare("SELECT diff_id FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)")?;
            let orphans = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            tx.execute("DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)", [])?;
            Ok(orphans)
        })?;
        let manifest_shared: bool = self.db.lock().query_row(
            "SELECT COUNT(*) > 0 FROM images WHERE manifest_digest = ?1",
            params![rec.manifest_digest.as_str()],
            |r| r.get(0),
        )?;
        if !manifest_shared {
            self.blobs.delete(&rec.manifest_digest)?;
        }
        self.blobs.delete(&rec.id)?;
        for o in orphans {
            let d = Digest::parse(&o)?;
            self.snapshots.remove(&d)?;
            self.blobs.delete(&d)?;
        }
        Ok(())
    }

    /// `docker image prune`: dangling images (or all unused with `all`)
    /// that no container uses.
    pub fn prune(
        &self,
        all: bool,
        keep: &dyn Fn(&ImageRecord) -> bool,
        users: ImageUsers,
    ) -> Result<(Vec<ImageDeleteItem>, i64)> {
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        let before = self.layers_size()?;
        for rec in self.list()? {
            if (!all && !rec.tags.is_empty())
                || users(rec.id.as_str()).is_some()
                || !keep(&rec)
                || self.is_intermediate(&rec)?
            {
                continue;
            }
            for t in &rec.tags {
                self.db
                    .lock()
                    .execute("DELETE FROM tags WHERE reference = ?1", params![t])?;
                let familiar = ImageRef::parse(t)
                    .map(|r| r.familiar())
                    .unwrap_or_else(|_| t.clone());
                deleted.push(ImageDeleteItem {
                    untagged: Some(familiar),
                    deleted: None,
                });
            }
            self.delete_image(&rec)?;
            deleted.push(ImageDeleteItem {
                untagged: None,
                deleted: Some(rec.id.to_string()),
            });
        }
        reclaimed += before - self.layers_size()?;
        Ok((deleted, reclaimed))
    }

    /// `docker history`: newest first, with the layer each step made.
    pub fn history(&self, rec: &ImageRecord) -> Result<Vec<(HistoryEntry, Option<i64>)>> {
        let sizes: HashMap<String, i64> = {
            let conn = self.db.read();
            let mut st = conn.prepare("SELECT diff_id, content_size FROM layers")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut layers = rec.layers.iter();
        let mut out = Vec::new();
        let history = if rec.config.history.is_empty() {
            rec.layers.iter().map(|_| HistoryEntry::default()).collect()
        } else {
            rec.config.history.clone()
        };
        for h in history {
            let size = if h.empty_layer {
                None
            } else {
                layers.next().and_then(|l| sizes.get(l.as_str()).copied())
            };
            out.push((h, size));
        }
        out.reverse();
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
