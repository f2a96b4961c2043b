//! `berth registry gc`: removes the blobs no manifest references.
//!
//! Mark: every manifest of every repository (with `delete_untagged`, only
//! those reachable from a tag, through indexes and referrers) marks itself,
//! its config, its layers and its child manifests. Sweep: every unmarked blob
//! goes, and so do repository links to it. The caller holds the storage lock
//! alone (see `serve::StorageLock`), so no upload is between its blob and
//! the manifest that will reference it, which is how gc loses data elsewhere.

use std::collections::HashSet;
use std::fs;

use serde_json::Value;

use crate::error::{RegistryError, Result};
use crate::storage::{parse_digest, Storage};

#[derive(Debug, Default)]
pub struct Report {
    /// `repo@sha256:…` of the untagged manifests removed.
    pub manifests: Vec<String>,
    /// Digests of the blobs removed.
    pub blobs: Vec<String>,
    pub bytes: u64,
    /// Uploads abandoned for longer than the age given, removed.
    pub uploads: Vec<String>,
}

fn list(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn io(e: std::io::Error) -> RegistryError {
    RegistryError::Internal(format!("gc: {e}"))
}

/// The digests (hex) a manifest's descriptors name, by field.
fn named(doc: &Value, field: &str) -> Vec<String> {
    let descriptors = match &doc[field] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![doc[field].clone()],
        _ => vec![],
    };
    descriptors
        .iter()
        .filter_map(|d| d["digest"].as_str())
        .filter_map(|d| parse_digest(d).ok())
        .collect()
}

/// What gc is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Also remove manifests no tag reaches (and what only they reference).
    pub delete_untagged: bool,
    /// Say what would go; remove nothing.
    pub dry_run: bool,
    /// Uploads whose data has not changed for this long are abandoned (as
    /// Distribution's upload purging: a week by default).
    pub upload_age: std::time::Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            delete_untagged: false,
            dry_run: false,
            upload_age: std::time::Duration::from_secs(7 * 24 * 3600),
        }
    }
}

pub fn collect(storage: &Storage, o: &Options) -> Result<Report> {
    let (delete_untagged, dry_run) = (o.delete_untagged, o.dry_run);
    let mut report = Report::default();
    let uploads = storage.root.join("uploads");
    for uuid in list(&uploads) {
        let age = fs::metadata(uploads.join(&uuid).join("data"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if age.is_some_and(|a| a > o.upload_age) {
            report.uploads.push(uuid.clone());
            if !dry_run {
                fs::remove_dir_all(uploads.join(&uuid)).map_err(io)?;
            }
        }
    }
    let mut marked: HashSet<String> = HashSet::new();
    let doc_of = |hex: &str| -> Value {
        fs::read(storage.blob_path(hex))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    };
    for repo in storage.catalog() {
        let mdir = storage.repo(&repo).join("_manifests/sha256");
        let all: Vec<String> = list(&mdir);
        let keep: HashSet<String> = if delete_untagged {
            let mut keep: HashSet<String> = list(&storage.repo(&repo).join("_tags"))
                .iter()
                .filter_map(|t| fs::read_to_string(storage.repo(&repo).join("_tags").join(t)).ok())
                .filter_map(|d| parse_digest(d.trim()).ok())
                .collect();
            // Children of kept indexes and referrers of kept manifests, to a fixpoint.
            loop {
                let before = keep.len();
                for hex in &all {
                    let doc = doc_of(hex);
                    if keep.contains(hex) {
                        keep.extend(named(&doc, "manifests"));
                    } else if doc["subject"]["digest"]
                        .as_str()
                        .and_then(|d| parse_digest(d).ok())
                        .is_some_and(|s| keep.contains(&s))
                    {
                        keep.insert(hex.clone());
                    }
                }
                if keep.len() == before {
                    break keep;
                }
            }
        } else {
            all.iter().cloned().collect()
        };
        for hex in &all {
            if !keep.contains(hex) {
                report.manifests.push(format!("{repo}@sha256:{hex}"));
                if !dry_run {
                    fs::remove_file(mdir.join(hex)).map_err(io)?;
                }
                continue;
            }
            let doc = doc_of(hex);
            marked.insert(hex.clone());
            for field in ["config", "layers", "manifests"] {
                marked.extend(named(&doc, field));
            }
        }
    }
    let blobs = storage.root.join("blobs/sha256");
    let mut gone = HashSet::new();
    for hex in list(&blobs) {
        if marked.contains(&hex) {
            continue;
        }
        let path = blobs.join(&hex);
        report.bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        report.blobs.push(format!("sha256:{hex}"));
        if !dry_run {
            fs::remove_file(&path).map_err(io)?;
        }
        gone.insert(hex);
    }
    if !dry_run {
        for repo in storage.catalog() {
            let ldir = storage.repo(&repo).join("_layers/sha256");
            for hex in list(&ldir) {
                if gone.contains(&hex) {
                    fs::remove_file(ldir.join(&hex)).map_err(io)?;
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST};
    use sha2::{Digest as _, Sha256};

    fn blob(s: &Storage, repo: &str, bytes: &[u8]) -> String {
        let u = s.start_upload(repo).unwrap();
        fs::write(s.upload_data(&u).unwrap(), bytes).unwrap();
        let d = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        s.finish_upload(repo, &u, &d).unwrap();
        d
    }

    fn manifest(s: &Storage, repo: &str, tag: &str, layer: &[u8]) -> String {
        let config = blob(s, repo, b"{}");
        let layer = blob(s, repo, layer);
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer.len()}]});
        let bytes = serde_json::to_vec(&m).unwrap();
        s.put_manifest(repo, tag, &bytes, MEDIA_OCI_MANIFEST)
            .unwrap()
            .0
    }

    #[test]
    fn removes_only_what_nothing_references() {
        let d = tempfile::tempdir().unwrap();
        let s = Storage::open(d.path()).unwrap();
        let tagged = manifest(&s, "a", "v1", b"kept layer");
        let untagged = {
            let m = manifest(&s, "b", "tmp", b"untagged layer");
            s.delete_manifest("b", "tmp").unwrap();
            m
        };
        let orphan = blob(&s, "a", b"orphan upload");
        // Untagged itself, but named by a tagged index.
        let indexed = {
            let m = manifest(&s, "c", "one", b"index child layer");
            let idx = serde_json::json!({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX,
                "manifests": [{"mediaType": MEDIA_OCI_MANIFEST, "digest": m, "size": 1}]});
            s.put_manifest(
                "c",
                "multi",
                &serde_json::to_vec(&idx).unwrap(),
                MEDIA_OCI_INDEX,
            )
            .unwrap();
            s.delete_manifest("c", "one").unwrap();
            m
        };

        let opts = |delete_untagged, dry_run| Options {
            delete_untagged,
            dry_run,
            ..Default::default()
        };
        let dry = collect(&s, &opts(true, true)).unwrap();
        assert!(dry.blobs.contains(&orphan));
        assert!(
            s.blob_path(&orphan[7..]).exists(),
            "a dry run removes nothing"
        );

        let r = collect(&s, &opts(false, false)).unwrap();
        assert_eq!(r.blobs, vec![orphan.clone()]);
        assert!(r.manifests.is_empty());
        assert!(!s.blob_path(&orphan[7..]).exists());
        assert!(
            s.blob_size("a", &orphan[7..]).is_none(),
            "the link went too"
        );
        assert!(
            s.get_manifest("b", &untagged).is_ok(),
            "untagged kept by default"
        );

        let r = collect(&s, &opts(true, false)).unwrap();
        assert_eq!(r.manifests, vec![format!("b@{untagged}")]);
        assert!(s.get_manifest("b", &untagged).is_err());
        assert!(r
            .blobs
            .iter()
            .any(|b| b == &format!("sha256:{}", hex::encode(Sha256::digest(b"untagged layer")))));
        // What tags reach, directly or through an index, stays.
        assert!(s.get_manifest("a", "v1").is_ok());
        assert!(s.get_manifest("c", &indexed).is_ok());
        let kept = hex::encode(Sha256::digest(b"index child layer"));
        assert!(s.blob_size("c", &kept).is_some());
        assert!(s.get_manifest("a", &tagged).is_ok());
        let config = hex::encode(Sha256::digest(b"{}"));
        assert!(
            s.blob_path(&config).exists(),
            "a config still referenced stays"
        );
    }

    #[test]
    fn abandoned_uploads_go_recent_ones_stay() {
        let d = tempfile::tempdir().unwrap();
        let s = Storage::open(d.path()).unwrap();
        let old = s.start_upload("a").unwrap();
        let fresh = s.start_upload("a").unwrap();
        let week_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(8 * 24 * 3600);
        fs::File::options()
            .write(true)
            .open(s.upload_data(&old).unwrap())
            .unwrap()
            .set_modified(week_ago)
            .unwrap();
        let r = collect(&s, &Options::default()).unwrap();
        assert_eq!(r.uploads, vec![old.clone()]);
        assert!(s.upload_state(&old).is_err());
        assert!(s.upload_state(&fresh).is_ok());
    }
}
