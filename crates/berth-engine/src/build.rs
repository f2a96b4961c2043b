//! `POST /build`: berth-build's steps carried out by the engine. RUN steps
//! are real containers (the same isolation as `run`); COPY/ADD write into an
//! overlay of the parent image; every step's image is recorded in the build
//! cache, which lives in the metadata database and so survives restarts.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Error;
use berth_api::types::{
    ContainerConfig, ContainerCreateBody, HealthConfig, HostConfig, ImageConfigFile,
};
use berth_api::ImageRef;
use berth_build::context::Context;
use berth_build::{Backend, BuildError, Image, Output, RunSpec};
use berth_store::{overlay, ImageRecord};
use tokio::runtime::Handle;
use tokio::sync::mpsc::UnboundedSender;

use crate::containers::files::commit_upper;
use crate::containers::wait::WaitCondition;
use crate::engine::Engine;
use crate::Result;

/// A build request, as `POST /build`'s query gives it.
#[derive(Debug, Default)]
pub struct BuildRequest {
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// Used instead of the context's file (a Dockerfile sent alone on stdin).
    pub dockerfile_text: Option<String>,
    pub tags: Vec<ImageRef>,
    pub options: berth_build::Options,
    /// HostConfig of the RUN containers: network mode, extra hosts, shm, limits.
    pub host_config: HostConfig,
    /// `remote=`: an http:// URL of a context tar (or of a Dockerfile), used instead of the body.
    pub remote: Option<String>,
    /// Credentials by registry (`X-Registry-Config`), for FROM images pulled.
    pub registry_auth: std::collections::HashMap<String, berth_registry::client::Credentials>,
}

/// What a build streams back: progress text, then the image ID; `Error` is
/// sent by whoever runs the build when it fails.
#[derive(Debug)]
pub enum BuildProgress {
    Stream(String),
    Aux(String),
    Error(BuildFailed),
}

/// A build that failed: the error, and a failed RUN's exit code (dockerd's
/// `errorDetail.code`).
#[derive(Debug)]
pub struct BuildFailed {
    pub error: Error,
    pub code: Option<i64>,
}

impl From<Error> for BuildFailed {
    fn from(error: Error) -> Self {
        BuildFailed { error, code: None }
    }
}

struct Progress(UnboundedSender<BuildProgress>);

impl Output for Progress {
    fn text(&self, s: &str) {
        let _ = self.0.send(BuildProgress::Stream(s.to_string()));
    }
}

struct EngineBackend {
    engine: Arc<Engine>,
    rt: Handle,
    host_config: HostConfig,
    /// Scratch space for COPY mounts, removed after the build.
    work: PathBuf,
    /// Where a pull of a missing FROM image reports.
    progress: UnboundedSender<BuildProgress>,
    registry_auth: std::collections::HashMap<String, berth_registry::client::Credentials>,
}

fn berr(e: Error) -> BuildError {
    BuildError::Backend(e.to_string())
}

fn image_of(rec: ImageRecord) -> Image {
    Image {
        id: rec.id.to_string(),
        config: rec.config,
    }
}

impl EngineBackend {
    /// The store's record of a step image; scratch has no layers and no record.
    fn layers(&self, image: &Image) -> Result<Vec<berth_store::Digest>, BuildError> {
        if image.id.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .engine
            .images
            .resolve(&image.id)
            .map_err(|e| berr(e.into()))?
            .layers)
    }

    fn record(&self, parent: &Image, rec: ImageRecord, key: &str) -> Result<Image, BuildError> {
        self.engine
            .images
            .cache_put(&rec.id, &parent.id, key)
            .map_err(|e| berr(e.into()))?;
        Ok(image_of(rec))
    }

    /// RUN needs a real image to make a container from, even on `scratch`.
    fn materialize(&self, image: &Image) -> Result<String, BuildError> {
        if !image.id.is_empty() {
            return Ok(image.id.clone());
        }
        let rec = self
            .engine
            .images
            .commit(&[], None, image.config.clone(), None)
            .map_err(|e| berr(e.into()))?;
        Ok(rec.id.to_string())
    }

    fn scratch_dir(&self) -> Result<PathBuf, BuildError> {
        let d = self.work.join(format!("{:016x}", rand::random::<u64>()));
        for sub in ["upper", "work", "root"] {
            std::fs::create_dir_all(d.join(sub))
                .map_err(|e| BuildError::Backend(format!("build scratch: {e}")))?;
        }
        Ok(d)
    }

    async fn run_container(
        &self,
        image_id: String,
        spec: &RunSpec,
        out: &dyn Output,
    ) -> Result<(String, i64), BuildError> {
        let engine = &self.engine;
        let mut host_config = self.host_config.clone();
        if let Some(n) = &spec.network {
            host_config.network_mode = n.clone();
        }
        let body = ContainerCreateBody {
            config: ContainerConfig {
                image: image_id,
                cmd: Some(spec.argv.clone()),
                // The image's ENTRYPOINT does not wrap build steps.
                entrypoint: Some(Vec::new()),
                env: Some(spec.env.clone()),
                user: spec.user.clone(),
                working_dir: spec.workdir.clone(),
                healthcheck: Some(HealthConfig {
                    test: Some(vec!["NONE".into()]),
                    ..Default::default()
                }),
                attach_stdout: true,
                attach_stderr: true,
                ..Default::default()
            },
            host_config: Some(host_config),
            networking_config: None,
        };
        let id = engine.create_container(None, body).await.map_err(berr)?.id;
        out.text(&format!(" ---> Running in {}\n", &id[..12]));
        let result = async {
            let mut logs = engine.attach_output(&id, true, true, true).map_err(berr)?;
            let exited = engine
                .wait_container(&id, WaitCondition::NextExit)
                .map_err(berr)?;
            engine.start_container(&id).await.map_err(berr)?;
            while let Some(r) = logs.recv().await {
                out.text(&r.log);
            }
            Ok(exited.await)
        }
        .await;
        match result {
            Ok(code) => Ok((id, code)),
            Err(e) => {
                let _ = engine.remove_container(&id, true, true).await;
                Err(e)
            }
        }
    }
}

impl Backend for EngineBackend {
    fn image(&self, name: &str, platform: Option<&str>) -> Result<Image, BuildError> {
        if let Some(p) = platform {
            let want = format!("linux/{}", berth_api::version::host_arch());
            if p != want && p != "linux" {
                return Err(BuildError::step(format!(
                    "platform {p} is not supported here (this host runs {want})"
                )));
            }
        }
        if let Ok(rec) = self.engine.images.resolve(name) {
            return Ok(image_of(rec));
        }
        // Not here: pulled, as docker build does, its progress shown as build output.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
        let progress = self.progress.clone();
        let relay = self.rt.spawn(async move {
            while let Some(v) = rx.recv().await {
                let line = match (v["id"].as_str(), v["status"].as_str()) {
                    (Some(id), Some(s)) => format!("{id}: {s}\n"),
                    (None, Some(s)) => format!("{s}\n"),
                    _ => continue,
                };
                let _ = progress.send(BuildProgress::Stream(line));
            }
        });
        // Keyed as docker's config.json is (Docker Hub by its v1 URL).
        let credentials = berth_api::ImageRef::parse(name).ok().and_then(|r| {
            let host = crate::distribution::registry_host(&r.domain);
            self.registry_auth
                .iter()
                .find(|(k, _)| crate::distribution::registry_host(k) == host)
                .map(|(_, c)| c.clone())
        });
        let pulled = self
            .rt
            .block_on(self.engine.pull_image(name, platform, credentials, tx));
        let _ = self.rt.block_on(relay);
        pulled.map_err(|e| {
            BuildError::step(format!(
                "No such image: {name}, and pulling it failed: {}",
                e
            ))
        })?;
        self.engine
            .images
            .resolve(name)
            .map(image_of)
            .map_err(|e| BuildError::step(Error::from(e).to_string()))
    }

    fn cached(&self, parent: &Image, key: &str) -> Option<Image> {
        self.engine
            .images
            .cache_get(&parent.id, key)
            .ok()
            .flatten()
            .map(image_of)
    }

    fn run(
        &self,
        parent: &Image,
        spec: &RunSpec,
        config: ImageConfigFile,
        key: &str,
        out: &dyn Output,
    ) -> Result<Image, BuildError> {
        let image_id = self.materialize(parent)?;
        let (id, code) = self.rt.block_on(self.run_container(image_id, spec, out))?;
        let engine = self.engine.clone();
        let outcome = if code != 0 {
            Err(BuildError::exited(
                code,
                format!(
                    "The command '{}' returned a non-zero code: {code}",
                    spec.argv.join(" ")
                ),
            ))
        } else {
            let upper = engine.paths(&id).upper();
            // A remapped step's files go into the image with the container's IDs.
            let owners = engine
                .container(&id)
                .ok()
                .and_then(|h| engine.owners_to_container(&h.record().host_config));
            commit_upper(
                &engine.images,
                &self.layers(parent)?,
                upper,
                Vec::new(),
                config,
                None,
                owners,
            )
            .map_err(berr)
            .and_then(|rec| self.record(parent, rec, key))
        };
        // Failed or not, the step's container goes (docker keeps failed ones unless --force-rm).
        out.text(&format!("Removing intermediate container {}\n", &id[..12]));
        self.rt
            .block_on(engine.remove_container(&id, true, true))
            .map_err(berr)?;
        outcome
    }

    fn change_fs(
        &self,
        parent: &Image,
        config: ImageConfigFile,
        key: &str,
        f: &mut dyn FnMut(&Path) -> Result<(), BuildError>,
    ) -> Result<Image, BuildError> {
        let base_layers = self.layers(parent)?;
        let lowers = self
            .engine
            .images
            .layer_dirs(&base_layers)
            .map_err(|e| berr(e.into()))?;
        let dir = self.scratch_dir()?;
        let root = dir.join("root");
        let result = overlay::mount_overlay(&lowers, &dir.join("upper"), &dir.join("work"), &root)
            .map_err(|e| berr(e.into()))
            .and_then(|()| {
                let r = f(&root);
                let _ = overlay::unmount(&root);
                r
            })
            .and_then(|()| {
                commit_upper(
                    &self.engine.images,
                    &base_layers,
                    dir.join("upper"),
                    Vec::new(),
                    config,
                    None,
                    None,
                )
                .map_err(berr)
            })
            .and_then(|rec| self.record(parent, rec, key));
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    fn commit_config(
        &self,
        parent: &Image,
        config: ImageConfigFile,
        key: &str,
    ) -> Result<Image, BuildError> {
        let rec = self
            .engine
            .images
            .commit(&self.layers(parent)?, None, config, None)
            .map_err(|e| berr(e.into()))?;
        self.record(parent, rec, key)
    }

    fn cache_source(&self, name: &str) -> Option<Image> {
        self.engine.images.resolve(name).ok().map(image_of)
    }

    fn download(&self, url: &str, dest: &Path) -> Result<(), BuildError> {
        self.rt
            .block_on(self.engine.download(url, dest))
            .map_err(|e| BuildError::Backend(e.to_string()))
    }

    fn restore(
        &self,
        parent: &Image,
        source: &Image,
        layer: Option<usize>,
        config: ImageConfigFile,
        key: &str,
    ) -> Result<Image, BuildError> {
        let mut layers = self.layers(parent)?;
        if let Some(i) = layer {
            let theirs = self.layers(source)?;
            let Some(l) = theirs.get(i) else {
                return Err(BuildError::step(format!(
                    "cache source {} has no layer {i}",
                    source.short_id()
                )));
            };
            layers.push(l.clone());
        }
        let rec = self
            .engine
            .images
            .commit(&layers, None, config, None)
            .map_err(|e| berr(e.into()))?;
        self.record(parent, rec, key)
    }

    fn read_fs(
        &self,
        image: &Image,
        f: &mut dyn FnMut(&Path) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        let rec = self
            .engine
            .images
            .resolve(&image.id)
            .map_err(|e| berr(e.into()))?;
        let lowers = self
            .engine
            .images
            .lower_dirs(&rec)
            .map_err(|e| berr(e.into()))?;
        if let [only] = lowers.as_slice() {
            // One layer is a plain directory already; f only reads it.
            return f(only);
        }
        let dir = self.scratch_dir()?;
        let root = dir.join("root");
        let result = overlay::mount_overlay_ro(&lowers, &root)
            .map_err(|e| berr(e.into()))
            .and_then(|()| {
                let r = f(&root);
                let _ = overlay::unmount(&root);
                r
            });
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}

/// Unpacks the request body into `dir`: a tar (plain, gzip or zstd) is the
/// context; anything else is taken as a Dockerfile sent alone (its text returned).
fn receive_context(body: impl Read, dir: &Path) -> Result<(Context, Option<String>)> {
    let mut r = berth_store::archive::decompress(body).map_err(Error::from)?;
    let mut head = Vec::new();
    (&mut r)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| Error::bad_request(format!("read build context: {e}")))?;
    let is_tar = head.len() >= 262 && &head[257..262] == b"ustar";
    if !is_tar {
        let mut text = head;
        r.read_to_end(&mut text)
            .map_err(|e| Error::bad_request(format!("read build context: {e}")))?;
        let text = String::from_utf8(text).map_err(|_| {
            Error::bad_request("the build context is neither a tar archive nor a Dockerfile")
        })?;
        return Ok((Context::dir(dir), Some(text)));
    }
    let context = berth_build::context::unpack_context(std::io::Cursor::new(head).chain(r), dir)
        .map_err(|e| Error::bad_request(e.to_string()))?;
    Ok((context, None))
}

impl Engine {
    /// `ADD <url>` and remote contexts: the URL's content into `dest`, through
    /// the registry client (HTTPS verified, the daemon's certificates
    /// directory, `registry-loopback-only` respected).
    async fn download(&self, url: &str, dest: &Path) -> Result<(), Error> {
        let client = berth_registry::client::Client::new(self.config().registries.clone(), None);
        client
            .download(url, dest)
            .await
            .map_err(|e| Error::bad_request(e.to_string()))
    }

    /// Builds `req` from the context in `body` (a tar); progress goes to
    /// `progress`. Returns the image ID. The unpacked context is removed after.
    pub async fn build_image(
        self: &Arc<Self>,
        mut req: BuildRequest,
        body: impl Read + Send + 'static,
        progress: UnboundedSender<BuildProgress>,
    ) -> Result<String, BuildFailed> {
        let work = self.cfg.exec_root.join("build");
        let context = work.join(format!("context-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&context).map_err(|e| Error::caused_by("build context", e))?;
        let dir = context.clone();
        let remote = match &req.remote {
            None => None,
            Some(url) => {
                let fetched = context.with_extension("remote");
                if let Err(e) = self.download(url, &fetched).await {
                    let _ = std::fs::remove_file(&fetched);
                    let _ = std::fs::remove_dir_all(&context);
                    return Err(
                        Error::bad_request(format!("remote build context {url}: {}", e)).into(),
                    );
                }
                Some(fetched)
            }
        };
        let received = crate::blocking(move || match remote {
            None => receive_context(body, &dir),
            Some(fetched) => {
                let r = std::fs::File::open(&fetched)
                    .map_err(|e| Error::caused_by("remote context", e))
                    .and_then(|f| receive_context(f, &dir));
                let _ = std::fs::remove_file(&fetched);
                r
            }
        })
        .await;
        let result = match received {
            Ok((ctx, text)) => {
                if text.is_some() {
                    req.dockerfile_text = text;
                }
                self.build_in(req, ctx, work, progress).await
            }
            Err(e) => Err(e.into()),
        };
        // The context goes in the background: the client has its answer already.
        tokio::spawn(async move {
            let _ = tokio::fs::remove_dir_all(&context).await;
        });
        result
    }

    async fn build_in(
        self: &Arc<Self>,
        req: BuildRequest,
        context: Context,
        work: PathBuf,
        progress: UnboundedSender<BuildProgress>,
    ) -> Result<String, BuildFailed> {
        let text = match &req.dockerfile_text {
            Some(t) => t.clone(),
            None => {
                let name = if req.dockerfile.is_empty() {
                    "Dockerfile"
                } else {
                    req.dockerfile.as_str()
                };
                let path = berth_build::context::scoped_path(&context.root, name, true)
                    .map_err(|e| Error::bad_request(e.to_string()))?;
                std::fs::read_to_string(&path).map_err(|_| {
                    Error::bad_request(format!("Cannot locate specified Dockerfile: {name}"))
                })?
            }
        };
        let backend = EngineBackend {
            engine: self.clone(),
            rt: Handle::current(),
            host_config: req.host_config.clone(),
            registry_auth: req.registry_auth.clone(),
            work,
            progress: progress.clone(),
        };
        let out = Progress(progress.clone());
        let options = req.options;
        let built = tokio::task::spawn_blocking(move || {
            berth_build::build(&text, &context, &options, &backend, &out)
        })
        .await
        .map_err(|e| Error::caused_by("task failed", e))?;
        let image = built.map_err(|e| BuildFailed {
            code: e.exit_code(),
            error: Error::bad_request(e.to_string()),
        })?;
        let id = image.id.clone();
        for t in &req.tags {
            self.images.tag(&id, t).map_err(Error::from)?;
            self.image_event(&id, &t.familiar(), "tag");
        }
        let send = |s: String| {
            let _ = progress.send(BuildProgress::Stream(s));
        };
        let _ = progress.send(BuildProgress::Aux(id.clone()));
        send(format!("Successfully built {}\n", image.short_id()));
        for t in &req.tags {
            send(format!("Successfully tagged {}\n", t.familiar()));
        }
        Ok(id)
    }

    /// `POST /build/prune`: the build cache's step images nothing uses.
    pub async fn prune_build_cache(self: &Arc<Self>) -> Result<(Vec<String>, i64)> {
        let engine = self.clone();
        crate::blocking(move || {
            let users = |id: &str| engine.image_user(id);
            engine.images.prune_build_cache(&users).map_err(Error::from)
        })
        .await
    }
}
