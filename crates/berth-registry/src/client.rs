//! The distribution client the engine pulls and pushes with: manifests
//! (with the media types Docker and OCI use), blobs, uploads, mounts, and the
//! Docker token flow (a 401 with `WWW-Authenticate: Bearer` sends us to the
//! realm for a token, with basic credentials if we have them).
//!
//! HTTPS by default, trusting the system's roots plus `<certs-dir>/<host:port>/`;
//! plain HTTP (after HTTPS without verification has failed to connect, as
//! dockerd does) only for loopback and the `insecure-registries`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::storage::{
    MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST,
};

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Http(String),
    /// The registry answered with an error (status and its message).
    #[error("{1}")]
    Registry(u16, String),
    #[error("unauthorized: authentication required")]
    Unauthorized,
}

type Result<T> = std::result::Result<T, ClientError>;

/// Basic credentials for one registry (from `X-Registry-Auth`).
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Where and how registries may be reached: daemon.json's
/// `insecure-registries` and `registry-mirrors`, and the certificates directory.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `host[:port]` names and CIDRs whose registries may be plain HTTP or
    /// have certificates that are not checked. Loopback always is.
    pub insecure: Vec<String>,
    /// Mirrors of Docker Hub (`http://…` or `https://…`), tried in order before it.
    pub mirrors: Vec<String>,
    /// `<certs_dir>/<host:port>/`: `*.crt` CAs, `*.cert` + `*.key` client pair.
    pub certs_dir: Option<PathBuf>,
    /// Berth's own: refuse registries off this host before any traffic leaves
    /// (air-gapped hosts and test daemons).
    pub loopback_only: bool,
}

/// Splits `host[:port]` (or `[v6]:port`) into its host.
fn host_of(registry: &str) -> &str {
    match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => registry
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(registry),
    }
}

fn is_loopback(registry: &str) -> bool {
    let host = host_of(registry);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Settings {
    /// Loopback, a listed `host[:port]`, or an address inside a listed CIDR.
    pub fn is_insecure(&self, registry: &str) -> bool {
        if is_loopback(registry) {
            return true;
        }
        let ip = host_of(registry).parse::<std::net::IpAddr>().ok();
        self.insecure.iter().any(|e| {
            if e == registry || e == host_of(registry) {
                return true;
            }
            match (e.parse::<ipnet::IpNet>(), ip) {
                (Ok(net), Some(ip)) => net.contains(&ip),
                _ => false,
            }
        })
    }

    /// Refuses what `loopback_only` forbids, before any lookup or connection.
    pub fn check(&self, registry: &str) -> Result<()> {
        if self.loopback_only && !is_loopback(registry) {
            return Err(ClientError::Http(format!(
                "registry {registry}: this berthd only reaches registries on this host (registry-loopback-only)"
            )));
        }
        Ok(())
    }
}

type Http = hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

pub struct Client {
    settings: Arc<Settings>,
    credentials: Option<Credentials>,
    /// `Authorization` values: bearer tokens by registry and repository, basic
    /// credentials by registry.
    tokens: Mutex<HashMap<String, String>>,
    /// The last bearer challenge per registry (realm and service), for tokens
    /// asked for before a request needs them (cross-repository mounts).
    challenges: Mutex<HashMap<String, HashMap<String, String>>>,
    /// The base URL (`https://host:port` or `http://…`) chosen per registry.
    bases: tokio::sync::Mutex<HashMap<String, String>>,
    /// HTTP clients by host and whether certificates are checked.
    https: Mutex<HashMap<(String, bool), Http>>,
}

/// A manifest as fetched: bytes, media type and the digest the registry gave.
pub struct Fetched {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: Option<String>,
}

pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

pub fn is_index(media_type: &str) -> bool {
    media_type == MEDIA_OCI_INDEX || media_type == MEDIA_DOCKER_LIST
}

pub fn is_manifest(media_type: &str) -> bool {
    media_type == MEDIA_OCI_MANIFEST || media_type == MEDIA_DOCKER_MANIFEST
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

/// `len` bytes of a file from `offset` as a request body, read as they are
/// sent (layers can be large), calling `progress` with the position reached.
fn file_range(
    path: &std::path::Path,
    offset: u64,
    len: u64,
    progress: Arc<dyn Fn(u64) + Send + Sync>,
) -> Body {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let path = path.to_path_buf();
    let opened = async move {
        let mut f = tokio::fs::File::open(&path).await?;
        f.seek(std::io::SeekFrom::Start(offset)).await?;
        Ok::<_, std::io::Error>(f.take(len))
    };
    let stream = futures_util::stream::unfold(
        (None, Some(Box::pin(opened)), offset),
        move |(file, opening, at)| {
            let progress = progress.clone();
            async move {
                let mut f = match (file, opening) {
                    (Some(f), _) => f,
                    (None, Some(o)) => match o.await {
                        Ok(f) => f,
                        Err(e) => return Some((Err(e), (None, None, at))),
                    },
                    (None, None) => return None,
                };
                let mut buf = vec![0u8; 256 * 1024];
                match f.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        let at = at + n as u64;
                        progress(at);
                        Some((
                            Ok(hyper::body::Frame::data(Bytes::from(buf))),
                            (Some(f), None, at),
                        ))
                    }
                    Err(e) => Some((Err(e), (None, None, at))),
                }
            }
        },
    );
    http_body_util::StreamBody::new(stream).boxed()
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// The parameters of a `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge.
fn bearer_challenge(h: &str) -> Option<HashMap<String, String>> {
    let rest = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))?;
    let mut out = HashMap::new();
    let mut s = rest;
    while !s.is_empty() {
        let (k, after) = s.split_once('=')?;
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], q[end + 1..].trim_start_matches(',').trim_start())
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (
                &after[..end],
                after[end..].trim_start_matches(',').trim_start(),
            )
        };
        out.insert(k.trim().to_ascii_lowercase(), v.to_string());
        s = next;
    }
    Some(out)
}

fn base64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

impl Client {
    pub fn new(settings: Arc<Settings>, credentials: Option<Credentials>) -> Client {
        Client {
            settings,
            credentials,
            tokens: Mutex::new(HashMap::new()),
            challenges: Mutex::new(HashMap::new()),
            bases: tokio::sync::Mutex::new(HashMap::new()),
            https: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The HTTP(S) client for a host: its TLS trust comes from the certs directory.
    fn http(&self, host: &str, verify: bool) -> Result<Http> {
        let key = (host.to_string(), verify);
        if let Some(h) = self
            .https
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(h.clone());
        }
        let tls = crate::tls::client_config(self.settings.certs_dir.as_deref(), host, verify)
            .map_err(ClientError::Http)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let h = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
        self.https
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, h.clone());
        Ok(h)
    }

    /// The client for an absolute URL (token realms, redirects, mirrors).
    fn http_for_url(&self, url: &str, trust: Trust) -> Result<Http> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| ClientError::Http(format!("not an absolute URL: {url}")))?;
        let host = rest.split('/').next().unwrap_or("");
        self.settings.check(host)?;
        let verify =
            scheme == "https" && (trust == Trust::Verified || !self.settings.is_insecure(host));
        self.http(host, verify)
    }

    /// `https://registry` unless the registry is insecure and HTTPS does not
    /// connect; a registry given with its scheme (a mirror) keeps it.
    async fn base(&self, registry: &str) -> Result<String> {
        if registry.starts_with("http://") || registry.starts_with("https://") {
            return Ok(registry.trim_end_matches('/').to_string());
        }
        self.settings.check(registry)?;
        let mut bases = self.bases.lock().await;
        if let Some(b) = bases.get(registry) {
            return Ok(b.clone());
        }
        let https = format!("https://{registry}");
        let base = if self.settings.is_insecure(registry) {
            let probe = Request::get(format!("{https}/v2/"))
                .body(empty())
                .map_err(|e| ClientError::Http(e.to_string()))?;
            let answered = tokio::time::timeout(
                std::time::Duration::from_secs(15),
                self.http(registry, false)?.request(probe),
            )
            .await;
            if matches!(answered, Ok(Ok(_))) {
                https
            } else {
                format!("http://{registry}")
            }
        } else {
            https
        };
        bases.insert(registry.to_string(), base.clone());
        Ok(base)
    }

    async fn url(&self, registry: &str, path: &str) -> Result<String> {
        if path.starts_with("http://") || path.starts_with("https://") {
            Ok(path.to_string())
        } else {
            Ok(format!("{}{path}", self.base(registry).await?))
        }
    }

    async fn request(&self, req: Request<Body>) -> Result<Response<hyper::body::Incoming>> {
        self.request_as(req, Trust::Registry).await
    }

    async fn request_as(
        &self,
        req: Request<Body>,
        trust: Trust,
    ) -> Result<Response<hyper::body::Incoming>> {
        let url = req.uri().to_string();
        let host = req
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        self.http_for_url(&url, trust)?
            .request(req)
            .await
            .map_err(|e| ClientError::Http(format!("{host}: {}", error_chain(&e))))
    }

    /// One request, retried once with a bearer token (or basic credentials)
    /// after a 401. `body` is made again for the retry.
    async fn send(
        &self,
        registry: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &(dyn Fn() -> Body + Sync),
    ) -> Result<Response<hyper::body::Incoming>> {
        let url = self.url(registry, path).await?;
        let build = |auth: Option<String>| {
            let mut r = Request::builder().method(method.clone()).uri(&url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            if let Some(a) = auth {
                r = r.header(header::AUTHORIZATION, a);
            }
            r.body(body()).map_err(|e| ClientError::Http(e.to_string()))
        };
        let scope_key = format!("{registry}/{}", repository_of(path));
        // A token for this repository, or basic credentials this registry asked for
        // before: sent up front, since a 401 may cut a request's body short.
        let known = {
            let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            tokens
                .get(&scope_key)
                .or_else(|| tokens.get(registry))
                .cloned()
        };
        let resp = self.request(build(known.clone())?).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let auth = if let Some(p) = bearer_challenge(&challenge) {
            let scopes: Vec<String> = p.get("scope").cloned().into_iter().collect();
            let token = self.token(&p, &scopes).await?;
            self.challenges
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(registry.to_string(), p);
            let a = format!("Bearer {token}");
            self.tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(scope_key, a.clone());
            a
        } else if let Some(c) = &self.credentials {
            let a = format!(
                "Basic {}",
                base64(&format!("{}:{}", c.username, c.password))
            );
            self.tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(registry.to_string(), a.clone());
            a
        } else {
            return Err(ClientError::Unauthorized);
        };
        let resp = self.request(build(Some(auth))?).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized);
        }
        Ok(resp)
    }

    /// The token flow: GET realm?service=…&scope=…, with basic credentials if any.
    async fn token(&self, p: &HashMap<String, String>, scopes: &[String]) -> Result<String> {
        let realm = p.get("realm").ok_or(ClientError::Unauthorized)?;
        let query = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            if let Some(s) = p.get("service") {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
            q.finish()
        };
        let mut r = Request::builder().uri(format!("{realm}?{query}"));
        if let Some(c) = &self.credentials {
            r = r.header(
                header::AUTHORIZATION,
                format!(
                    "Basic {}",
                    base64(&format!("{}:{}", c.username, c.password))
                ),
            );
        }
        let resp = self
            .request(
                r.body(empty())
                    .map_err(|e| ClientError::Http(e.to_string()))?,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(ClientError::Unauthorized);
        }
        let body = read_all(resp).await?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| ClientError::Http(format!("token: {e}")))?;
        v["token"]
            .as_str()
            .or_else(|| v["access_token"].as_str())
            .map(String::from)
            .ok_or_else(|| ClientError::Http("token: no token in the answer".into()))
    }

    pub async fn manifest(&self, registry: &str, repo: &str, reference: &str) -> Result<Fetched> {
        let resp = self
            .send(
                registry,
                Method::GET,
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("accept", ACCEPT_MANIFESTS)],
                &empty,
            )
            .await?;
        let status = resp.status();
        let media_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .to_string();
        let digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let bytes = read_all(resp).await?;
        if !status.is_success() {
            return Err(registry_error(
                status,
                &bytes,
                &format!("manifest for {repo}:{reference}"),
            ));
        }
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    }

    /// Every tag of a repository, following the `Link` pages.
    pub async fn tags(&self, registry: &str, repo: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut path = format!("/v2/{repo}/tags/list");
        loop {
            let resp = self.send(registry, Method::GET, &path, &[], &empty).await?;
            let status = resp.status();
            let next = resp
                .headers()
                .get(header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split_once('<'))
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(url, _)| url.to_string());
            let bytes = read_all(resp).await?;
            if !status.is_success() {
                return Err(registry_error(status, &bytes, &format!("tags of {repo}")));
            }
            let v: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Http(format!("tags of {repo}: {e}")))?;
            out.extend(
                v["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(String::from)),
            );
            match next {
                Some(n) if out.len() < 100_000 => path = n,
                _ => return Ok(out),
            }
        }
    }

    /// A blob's bytes as they stream (the caller verifies the digest).
    pub async fn blob(&self, registry: &str, repo: &str, digest: &str) -> Result<BlobStream> {
        let path = format!("/v2/{repo}/blobs/{digest}");
        let resp = self.send(registry, Method::GET, &path, &[], &empty).await?;
        let url = self.url(registry, &path).await?;
        let resp = self.follow(&url, resp, Trust::Registry).await?;
        if !resp.status().is_success() {
            let status = resp.status();
            let bytes = read_all(resp).await?;
            return Err(registry_error(status, &bytes, &format!("blob {digest}")));
        }
        Ok(BlobStream(resp.into_body()))
    }

    /// `GET /v2/`: whether the registry lets these credentials in (`docker
    /// login`). Any answer but a success is an error with its status line.
    pub async fn ping(&self, registry: &str) -> Result<()> {
        let resp = self
            .send(registry, Method::GET, "/v2/", &[], &empty)
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        Err(ClientError::Registry(status.as_u16(), status.to_string()))
    }

    /// Blob GETs may redirect to storage elsewhere; a relative `Location`
    /// is resolved against the URL that answered (`url`).
    async fn follow(
        &self,
        url: &str,
        mut resp: Response<hyper::body::Incoming>,
        trust: Trust,
    ) -> Result<Response<hyper::body::Incoming>> {
        let mut url = url.to_string();
        for _ in 0..5 {
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let loc = location(&resp)
                .ok_or_else(|| ClientError::Http("redirect without a Location".into()))?;
            url = resolve(&url, &loc)?;
            let req = Request::get(&url)
                .header(header::USER_AGENT, USER_AGENT)
                .body(empty())
                .map_err(|e| ClientError::Http(e.to_string()))?;
            resp = self.request_as(req, trust).await?;
        }
        Err(ClientError::Http("too many redirects".into()))
    }

    /// A Dockerfile's `ADD <url>` (and a build's remote context): `GET url`
    /// into the file `dest`, redirects followed. HTTPS is always verified
    /// (the system's roots plus `<certs-dir>/<host:port>/`), on loopback and
    /// for insecure registries too: those settings are about registries.
    /// Hosts off loopback are refused when the settings say so. Any answer
    /// but a success is an error with its status.
    pub async fn download(&self, url: &str, dest: &std::path::Path) -> Result<()> {
        use tokio::io::AsyncWriteExt as _;
        let req = Request::get(url)
            .header(header::USER_AGENT, USER_AGENT)
            .body(empty())
            .map_err(|e| ClientError::Http(format!("{url}: {e}")))?;
        let resp = self.request_as(req, Trust::Verified).await?;
        let resp = self.follow(url, resp, Trust::Verified).await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ClientError::Registry(status.as_u16(), status.to_string()));
        }
        let mut body = BlobStream(resp.into_body());
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| ClientError::Http(format!("create {}: {e}", dest.display())))?;
        let write = |e: std::io::Error| ClientError::Http(format!("write {}: {e}", dest.display()));
        while let Some(chunk) = body.chunk().await? {
            file.write_all(&chunk).await.map_err(write)?;
        }
        file.flush().await.map_err(write)
    }

    pub async fn blob_exists(&self, registry: &str, repo: &str, digest: &str) -> Result<bool> {
        let resp = self
            .send(
                registry,
                Method::HEAD,
                &format!("/v2/{repo}/blobs/{digest}"),
                &[],
                &empty,
            )
            .await?;
        Ok(resp.status().is_success())
    }

    /// Cross-repository mount; false when the registry started an upload instead.
    /// With bearer tokens, a token for this repository may not name `from`:
    /// the mount is tried again with one that does, as docker asks for both.
    pub async fn mount(
        &self,
        registry: &str,
        repo: &str,
        from: &str,
        digest: &str,
    ) -> Result<bool> {
        if self.try_mount(registry, repo, from, digest).await? {
            return Ok(true);
        }
        let challenge = self
            .challenges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(registry)
            .cloned();
        let Some(p) = challenge else {
            return Ok(false);
        };
        let scopes = [
            format!("repository:{repo}:pull,push"),
            format!("repository:{from}:pull"),
        ];
        let Ok(token) = self.token(&p, &scopes).await else {
            return Ok(false);
        };
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(format!("{registry}/{repo}"), format!("Bearer {token}"));
        self.try_mount(registry, repo, from, digest).await
    }

    async fn try_mount(
        &self,
        registry: &str,
        repo: &str,
        from: &str,
        digest: &str,
    ) -> Result<bool> {
        let path = format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}");
        let resp = self
            .send(registry, Method::POST, &path, &[], &empty)
            .await?;
        if resp.status() == StatusCode::ACCEPTED {
            // Close the session it opened instead.
            if let Some(loc) = location(&resp) {
                let _ = self.send(registry, Method::DELETE, &loc, &[], &empty).await;
            }
        }
        Ok(resp.status() == StatusCode::CREATED)
    }

    /// Opens an upload session: its Location.
    async fn start_upload(&self, registry: &str, repo: &str) -> Result<String> {
        let resp = self
            .send(
                registry,
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/"),
                &[],
                &empty,
            )
            .await?;
        let status = resp.status();
        let loc = location(&resp);
        let bytes = read_all(resp).await?;
        if status != StatusCode::ACCEPTED {
            return Err(registry_error(status, &bytes, "upload"));
        }
        loc.ok_or_else(|| ClientError::Http("upload without a Location".into()))
    }

    /// Closes an upload session with the blob's digest (and the last bytes, if any).
    async fn finish_upload(
        &self,
        registry: &str,
        loc: &str,
        digest: &str,
        body: &(dyn Fn() -> Body + Sync),
    ) -> Result<()> {
        let sep = if loc.contains('?') { '&' } else { '?' };
        let resp = self
            .send(
                registry,
                Method::PUT,
                &format!("{loc}{sep}digest={digest}"),
                &[("content-type", "application/octet-stream")],
                body,
            )
            .await?;
        let status = resp.status();
        let bytes = read_all(resp).await?;
        if status != StatusCode::CREATED {
            return Err(registry_error(
                status,
                &bytes,
                &format!("upload of {digest}"),
            ));
        }
        Ok(())
    }

    /// A monolithic upload (POST, then PUT with the whole blob): small blobs.
    pub async fn upload(
        &self,
        registry: &str,
        repo: &str,
        digest: &str,
        blob: Bytes,
    ) -> Result<()> {
        let loc = self.start_upload(registry, repo).await?;
        self.finish_upload(registry, &loc, digest, &|| full(blob.clone()))
            .await
    }

    /// Where the registry says an upload is: (Location, bytes it has). None
    /// when it cannot say for sure (a lost session, or the ambiguous `0-0`).
    async fn upload_offset(&self, registry: &str, loc: &str) -> Option<(String, u64)> {
        let resp = self
            .send(registry, Method::GET, loc, &[], &empty)
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let range = resp
            .headers()
            .get(header::RANGE)?
            .to_str()
            .ok()?
            .to_string();
        let loc = location(&resp).unwrap_or_else(|| loc.to_string());
        let last: u64 = range.strip_prefix("0-")?.parse().ok()?;
        (last > 0).then_some((loc, last + 1))
    }

    /// A file in chunks (PATCH with `Content-Range`), then the closing PUT.
    /// After a failed chunk the upload goes on from where the registry says it
    /// is, so a cut connection costs at most one chunk, not the whole layer.
    pub async fn upload_file(
        &self,
        registry: &str,
        repo: &str,
        digest: &str,
        path: &std::path::Path,
        progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<()> {
        const CHUNK: u64 = 16 << 20;
        const RETRIES: u32 = 3;
        let size = std::fs::metadata(path)
            .map_err(|e| ClientError::Http(format!("{}: {e}", path.display())))?
            .len();
        let mut loc = self.start_upload(registry, repo).await?;
        let (mut offset, mut failures) = (0u64, 0u32);
        while offset < size {
            let len = CHUNK.min(size - offset);
            let range = format!("{offset}-{}", offset + len - 1);
            let length = len.to_string();
            let headers = [
                ("content-type", "application/octet-stream"),
                ("content-range", range.as_str()),
                ("content-length", length.as_str()),
            ];
            let sent = self
                .send(registry, Method::PATCH, &loc, &headers, &|| {
                    file_range(path, offset, len, progress.clone())
                })
                .await;
            let error = match sent {
                Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                    loc = location(&resp).unwrap_or(loc);
                    read_all(resp).await?;
                    offset += len;
                    failures = 0;
                    continue;
                }
                Ok(resp) => {
                    let status = resp.status();
                    let bytes = read_all(resp).await.unwrap_or_default();
                    registry_error(status, &bytes, &format!("upload of {digest}"))
                }
                Err(e) => e,
            };
            failures += 1;
            if failures > RETRIES || matches!(error, ClientError::Unauthorized) {
                return Err(error);
            }
            tracing::debug!("upload of {digest} at {offset}: {error}; resuming");
            match self.upload_offset(registry, &loc).await {
                Some((l, o)) if o <= size => (loc, offset) = (l, o),
                _ => (loc, offset) = (self.start_upload(registry, repo).await?, 0),
            }
        }
        self.finish_upload(registry, &loc, digest, &empty).await
    }

    pub async fn put_manifest(
        &self,
        registry: &str,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<()> {
        let resp = self
            .send(
                registry,
                Method::PUT,
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("content-type", media_type)],
                &|| full(bytes.clone()),
            )
            .await?;
        let status = resp.status();
        let body = read_all(resp).await?;
        if !status.is_success() {
            return Err(registry_error(
                status,
                &body,
                &format!("manifest {repo}:{reference}"),
            ));
        }
        Ok(())
    }
}

/// Whose rules decide whether an HTTPS peer's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// A registry's: not on loopback or for an insecure registry.
    Registry,
    /// Always checked.
    Verified,
}

const USER_AGENT: &str = concat!("berth/", env!("CARGO_PKG_VERSION"));

/// `loc` (a `Location` header) as an absolute URL, relative to `base`.
fn resolve(base: &str, loc: &str) -> Result<String> {
    url::Url::parse(base)
        .and_then(|b| b.join(loc))
        .map(String::from)
        .map_err(|e| ClientError::Http(format!("redirect to {loc:?} from {base}: {e}")))
}

fn location(resp: &Response<hyper::body::Incoming>) -> Option<String> {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

/// The repository a `/v2/<name>/…` path (or URL) is about: bearer tokens are
/// scoped to it.
fn repository_of(path: &str) -> &str {
    let Some((_, rest)) = path.split_once("/v2/") else {
        return "";
    };
    ["/blobs/", "/manifests/", "/tags/", "/referrers/"]
        .iter()
        .filter_map(|sep| rest.find(sep))
        .min()
        .map(|i| &rest[..i])
        .unwrap_or("")
}

/// hyper's errors say "client error (Connect)"; the cause says why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}

/// A blob as it arrives from the registry.
pub struct BlobStream(hyper::body::Incoming);

impl BlobStream {
    /// The next piece; `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        while let Some(frame) = self.0.frame().await {
            let frame = frame.map_err(|e| ClientError::Http(error_chain(&e)))?;
            if let Ok(data) = frame.into_data() {
                return Ok(Some(data));
            }
        }
        Ok(None)
    }

    /// All of it.
    pub async fn bytes(self) -> Result<Bytes> {
        self.0
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| ClientError::Http(error_chain(&e)))
    }
}

async fn read_all(resp: Response<hyper::body::Incoming>) -> Result<Bytes> {
    BlobStream(resp.into_body()).bytes().await
}

fn registry_error(status: StatusCode, body: &[u8], what: &str) -> ClientError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let msg = v["errors"][0]["message"]
        .as_str()
        .or_else(|| v["errors"][0]["code"].as_str())
        .map(String::from)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    if status == StatusCode::NOT_FOUND {
        return ClientError::Registry(404, format!("{what}: not found: {msg}"));
    }
    ClientError::Registry(status.as_u16(), format!("{what}: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_url_that_answered() {
        let base = "https://reg:5000/v2/a/blobs/sha256:1?x=1";
        for (loc, want) in [
            ("http://cdn/x", "http://cdn/x"),
            ("//cdn/y", "https://cdn/y"),
            ("/file.txt", "https://reg:5000/file.txt"),
            ("other", "https://reg:5000/v2/a/blobs/other"),
        ] {
            assert_eq!(resolve(base, loc).unwrap(), want, "{loc}");
        }
        assert_eq!(resolve("http://h", "x").unwrap(), "http://h/x");
        assert_eq!(resolve("http://h:1/a?q=/b", "c").unwrap(), "http://h:1/c");
    }

    #[test]
    fn challenges_and_base64() {
        let p = bearer_challenge(r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull,push""#).unwrap();
        assert_eq!(p["realm"], "http://127.0.0.1:1/token");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        assert!(bearer_challenge("Basic realm=x").is_none());
        assert_eq!(base64("user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64("a"), "YQ==");
    }

    #[test]
    fn insecure_and_loopback_only() {
        let s = Settings {
            insecure: vec!["myreg:5000".into(), "10.1.0.0/16".into(), "plain".into()],
            loopback_only: true,
            ..Default::default()
        };
        for yes in [
            "127.0.0.1:5000",
            "localhost",
            "[::1]:5000",
            "myreg:5000",
            "10.1.2.3:443",
            "plain:80",
        ] {
            assert!(s.is_insecure(yes), "{yes}");
        }
        for no in ["myreg:5001", "10.2.0.1", "docker.io", "[2001:db8::1]:5000"] {
            assert!(!s.is_insecure(no), "{no}");
        }
        for ok in [
            "127.0.0.1:5000",
            "localhost:1",
            "localhost",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(s.check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "docker.io",
            "registry-1.docker.io",
            "10.0.0.1:5000",
            "example.com:443",
            "[2001:db8::1]:5000",
        ] {
            assert!(s.check(bad).is_err(), "{bad}");
        }
        assert!(Settings::default().check("docker.io").is_ok());
    }

    #[test]
    fn tokens_are_kept_per_repository() {
        assert_eq!(repository_of("/v2/a/b/blobs/uploads/x"), "a/b");
        assert_eq!(repository_of("https://h:1/v2/a/manifests/blobs/v"), "a");
        assert_eq!(repository_of("/v2/x/tags/list"), "x");
        assert_eq!(repository_of("/v2/"), "");
    }

    #[test]
    fn every_readable_manifest_type_is_asked_for() {
        // A registry answers with one of the types Accept names: each type
        // the client can read must be there, or the registry may convert
        // (or refuse) what it has.
        let accepted: Vec<&str> = ACCEPT_MANIFESTS.split(", ").collect();
        for t in [
            MEDIA_OCI_INDEX,
            MEDIA_DOCKER_LIST,
            MEDIA_OCI_MANIFEST,
            MEDIA_DOCKER_MANIFEST,
        ] {
            assert!(is_index(t) || is_manifest(t), "{t} is readable");
            assert!(accepted.contains(&t), "{t} missing from Accept");
        }
        assert_eq!(
            accepted.len(),
            4,
            "nothing unreadable is asked for: {accepted:?}"
        );
        assert!(hyper::header::HeaderValue::from_str(ACCEPT_MANIFESTS).is_ok());
    }
}
