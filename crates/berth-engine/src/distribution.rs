//! `docker pull` and `docker push`: images between the store and a registry,
//! with Docker's progress messages. Pull: the manifest (an index picks this
//! host's platform), the config, then the layers in parallel, each verified
//! against its digest as it arrives and against the config's diff ID as it
//! is unpacked; a layer the store has is not fetched. Push: a layer the
//! repository has (as its tar, or as the blob a pull brought it as) is
//! skipped; one another repository of the registry holds is mounted from
//! there; the rest go up uncompressed in resumable chunks (their digest is
//! the diff ID); then the config, then the manifest, naming each layer as the
//! blob it is in that registry. Where layers are is remembered per registry.

use std::io::Write;
use std::sync::Arc;

use crate::Error;
use berth_api::ImageRef;
use berth_registry::client::{is_index, is_manifest, Client, Credentials};
use berth_store::blobs::ContentStore;
use berth_store::images::LayerBlob;
use berth_store::Digest;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc::UnboundedSender;

use crate::engine::Engine;
use crate::Result;

/// The host to reach for a registry as users name it: an image's domain, a
/// login's server, a `config.json` key (`https://index.docker.io/v1/`).
/// Docker Hub, whatever its name, is served by `registry-1.docker.io`.
pub(crate) fn registry_host(server: &str) -> String {
    let host = server
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .trim_end_matches("/v1")
        .trim_end_matches("/v2");
    match host {
        "docker.io" | "index.docker.io" => "registry-1.docker.io".to_string(),
        other => other.to_string(),
    }
}

/// Where a reference lives: (registry host, repository path).
fn registry_of(r: &ImageRef) -> (String, String) {
    (registry_host(&r.domain), r.path.clone())
}

/// The registries to try for `r`, in order: Docker Hub's mirrors first, then
/// its own registry.
fn sources(client: &Client, r: &ImageRef, registry: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if r.domain == "docker.io" {
        out.extend(client.settings().mirrors.iter().cloned());
    }
    out.push(registry.to_string());
    out
}

fn short(d: &str) -> String {
    d.trim_start_matches("sha256:").chars().take(12).collect()
}

fn upstream(e: impl std::fmt::Display) -> Error {
    Error::internal(e.to_string())
}

fn status(tx: &UnboundedSender<Value>, v: Value) {
    let _ = tx.send(v);
}

impl Engine {
    /// Pulls `reference` (a tag or digest) for `platform` (`os/arch`, default this host's).
    pub async fn pull_image(
        self: &Arc<Self>,
        reference: &str,
        platform: Option<&str>,
        credentials: Option<Credentials>,
        tx: UnboundedSender<Value>,
    ) -> Result<String> {
        let r = ImageRef::parse(reference)?;
        let (registry, repo) = registry_of(&r);
        let want_ref = r
            .digest
            .clone()
            .or_else(|| r.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let client = Arc::new(Client::new(self.config().registries.clone(), credentials));
        status(
            &tx,
            json!({"status": format!("Pulling from {}", r.path), "id": want_ref}),
        );
        // The first source that has it serves the pull.
        let mut found = None;
        let mut last_error = None;
        for c in sources(&client, &r, &registry) {
            match client.manifest(&c, &repo, &want_ref).await {
                Ok(f) => {
                    found = Some((c, f));
                    break;
                }
                Err(e) => {
                    tracing::debug!("pull {reference} from {c}: {e}");
                    last_error = Some(e);
                }
            }
        }
        let (registry, mut fetched) = match (found, last_error) {
            (Some(f), _) => f,
            (None, Some(e)) => return Err(pull_error(e)),
            (None, None) => return Err(Error::internal("no registry to pull from")),
        };
        // What was asked for: an index, when the image is multi-platform (as docker, RepoDigests holds it).
        let top_digest = format!("sha256:{}", hex::encode(Sha256::digest(&fetched.bytes)));
        if let Some(d) = &r.digest {
            if *d != top_digest {
                return Err(Error::bad_request(format!(
                    "manifest verification failed for digest {d}: the registry sent {top_digest}"
                )));
            }
        }
        if is_index(&fetched.media_type) {
            let index: Value = serde_json::from_slice(&fetched.bytes).map_err(upstream)?;
            let want = platform
                .map(String::from)
                .unwrap_or_else(|| format!("linux/{}", berth_api::version::host_arch()));
            let chosen = index["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| {
                    let p = &m["platform"];
                    let id = format!(
                        "{}/{}",
                        p["os"].as_str().unwrap_or(""),
                        p["architecture"].as_str().unwrap_or("")
                    );
                    let with_variant = p["variant"].as_str().map(|v| format!("{id}/{v}"));
                    id == want || with_variant.as_deref() == Some(want.as_str())
                })
                .and_then(|m| m["digest"].as_str().map(String::from))
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "no matching manifest for {want} in the manifest list entries"
                    ))
                })?;
            fetched = client
                .manifest(&registry, &repo, &chosen)
                .await
                .map_err(pull_error)?;
            let got = format!("sha256:{}", hex::encode(Sha256::digest(&fetched.bytes)));
            if got != chosen {
                return Err(Error::bad_request(format!(
                    "manifest {chosen} from the registry hashes to {got}"
                )));
            }
        }
        if !is_manifest(&fetched.media_type) {
            return Err(Error::bad_request(format!(
                "unsupported manifest type {:?} for {reference}",
                fetched.media_type
            )));
        }
        let manifest: Value = serde_json::from_slice(&fetched.bytes).map_err(upstream)?;
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let config_raw = fetch_verified(&client, &registry, &repo, &config_digest).await?;
        let config: berth_api::types::ImageConfigFile = serde_json::from_slice(&config_raw)
            .map_err(|e| {
                Error::bad_request(format!("the image config of {reference} is invalid: {e}"))
            })?;
        let layers: Vec<(LayerBlob, Digest)> = manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| LayerBlob {
                repository: repo.clone(),
                digest: l["digest"].as_str().unwrap_or_default().to_string(),
                media_type: oci_layer_type(l["mediaType"].as_str().unwrap_or_default()),
                size: l["size"].as_u64().unwrap_or(0),
            })
            .zip(config.rootfs.diff_ids.iter().map(|d| Digest::parse(d)))
            .map(|(blob, diff)| diff.map(|d| (blob, d)))
            .collect::<std::result::Result<_, _>>()
            .map_err(Error::from)?;
        if layers.len() != config.rootfs.diff_ids.len()
            || manifest["layers"].as_array().map(|a| a.len()) != Some(layers.len())
        {
            return Err(Error::bad_request(
                "the manifest and the image config list different numbers of layers",
            ));
        }
        // Layers in parallel, each into the store.
        let mut tasks = Vec::new();
        for layer in layers.clone() {
            let (engine, client, registry, repo, tx) = (
                self.clone(),
                client.clone(),
                registry.clone(),
                repo.clone(),
                tx.clone(),
            );
            tasks.push(tokio::spawn(async move {
                engine
                    .pull_layer(&client, &registry, &repo, &layer, &tx)
                    .await
            }));
        }
        let mut ingested = Vec::new();
        let mut failure = None;
        for t in tasks {
            match t.await.map_err(|e| Error::internal(e.to_string())) {
                Ok(Ok(l)) => ingested.push(l),
                Ok(Err(e)) | Err(e) => failure = failure.or(Some(e)),
            }
        }
        let images = self.images.clone();
        if let Some(e) = failure {
            // Layers this pull brought in go again; nothing refers to them.
            crate::blocking(move || {
                for l in ingested.iter().filter(|l| l.created_snapshot) {
                    let _ = images.snapshots.remove(&l.diff_id);
                }
                Ok(())
            })
            .await?;
            return Err(e);
        }
        let tag = (r.digest.is_none()).then(|| r.clone());
        let rec = crate::blocking(move || {
            images
                .commit_pulled(&config_raw, &ingested, tag.as_ref())
                .map_err(Error::from)
        })
        .await?;
        let (images, id, at) = (
            self.images.clone(),
            rec.id.clone(),
            format!("{}@{top_digest}", r.repository()),
        );
        crate::blocking(move || images.add_repo_digest(&id, &at).map_err(Error::from)).await?;
        for (blob, diff_id) in &layers {
            self.remember_blob(diff_id, &registry, blob).await?;
        }
        status(&tx, json!({"status": format!("Digest: {top_digest}")}));
        status(
            &tx,
            json!({"status": format!("Status: Downloaded newer image for {}", r.familiar())}),
        );
        self.image_event(rec.id.as_str(), &r.familiar(), "pull");
        Ok(rec.id.to_string())
    }

    async fn pull_layer(
        self: &Arc<Self>,
        client: &Client,
        registry: &str,
        repo: &str,
        (remote, diff_id): &(LayerBlob, Digest),
        tx: &UnboundedSender<Value>,
    ) -> Result<berth_store::snapshots::IngestedLayer> {
        let (blob, size) = (remote.digest.as_str(), remote.size);
        let id = short(blob);
        let images = self.images.clone();
        let d = diff_id.clone();
        if let Some(l) =
            crate::blocking(move || images.known_layer(&d).map_err(Error::from)).await?
        {
            status(tx, json!({"status": "Already exists", "id": id}));
            return Ok(l);
        }
        status(tx, json!({"status": "Pulling fs layer", "id": id}));
        let mut body = client
            .blob(registry, repo, blob)
            .await
            .map_err(pull_error)?;
        // The download streams into a file, hashed on the way; then it is unpacked.
        let tmp = self.images.blobs.temp_path("pull");
        let mut file = std::fs::File::create(&tmp).map_err(|e| Error::internal(e.to_string()))?;
        let mut h = Sha256::new();

        let mut got = 0u64;
        let mut last_report = 0u64;
        loop {
            let c = match body.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(Error::internal(format!("pulling layer {blob}: {e}")));
                }
            };
            h.update(&c);
            if let Err(e) = file.write_all(&c) {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::internal(e.to_string()));
            }
            got += c.len() as u64;
            if got - last_report > 512 * 1024 {
                last_report = got;
                status(
                    tx,
                    json!({"status": "Downloading", "id": id, "progressDetail": {"current": got, "total": size}}),
                );
            }
        }
        drop(file);
        let actual = format!("sha256:{}", hex::encode(h.finalize()));
        if actual != blob {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::bad_request(format!(
                "filesystem layer verification failed for digest {blob}: the registry sent {actual}"
            )));
        }
        status(tx, json!({"status": "Download complete", "id": id}));
        let images = self.images.clone();
        let d = diff_id.clone();
        let path = tmp.clone();
        let layer = crate::blocking(move || {
            let f = std::fs::File::open(&path).map_err(|e| Error::internal(e.to_string()))?;
            images
                .snapshots
                .ingest(&images.blobs, f, Some(&d))
                .map_err(Error::from)
        })
        .await;
        let _ = std::fs::remove_file(&tmp);
        let layer = layer?;
        status(tx, json!({"status": "Pull complete", "id": id}));
        Ok(layer)
    }

    /// `GET /distribution/{name}/json`: what the registry has under `name`:
    /// its top descriptor and the platforms it serves.
    pub async fn distribution_inspect(
        self: &Arc<Self>,
        name: &str,
        credentials: Option<Credentials>,
    ) -> Result<Value> {
        let r = ImageRef::parse(name)?;
        let (registry, repo) = registry_of(&r);
        let reference = r
            .digest
            .clone()
            .or_else(|| r.tag.clone())
            .unwrap_or_default();
        let client = Client::new(self.config().registries.clone(), credentials);
        let fetched = client
            .manifest(&registry, &repo, &reference)
            .await
            .map_err(pull_error)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&fetched.bytes)));
        let doc: Value = serde_json::from_slice(&fetched.bytes).map_err(upstream)?;
        let platforms: Vec<Value> = if is_index(&fetched.media_type) {
            doc["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.get("platform").cloned())
                .collect()
        } else {
            let config_digest = doc["config"]["digest"].as_str().unwrap_or_default();
            let raw = fetch_verified(&client, &registry, &repo, config_digest).await?;
            let c: Value = serde_json::from_slice(&raw).map_err(upstream)?;
            let mut p = json!({"architecture": c["architecture"], "os": c["os"]});
            if let Some(v) = c["variant"].as_str() {
                p["variant"] = v.into();
            }
            vec![p]
        };
        Ok(json!({
            "Descriptor": {"mediaType": fetched.media_type, "digest": digest, "size": fetched.bytes.len()},
            "Platforms": platforms,
        }))
    }

    /// Pulls every tag of `name`'s repository (`docker pull -a`).
    pub async fn pull_all_tags(
        self: &Arc<Self>,
        name: &str,
        platform: Option<&str>,
        credentials: Option<Credentials>,
        tx: UnboundedSender<Value>,
    ) -> Result<()> {
        let r = ImageRef::parse(name)?;
        let (registry, repo) = registry_of(&r);
        let client = Client::new(self.config().registries.clone(), credentials.clone());
        let mut listed = Err(Error::internal("no registry to list tags from"));
        for c in sources(&client, &r, &registry) {
            listed = client.tags(&c, &repo).await.map_err(pull_error);
            if listed.is_ok() {
                break;
            }
        }
        let tags = listed?;
        if tags.is_empty() {
            return Err(Error::not_found(format!(
                "no tags in {}",
                r.familiar_repository()
            )));
        }
        for t in tags {
            let one = format!("{}:{t}", r.familiar_repository());
            self.pull_image(&one, platform, credentials.clone(), tx.clone())
                .await?;
        }
        Ok(())
    }

    /// Pushes `name` (`repo[:tag]`) to its registry.
    pub async fn push_image(
        self: &Arc<Self>,
        name: &str,
        tag: Option<&str>,
        credentials: Option<Credentials>,
        tx: UnboundedSender<Value>,
    ) -> Result<()> {
        let mut r = ImageRef::parse(name)?;
        if let Some(t) = tag.filter(|t| !t.is_empty()) {
            r.tag = Some(t.to_string());
        }
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        let full = format!("{}:{tag}", r.familiar_repository());
        let rec = self.images.resolve(&full).map_err(|_| {
            Error::not_found(format!(
                "An image does not exist locally with the tag: {}",
                r.familiar_repository()
            ))
        })?;
        let (registry, repo) = registry_of(&r);
        let client = Client::new(self.config().registries.clone(), credentials);
        status(
            &tx,
            json!({"status": format!("The push refers to repository [{}]", r.familiar_repository())}),
        );
        let manifest_raw = self
            .images
            .blobs
            .read(&rec.manifest_digest)
            .map_err(Error::from)?;
        let config_raw = self.images.blobs.read(&rec.id).map_err(Error::from)?;
        // The blob each layer goes up as: the uncompressed tar, or a blob the
        // registry already holds it as (a pull's compressed layer, say).
        let mut chosen: Vec<LayerBlob> = Vec::new();
        for d in rec.layers.iter().rev() {
            let id = short(d.as_str());
            let (images, d2, reg) = (self.images.clone(), d.clone(), registry.clone());
            let known =
                crate::blocking(move || images.layer_blobs(&d2, &reg).map_err(Error::from)).await?;
            let (blob, how) = match self
                .place_layer(&client, &registry, &repo, d, &known)
                .await?
            {
                Some(found) => found,
                None => {
                    status(&tx, json!({"status": "Pushing", "id": id}));
                    let path = self.images.blobs.path(d);
                    let total = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    client
                        .upload_file(
                            &registry,
                            &repo,
                            d.as_str(),
                            &path,
                            push_progress(&tx, &id, total),
                        )
                        .await
                        .map_err(push_error)?;
                    let plain = LayerBlob {
                        repository: repo.clone(),
                        digest: d.to_string(),
                        media_type: berth_store::images::MEDIA_OCI_LAYER.into(),
                        size: total,
                    };
                    (plain, "Pushed".to_string())
                }
            };
            status(&tx, json!({"status": how, "id": id}));
            let here = LayerBlob {
                repository: repo.clone(),
                ..blob
            };
            self.remember_blob(d, &registry, &here).await?;
            chosen.push(here);
        }
        chosen.reverse();
        let manifest_raw = manifest_with(&manifest_raw, &chosen)?;
        if !client
            .blob_exists(&registry, &repo, rec.id.as_str())
            .await
            .map_err(push_error)?
        {
            let cfg = bytes::Bytes::from(config_raw);
            client
                .upload(&registry, &repo, rec.id.as_str(), cfg)
                .await
                .map_err(push_error)?;
        }
        let size = manifest_raw.len();
        let manifest_bytes = bytes::Bytes::from(manifest_raw);
        client
            .put_manifest(
                &registry,
                &repo,
                &tag,
                berth_store::images::MEDIA_OCI_MANIFEST,
                manifest_bytes.clone(),
            )
            .await
            .map_err(push_error)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest_bytes)));
        let (images, id, at) = (
            self.images.clone(),
            rec.id.clone(),
            format!("{}@{digest}", r.repository()),
        );
        crate::blocking(move || images.add_repo_digest(&id, &at).map_err(Error::from)).await?;
        status(
            &tx,
            json!({"status": format!("{tag}: digest: {digest} size: {size}")}),
        );
        status(
            &tx,
            json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": size}}),
        );
        self.image_event(rec.id.as_str(), &full, "push");
        Ok(())
    }
}

impl Engine {
    /// Records that a repository of `registry` holds layer `diff_id` as `blob`.
    async fn remember_blob(
        self: &Arc<Self>,
        diff_id: &Digest,
        registry: &str,
        blob: &LayerBlob,
    ) -> Result<()> {
        let (images, d, reg, blob) = (
            self.images.clone(),
            diff_id.clone(),
            registry.to_string(),
            blob.clone(),
        );
        crate::blocking(move || images.add_layer_blob(&d, &reg, &blob).map_err(Error::from)).await
    }

    /// Whether `repo` has layer `diff_id` already, or can mount it from another
    /// repository of the registry known to hold it (as `known` lists: pushes'
    /// uncompressed tars, pulls' compressed blobs). The blob it is there as and
    /// what to say, or None when it must be uploaded.
    async fn place_layer(
        self: &Arc<Self>,
        client: &Client,
        registry: &str,
        repo: &str,
        diff_id: &Digest,
        known: &[LayerBlob],
    ) -> Result<Option<(LayerBlob, String)>> {
        let exists = |digest: String| async move {
            client
                .blob_exists(registry, repo, &digest)
                .await
                .map_err(push_error)
        };
        if exists(diff_id.to_string()).await? {
            let size = std::fs::metadata(self.images.blobs.path(diff_id))
                .map(|m| m.len())
                .unwrap_or(0);
            let plain = LayerBlob {
                repository: repo.to_string(),
                digest: diff_id.to_string(),
                media_type: berth_store::images::MEDIA_OCI_LAYER.into(),
                size,
            };
            return Ok(Some((plain, "Layer already exists".into())));
        }
        for b in known
            .iter()
            .filter(|b| b.repository == repo && b.digest != diff_id.as_str())
        {
            if exists(b.digest.clone()).await? {
                return Ok(Some((b.clone(), "Layer already exists".into())));
            }
        }
        for b in known.iter().filter(|b| b.repository != repo).take(3) {
            if client
                .mount(registry, repo, &b.repository, &b.digest)
                .await
                .map_err(push_error)?
            {
                return Ok(Some((b.clone(), format!("Mounted from {}", b.repository))));
            }
        }
        Ok(None)
    }
}

/// Progress of a layer's upload: a line every 512 KiB at most, as pulls have.
fn push_progress(
    tx: &UnboundedSender<Value>,
    id: &str,
    total: u64,
) -> Arc<dyn Fn(u64) + Send + Sync> {
    let (tx, id) = (tx.clone(), id.to_string());
    let last = Arc::new(std::sync::atomic::AtomicU64::new(0));
    Arc::new(move |sent: u64| {
        use std::sync::atomic::Ordering;
        // (A retried upload starts again from 0.)
        let prev = last.load(Ordering::Relaxed);
        if sent < prev || sent - prev >= 512 * 1024 || sent == total {
            last.store(sent, Ordering::Relaxed);
            status(
                &tx,
                json!({"status": "Pushing", "id": id, "progressDetail": {"current": sent, "total": total}}),
            );
        }
    })
}

/// The OCI media type for a layer descriptor's type (Docker's types map to
/// OCI's: the bytes are the same).
fn oci_layer_type(media_type: &str) -> String {
    match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        }
        "application/vnd.docker.image.rootfs.diff.tar" | "" => berth_store::images::MEDIA_OCI_LAYER,
        other => other,
    }
    .to_string()
}

/// The image's manifest with each layer named as the blob it is pushed as.
/// Unchanged (same bytes, same digest) when every layer goes up as its tar.
fn manifest_with(stored: &[u8], layers: &[LayerBlob]) -> Result<Vec<u8>> {
    let mut m: Value = serde_json::from_slice(stored).map_err(upstream)?;
    let Some(descriptors) = m["layers"].as_array_mut() else {
        return Err(Error::internal("stored manifest without layers"));
    };
    if descriptors.len() != layers.len() {
        return Err(Error::internal("stored manifest and image layers differ"));
    }
    let mut changed = false;
    for (d, b) in descriptors.iter_mut().zip(layers) {
        if d["digest"].as_str() != Some(b.digest.as_str()) {
            *d = json!({"mediaType": b.media_type, "digest": b.digest, "size": b.size});
            changed = true;
        }
    }
    if !changed {
        return Ok(stored.to_vec());
    }
    serde_json::to_vec(&m).map_err(upstream)
}

async fn fetch_verified(
    client: &Client,
    registry: &str,
    repo: &str,
    digest: &str,
) -> Result<Vec<u8>> {
    let body = client
        .blob(registry, repo, digest)
        .await
        .map_err(pull_error)?;
    let bytes = body.bytes().await.map_err(pull_error)?;
    let got = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if got != digest {
        return Err(Error::bad_request(format!(
            "blob {digest} from the registry hashes to {got}"
        )));
    }
    Ok(bytes.to_vec())
}

fn pull_error(e: berth_registry::client::ClientError) -> Error {
    use berth_registry::client::ClientError::*;
    match e {
        Registry(404, m) => Error::not_found(m),
        Unauthorized => Error::new(
            berth_api::ErrorKind::Unauthorized,
            "pull access denied: authentication required".to_string(),
        ),
        other => Error::internal(other.to_string()),
    }
}

fn push_error(e: berth_registry::client::ClientError) -> Error {
    use berth_registry::client::ClientError::*;
    match e {
        Unauthorized => Error::new(
            berth_api::ErrorKind::Unauthorized,
            "unauthorized: authentication required".to_string(),
        ),
        other => Error::internal(other.to_string()),
    }
}

impl Engine {
    /// `POST /auth`: checks the credentials against the registry's `/v2/`.
    pub async fn login(&self, server: &str, credentials: Credentials) -> Result<()> {
        let registry = registry_host(server);
        if registry.is_empty() {
            return Err(Error::bad_request("a registry address is required"));
        }
        let client = Client::new(self.config().registries.clone(), Some(credentials));
        let failed = |why: String| {
            Error::new(
                berth_api::ErrorKind::Unauthorized,
                format!("login attempt to {registry}/v2/ failed with status: {why}"),
            )
        };
        match client.ping(&registry).await {
            Ok(()) => Ok(()),
            Err(berth_registry::client::ClientError::Unauthorized) => {
                Err(failed("401 Unauthorized".into()))
            }
            Err(berth_registry::client::ClientError::Registry(_, status)) => Err(failed(status)),
            Err(e) => Err(Error::internal(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts_of_every_name() {
        for hub in [
            "docker.io",
            "index.docker.io",
            "https://index.docker.io/v1/",
        ] {
            assert_eq!(registry_host(hub), "registry-1.docker.io", "{hub}");
        }
        assert_eq!(registry_host("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
        assert_eq!(registry_host("reg.example:443"), "reg.example:443");
        assert_eq!(registry_host(""), "");
    }
}
