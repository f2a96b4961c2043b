//! Images in and out as archives: `import` of a rootfs tar, `load` and
//! `save` of docker-save and OCI layout archives.

use super::*;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

impl ImageStore {
    /// `POST /images/create?fromSrc=-`: one rootfs tar becomes a one-layer image.
    pub fn import(
        &self,
        rootfs: impl Read,
        config: ImageRuntimeConfig,
        comment: &str,
        tag: Option<&ImageRef>,
    ) -> Result<ImageRecord> {
        let mut undo = Undo::default();
        let r = (|| {
            let layer = self.snapshots.ingest(&self.blobs, rootfs, None)?;
            undo.record(&layer);
            let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            let cfg = ImageConfigFile {
                created: Some(created.clone()),
                architecture: berth_api::version::host_arch().into(),
                os: "linux".into(),
                config,
                rootfs: RootFs {
                    kind: "layers".into(),
                    diff_ids: vec![layer.diff_id.to_string()],
                },
                history: vec![HistoryEntry {
                    created: Some(created),
                    created_by: None,
                    comment: Some(if comment.is_empty() {
                        "Imported from -".into()
                    } else {
                        comment.into()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let raw = serde_json::to_vec(&cfg).map_err(|e| StoreError::Invalid(e.to_string()))?;
            self.commit_image(
                &raw,
                std::slice::from_ref(&layer),
                tag.into_iter().cloned().collect::<Vec<_>>().as_slice(),
                &mut undo,
            )
        })();
        if r.is_err() {
            undo.run(self);
        }
        r
    }

    /// `docker load`: a `docker save` archive, legacy `manifest.json` or OCI
    /// `index.json` layout. Returns the lines docker prints ("Loaded image: …").
    pub fn load(&self, archive: impl Read) -> Result<Vec<String>> {
        let dir = self.scratch_dir()?;
        let mut undo = Undo::default();
        let r = self.load_from(archive, &dir, &mut undo);
        let _ = fs::remove_dir_all(&dir);
        if r.is_err() {
            undo.run(self);
        }
        r
    }

    fn load_from(&self, archive: impl Read, dir: &Path, undo: &mut Undo) -> Result<Vec<String>> {
        let mut outer = decompress(archive)?;
        unpack_layer(&mut outer, dir).map_err(|e| match e {
            StoreError::Invalid(m) => StoreError::Invalid(format!("invalid image archive: {m}")),
            other => other,
        })?;
        let entries: Vec<SaveManifestEntry> = if dir.join("manifest.json").exists() {
            let raw = fs::read(resolve_inside(dir, "manifest.json")?)
                .map_err(StoreError::io("read manifest.json"))?;
            serde_json::from_slice(&raw)
                .map_err(|e| StoreError::Invalid(format!("invalid manifest.json: {e}")))?
        } else if dir.join("index.json").exists() {
            self.entries_from_oci_index(dir)?
        } else {
            return Err(StoreError::Invalid(
                "invalid image archive: no manifest.json or index.json".into(),
            ));
        };
        if entries.is_empty() {
            return Err(StoreError::Invalid(
                "invalid image archive: manifest lists no images".into(),
            ));
        }
        let mut messages = Vec::new();
        for e in entries {
            let config_raw =
                fs::read(resolve_inside(dir, &e.config)?).map_err(StoreError::io("read config"))?;
            let config: ImageConfigFile = serde_json::from_slice(&config_raw).map_err(|er| {
                StoreError::Invalid(format!("invalid image config {}: {er}", e.config))
            })?;
            // A config named after its digest must hash to it.
            if let Some(hex) = Path::new(&e.config)
                .file_name()
                .and_then(|n| n.to_str())
                .map(|n| n.trim_end_matches(".json"))
            {
                if hex.len() == 64
                    && hex.bytes().all(|c| c.is_ascii_hexdigit())
                    && Digest::of(&config_raw).hex() != hex
                {
                    return Err(StoreError::Invalid(format!(
                        "digest mismatch: config {} hashes to {}",
                        e.config,
                        Digest::of(&config_raw)
                    )));
                }
            }
            if config.rootfs.diff_ids.len() != e.layers.len() {
                return Err(StoreError::Invalid(format!(
                    "image config lists {} layers, manifest.json lists {}",
                    config.rootfs.diff_ids.len(),
                    e.layers.len()
                )));
            }
            let mut layers = Vec::new();
            for (path, want) in e.layers.iter().zip(&config.rootfs.diff_ids) {
                let want = Digest::parse(want)?;
                let f =
                    File::open(resolve_inside(dir, path)?).map_err(StoreError::io("open layer"))?;
                let l = self.snapshots.ingest(&self.blobs, f, Some(&want))?;
                undo.record(&l);
                layers.push(l);
            }
            let tags = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| ImageRef::parse(t).map_err(|er| StoreError::Invalid(er.message)))
                .collect::<Result<Vec<_>>>()?;
            let rec = self.commit_image(&config_raw, &layers, &tags, undo)?;
            if tags.is_empty() {
                messages.push(format!("Loaded image ID: {}", rec.id));
            }
            for t in tags {
                messages.push(format!("Loaded image: {}", t.familiar()));
            }
        }
        Ok(messages)
    }

    fn entries_from_oci_index(&self, dir: &Path) -> Result<Vec<SaveManifestEntry>> {
        let read_json = |rel: &str| -> Result<serde_json::Value> {
            let raw = fs::read(resolve_inside(dir, rel)?)
                .map_err(StoreError::io(format!("read {rel}")))?;
            serde_json::from_slice(&raw)
                .map_err(|e| StoreError::Invalid(format!("invalid {rel}: {e}")))
        };
        let blob_path = |d: &serde_json::Value| -> Result<String> {
            let d = Digest::parse(d.as_str().unwrap_or_default())?;
            Ok(format!("blobs/sha256/{}", d.hex()))
        };
        let index = read_json("index.json")?;
        let mut out = Vec::new();
        for m in index["manifests"].as_array().into_iter().flatten() {
            let manifest_path = blob_path(&m["digest"])?;
            let raw = fs::read(resolve_inside(dir, &manifest_path)?)
                .map_err(StoreError::io("read manifest"))?;
            if Digest::of(&raw).as_str() != m["digest"].as_str().unwrap_or_default() {
                return Err(StoreError::Invalid(format!(
                    "digest mismatch for manifest {}",
                    m["digest"]
                )));
            }
            let manifest: serde_json::Value = serde_json::from_slice(&raw)
                .map_err(|e| StoreError::Invalid(format!("invalid manifest: {e}")))?;
            let name = m["annotations"]["io.containerd.image.name"]
                .as_str()
                .or(m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .filter(|s| s.contains(':')));
            out.push(SaveManifestEntry {
                config: blob_path(&manifest["config"]["digest"])?,
                repo_tags: name.map(|n| vec![n.to_string()]),
                layers: manifest["layers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|l| blob_path(&l["digest"]))
                    .collect::<Result<_>>()?,
            });
        }
        Ok(out)
    }

    /// `docker save`: writes both the OCI layout (`index.json`) and the legacy
    /// `manifest.json`, as Docker 25+ does.
    pub fn save(&self, names: &[String], out: impl Write) -> Result<()> {
        let mut images: Vec<(ImageRecord, Vec<String>)> = Vec::new();
        for n in names {
            let rec = self.resolve(n)?;
            let tag = ImageRef::parse(n)
                .ok()
                .filter(|r| rec.tags.contains(&r.canonical()));
            match images.iter_mut().find(|(r, _)| r.id == rec.id) {
                Some((_, tags)) => tags.extend(tag.map(|t| t.familiar())),
                None => images.push((rec, tag.map(|t| t.familiar()).into_iter().collect())),
            }
        }
        let mut tar = tar::Builder::new(out);
        let mut written = std::collections::HashSet::new();
        let add = |tar: &mut tar::Builder<_>, path: String, data: &[u8]| -> Result<()> {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            tar.append_data(&mut h, path, data)
                .map_err(StoreError::io("write archive"))
        };
        let mut legacy = Vec::new();
        let mut index = Vec::new();
        for (rec, tags) in &images {
            for d in std::iter::once(&rec.id)
                .chain(std::iter::once(&rec.manifest_digest))
                .chain(&rec.layers)
            {
                if written.insert(d.clone()) {
                    let mut h = tar::Header::new_ustar();
                    let path = self.blobs.path(d);
                    let len = fs::metadata(&path)
                        .map_err(StoreError::io(format!("blob {d}")))?
                        .len();
                    h.set_size(len);
                    h.set_mode(0o644);
                    h.set_mtime(0);
                    let f = File::open(&path).map_err(StoreError::io(format!("blob {d}")))?;
                    tar.append_data(&mut h, format!("blobs/sha256/{}", d.hex()), f)
                        .map_err(StoreError::io("write archive"))?;
                }
            }
            legacy.push(json!({
                "Config": format!("blobs/sha256/{}", rec.id.hex()),
                "RepoTags": tags,
                "Layers": rec.layers.iter().map(|l| format!("blobs/sha256/{}", l.hex())).collect::<Vec<_>>(),
            }));
            let manifest_len = fs::metadata(self.blobs.path(&rec.manifest_digest))
                .map(|m| m.len())
                .unwrap_or(0);
            let descriptor = |annotations: serde_json::Value| json!({"mediaType": MEDIA_OCI_MANIFEST, "digest": rec.manifest_digest.as_str(), "size": manifest_len, "annotations": annotations});
            if tags.is_empty() {
                index.push(descriptor(json!({})));
            }
            for t in tags {
                let r = ImageRef::parse(t).map_err(|e| StoreError::Invalid(e.message))?;
                index.push(descriptor(json!({
                    "io.containerd.image.name": r.canonical(),
                    "org.opencontainers.image.ref.name": r.tag.clone().unwrap_or_default(),
                })));
            }
        }
        let enc = |v: &serde_json::Value| {
            serde_json::to_vec(v).map_err(|e| StoreError::Invalid(e.to_string()))
        };
        add(
            &mut tar,
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        add(
            &mut tar,
            "index.json".into(),
            &enc(
                &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index}),
            )?,
        )?;
        add(
            &mut tar,
            "manifest.json".into(),
            &enc(&serde_json::Value::Array(legacy))?,
        )?;
        tar.into_inner()
            .map_err(StoreError::io("finish archive"))?
            .flush()
            .map_err(StoreError::io("flush archive"))?;
        Ok(())
    }
}
