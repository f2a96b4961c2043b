//! The registry's files. Blobs are stored once, by digest, and shared by
//! every repository that links them; manifests are blobs too. Every write
//! lands in a temporary file first and is renamed into place, so a reader
//! never sees half a blob and a crash leaves only temporaries (removed at start).
//!
//! ```text
//! DIR/blobs/sha256/<hex>                          content
//! DIR/repositories/<name>/_layers/sha256/<hex>    the repository may serve this blob
//! DIR/repositories/<name>/_manifests/sha256/<hex> a manifest of the repository (holds its media type)
//! DIR/repositories/<name>/_tags/<tag>             the digest the tag points at
//! DIR/uploads/<uuid>/{name,data}                  uploads in progress (resumable)
//! DIR/tmp/                                        files being written
//! ```

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::error::{RegistryError, Result};

pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Manifests larger than this are refused (the spec asks for at least 4 MB).
pub const MAX_MANIFEST: usize = 4 * 1024 * 1024;

/// `sha256:<64 hex>`; other algorithms are refused.
pub fn parse_digest(s: &str) -> Result<String> {
    match s.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
        {
            Ok(hex.to_string())
        }
        _ => Err(RegistryError::DigestInvalid(format!(
            "invalid or unsupported digest {s:?}"
        ))),
    }
}

/// Repository names as the distribution spec defines them.
pub fn check_name(name: &str) -> Result<()> {
    let component = |c: &str| {
        let b = c.as_bytes();
        if b.is_empty() || !b[0].is_ascii_lowercase() && !b[0].is_ascii_digit() {
            return false;
        }
        if !b[b.len() - 1].is_ascii_lowercase() && !b[b.len() - 1].is_ascii_digit() {
            return false;
        }
        // Separators: ".", "_", "__" or any run of "-", between alphanumerics.
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_lowercase() || b[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !(b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) {
                i += 1;
            }
            let sep = &c[start..i];
            if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
                return false;
            }
        }
        true
    };
    if name.len() > 255 || name.is_empty() || !name.split('/').all(component) {
        return Err(RegistryError::NameInvalid(name.to_string()));
    }
    Ok(())
}

pub fn check_tag(tag: &str) -> Result<()> {
    let b = tag.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::ManifestInvalid(format!(
            "invalid tag {tag:?}"
        )))
    }
}

fn io(what: &str) -> impl Fn(io::Error) -> RegistryError + '_ {
    move |e| RegistryError::Internal(format!("{what}: {e}"))
}

pub struct Storage {
    pub(crate) root: PathBuf,
}

/// A manifest as stored: its bytes, media type and digest.
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

impl Storage {
    pub fn open(root: &Path) -> Result<Storage> {
        for d in ["blobs/sha256", "repositories", "uploads", "tmp"] {
            fs::create_dir_all(root.join(d)).map_err(io("create storage"))?;
        }
        // Half-written files from a crash are garbage by definition.
        if let Ok(rd) = fs::read_dir(root.join("tmp")) {
            for e in rd.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(Storage {
            root: root.to_path_buf(),
        })
    }

    pub(crate) fn repo(&self, name: &str) -> PathBuf {
        self.root.join("repositories").join(name)
    }

    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex)
    }

    fn temp(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{:016x}", rand::random::<u64>()))
    }

    /// Writes `bytes` to `path` through a temporary file and a rename.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = self.temp();
        let mut f = File::create(&tmp).map_err(io("write"))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(io("write"))?;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io("create dir"))?;
        }
        fs::rename(&tmp, path).map_err(io("rename"))
    }

    pub fn repo_exists(&self, name: &str) -> bool {
        self.repo(name).is_dir()
    }

    /// The size of a blob this repository may serve.
    pub fn blob_size(&self, name: &str, hex: &str) -> Option<u64> {
        if !self.repo(name).join("_layers/sha256").join(hex).exists() {
            return None;
        }
        fs::metadata(self.blob_path(hex)).ok().map(|m| m.len())
    }

    fn link_blob(&self, name: &str, hex: &str) -> Result<()> {
        let link = self.repo(name).join("_layers/sha256").join(hex);
        if !link.exists() {
            self.write_atomic(&link, b"")?;
        }
        Ok(())
    }

    /// Cross-repository mount: links a blob `from` has into `name`.
    pub fn mount(&self, name: &str, from: &str, hex: &str) -> Result<bool> {
        if self.blob_size(from, hex).is_none() {
            return Ok(false);
        }
        self.link_blob(name, hex)?;
        Ok(true)
    }

    /// Unlinks a blob from a repository (the content goes with garbage collection).
    pub fn delete_blob(&self, name: &str, hex: &str) -> Result<()> {
        fs::remove_file(self.repo(name).join("_layers/sha256").join(hex))
            .map_err(|_| RegistryError::BlobUnknown(format!("sha256:{hex}")))
    }

    // ---- uploads ----

    fn upload(&self, uuid: &str) -> Result<PathBuf> {
        if uuid.is_empty() || !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Err(RegistryError::UploadUnknown(uuid.to_string()));
        }
        let dir = self.root.join("uploads").join(uuid);
        if !dir.is_dir() {
            return Err(RegistryError::UploadUnknown(uuid.to_string()));
        }
        Ok(dir)
    }

    pub fn start_upload(&self, name: &str) -> Result<String> {
        let uuid = format!("{:032x}", rand::random::<u128>());
        let dir = self.root.join("uploads").join(&uuid);
        fs::create_dir_all(&dir).map_err(io("start upload"))?;
        fs::write(dir.join("name"), name).map_err(io("start upload"))?;
        File::create(dir.join("data")).map_err(io("start upload"))?;
        Ok(uuid)
    }

    /// The upload's repository and its size so far.
    pub fn upload_state(&self, uuid: &str) -> Result<(String, u64)> {
        let dir = self.upload(uuid)?;
        let name = fs::read_to_string(dir.join("name")).map_err(io("upload"))?;
        let size = fs::metadata(dir.join("data")).map_err(io("upload"))?.len();
        Ok((name, size))
    }

    pub fn upload_data(&self, uuid: &str) -> Result<PathBuf> {
        Ok(self.upload(uuid)?.join("data"))
    }

    pub fn cancel_upload(&self, uuid: &str) -> Result<()> {
        let dir = self.upload(uuid)?;
        fs::remove_dir_all(dir).map_err(io("cancel upload"))
    }

    /// Ends an upload: the data must hash to `digest`, else the upload is
    /// dropped and nothing is stored. The blob is then linked into `name`.
    pub fn finish_upload(&self, name: &str, uuid: &str, digest: &str) -> Result<()> {
        let hex = parse_digest(digest)?;
        let dir = self.upload(uuid)?;
        let data = dir.join("data");
        let mut f = File::open(&data).map_err(io("upload"))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(io("upload"))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        if hex::encode(h.finalize()) != hex {
            let _ = fs::remove_dir_all(&dir);
            return Err(RegistryError::DigestInvalid(format!(
                "the uploaded content does not match {digest}"
            )));
        }
        let target = self.blob_path(&hex);
        if target.exists() {
            fs::remove_dir_all(&dir).map_err(io("upload"))?;
        } else {
            fs::rename(&data, &target).map_err(io("store blob"))?;
            let _ = fs::remove_dir_all(&dir);
        }
        self.link_blob(name, &hex)
    }

    // ---- manifests ----

    /// Stores a manifest under a tag or its digest. Every blob and manifest it
    /// names must be in the repository already (the subject excepted).
    pub fn put_manifest(
        &self,
        name: &str,
        reference: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(String, Option<String>)> {
        if bytes.len() > MAX_MANIFEST {
            return Err(RegistryError::TooBig);
        }
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| RegistryError::ManifestInvalid(format!("not JSON: {e}")))?;
        let media_type = doc["mediaType"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| {
                content_type
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            });
        if doc["schemaVersion"].as_i64() != Some(2) {
            return Err(RegistryError::ManifestInvalid(
                "schemaVersion must be 2".into(),
            ));
        }
        let descriptors = |field: &str| -> Vec<Value> {
            match &doc[field] {
                Value::Array(a) => a.clone(),
                Value::Object(_) => vec![doc[field].clone()],
                _ => vec![],
            }
        };
        match media_type.as_str() {
            MEDIA_OCI_MANIFEST | MEDIA_DOCKER_MANIFEST => {
                if !doc["config"].is_object() {
                    return Err(RegistryError::ManifestInvalid(
                        "an image manifest needs a config".into(),
                    ));
                }
                for d in descriptors("config")
                    .into_iter()
                    .chain(descriptors("layers"))
                {
                    let digest = d["digest"].as_str().unwrap_or_default();
                    let hex = parse_digest(digest).map_err(|_| {
                        RegistryError::ManifestInvalid(format!("bad descriptor digest {digest:?}"))
                    })?;
                    if self.blob_size(name, &hex).is_none() {
                        return Err(RegistryError::ManifestBlobUnknown(digest.to_string()));
                    }
                }
            }
            MEDIA_OCI_INDEX | MEDIA_DOCKER_LIST => {
                for d in descriptors("manifests") {
                    let digest = d["digest"].as_str().unwrap_or_default();
                    let hex = parse_digest(digest).map_err(|_| {
                        RegistryError::ManifestInvalid(format!("bad descriptor digest {digest:?}"))
                    })?;
                    if !self
                        .repo(name)
                        .join("_manifests/sha256")
                        .join(&hex)
                        .exists()
                    {
                        return Err(RegistryError::ManifestBlobUnknown(digest.to_string()));
                    }
                }
            }
            other => {
                return Err(RegistryError::ManifestInvalid(format!(
                    "unsupported manifest type {other:?}"
                )))
            }
        }
        let hex = hex::encode(Sha256::digest(bytes));
        let digest = format!("sha256:{hex}");
        let tag = if reference.starts_with("sha256:") || reference.contains(':') {
            if parse_digest(reference)? != hex {
                return Err(RegistryError::DigestInvalid(format!(
                    "the manifest's digest is {digest}, not {reference}"
                )));
            }
            None
        } else {
            check_tag(reference)?;
            Some(reference.to_string())
        };
        if !self.blob_path(&hex).exists() {
            self.write_atomic(&self.blob_path(&hex), bytes)?;
        }
        self.write_atomic(
            &self.repo(name).join("_manifests/sha256").join(&hex),
            media_type.as_bytes(),
        )?;
        if let Some(t) = &tag {
            self.write_atomic(&self.repo(name).join("_tags").join(t), digest.as_bytes())?;
        }
        let subject = doc["subject"]["digest"].as_str().map(String::from);
        Ok((digest, subject))
    }

    /// Resolves a tag or digest to its stored digest (hex).
    fn manifest_hex(&self, name: &str, reference: &str) -> Result<String> {
        let unknown = || RegistryError::ManifestUnknown(reference.to_string());
        let hex = if reference.contains(':') {
            parse_digest(reference)?
        } else {
            check_tag(reference).map_err(|_| unknown())?;
            let d = fs::read_to_string(self.repo(name).join("_tags").join(reference))
                .map_err(|_| unknown())?;
            parse_digest(d.trim())?
        };
        if !self
            .repo(name)
            .join("_manifests/sha256")
            .join(&hex)
            .exists()
        {
            return Err(unknown());
        }
        Ok(hex)
    }

    pub fn get_manifest(&self, name: &str, reference: &str) -> Result<Manifest> {
        let hex = self.manifest_hex(name, reference)?;
        let media_type = fs::read_to_string(self.repo(name).join("_manifests/sha256").join(&hex))
            .map_err(io("manifest"))?;
        let bytes = fs::read(self.blob_path(&hex)).map_err(io("manifest"))?;
        Ok(Manifest {
            bytes,
            media_type,
            digest: format!("sha256:{hex}"),
        })
    }

    /// Deletes a manifest by digest (and the tags pointing at it), or a tag.
    pub fn delete_manifest(&self, name: &str, reference: &str) -> Result<()> {
        if !reference.contains(':') {
            check_tag(reference)?;
            return fs::remove_file(self.repo(name).join("_tags").join(reference))
                .map_err(|_| RegistryError::ManifestUnknown(reference.to_string()));
        }
        let hex = self.manifest_hex(name, reference)?;
        let digest = format!("sha256:{hex}");
        for t in self.tags(name)? {
            let p = self.repo(name).join("_tags").join(&t);
            if fs::read_to_string(&p).is_ok_and(|d| d.trim() == digest) {
                let _ = fs::remove_file(p);
            }
        }
        fs::remove_file(self.repo(name).join("_manifests/sha256").join(hex))
            .map_err(io("delete manifest"))
    }

    pub fn tags(&self, name: &str) -> Result<Vec<String>> {
        if !self.repo_exists(name) {
            return Err(RegistryError::NameUnknown(name.to_string()));
        }
        let mut tags: Vec<String> = fs::read_dir(self.repo(name).join("_tags"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        Ok(tags)
    }

    /// Every repository, sorted.
    pub fn catalog(&self) -> Vec<String> {
        let mut out = Vec::new();
        let base = self.root.join("repositories");
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with('_') || !e.path().is_dir() {
                    continue;
                }
                if e.path().join("_layers").is_dir() || e.path().join("_manifests").is_dir() {
                    out.push(
                        e.path()
                            .strip_prefix(&base)
                            .unwrap_or(&e.path())
                            .display()
                            .to_string(),
                    );
                }
                stack.push(e.path());
            }
        }
        out.sort();
        out
    }

    /// The manifests of `name` whose subject is `digest`, as index descriptors.
    pub fn referrers(
        &self,
        name: &str,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Value>> {
        parse_digest(digest)?;
        let mut out = Vec::new();
        let dir = self.repo(name).join("_manifests/sha256");
        for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let hex = e.file_name().to_string_lossy().into_owned();
            let Ok(bytes) = fs::read(self.blob_path(&hex)) else {
                continue;
            };
            let Ok(doc) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            if doc["subject"]["digest"].as_str() != Some(digest) {
                continue;
            }
            let media_type = fs::read_to_string(e.path()).unwrap_or_default();
            let at = doc["artifactType"]
                .as_str()
                .or_else(|| {
                    (media_type != MEDIA_OCI_INDEX)
                        .then(|| doc["config"]["mediaType"].as_str())
                        .flatten()
                })
                .map(String::from);
            if artifact_type.is_some_and(|want| at.as_deref() != Some(want)) {
                continue;
            }
            let mut d = serde_json::json!({"mediaType": media_type, "size": bytes.len(), "digest": format!("sha256:{hex}")});
            if let Some(at) = at {
                d["artifactType"] = at.into();
            }
            if doc["annotations"].is_object() {
                d["annotations"] = doc["annotations"].clone();
            }
            out.push(d);
        }
        out.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_digests_and_tags() {
        for ok in ["busybox", "library/busybox", "a/b-c/d_e.f", "x__y", "a--b"] {
            check_name(ok).unwrap();
        }
        for bad in [
            "", "Upper", "a/../b", "..", "a//b", "-a", "a-", "a/.b", "a b", "a/",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(parse_digest("sha256:abc").is_err());
        assert!(parse_digest(&format!("sha512:{}", "a".repeat(64))).is_err());
        assert!(parse_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
        parse_digest(&format!("sha256:{}", "a".repeat(64))).unwrap();
        assert!(
            check_tag("v1.0_rc-1").is_ok() && check_tag(".x").is_err() && check_tag("a/b").is_err()
        );
    }

    #[test]
    fn uploads_verify_and_manifests_need_their_blobs() {
        let d = tempfile::tempdir().unwrap();
        let s = Storage::open(d.path()).unwrap();
        let u = s.start_upload("repo").unwrap();
        fs::write(s.upload_data(&u).unwrap(), b"layer").unwrap();
        let wrong = format!("sha256:{}", hex::encode(Sha256::digest(b"other")));
        assert!(matches!(
            s.finish_upload("repo", &u, &wrong),
            Err(RegistryError::DigestInvalid(_))
        ));
        assert!(s.upload_state(&u).is_err(), "a failed upload is gone");
        assert!(
            fs::read_dir(d.path().join("blobs/sha256"))
                .unwrap()
                .next()
                .is_none(),
            "nothing stored"
        );

        let u = s.start_upload("repo").unwrap();
        fs::write(s.upload_data(&u).unwrap(), b"layer").unwrap();
        let layer = format!("sha256:{}", hex::encode(Sha256::digest(b"layer")));
        s.finish_upload("repo", &u, &layer).unwrap();
        let config = format!("sha256:{}", "c".repeat(64));
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 5}],
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        assert!(matches!(
            s.put_manifest("repo", "v1", &bytes, MEDIA_OCI_MANIFEST),
            Err(RegistryError::ManifestBlobUnknown(d)) if d == config
        ));
        assert!(s.mount("other", "repo", &layer[7..]).unwrap());
        assert!(!s.mount("other", "repo", &config[7..]).unwrap());
        assert!(s.tags("repo").unwrap().is_empty());
        assert!(matches!(
            s.put_manifest("repo", "v1", b"{not json", ""),
            Err(RegistryError::ManifestInvalid(_))
        ));
    }
}
