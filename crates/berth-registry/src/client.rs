//! The distribution client the engine pulls and pushes with: manifests
//! (with the media types Docker and OCI use), blobs, uploads, mounts, and the
//! Docker token flow (a 401 with `WWW-Authenticate: Bearer` sends us to the
//! realm for a token, with basic credentials if we have them).
//!
//! Plain HTTP only for now: registries on loopback and the `insecure-registries`.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::storage::{
    MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST,
};

pub type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

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

pub struct Client {
    http: hyper_util::client::legacy::Client<HttpConnector, Body>,
    credentials: Option<Credentials>,
    /// `Authorization` values: bearer tokens by registry and repository, basic
    /// credentials by registry.
    tokens: Mutex<HashMap<String, String>>,
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

pub fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

/// A file's bytes as a request body, read as they are sent (layers can be large).
pub fn file(path: &std::path::Path) -> Body {
    use tokio::io::AsyncReadExt;
    let opened = std::fs::File::open(path).map(tokio::fs::File::from_std);
    let stream = futures_util::stream::unfold(Some(opened), |state| async move {
        let mut f = match state? {
            Ok(f) => f,
            Err(e) => return Some((Err(e), None)),
        };
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(hyper::body::Frame::data(Bytes::from(buf))), Some(Ok(f))))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    http_body_util::StreamBody::new(stream).boxed()
}

pub fn full(b: impl Into<Bytes>) -> Body {
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
    pub fn new(credentials: Option<Credentials>) -> Client {
        Client {
            http: hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http(),
            credentials,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Plain HTTP is only for this host's own registries: anything else would
    /// need TLS, which this client does not speak yet, so it is refused before
    /// any traffic leaves (Docker Hub included).
    pub fn check_registry(registry: &str) -> Result<()> {
        let host = match registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => registry
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or(registry),
        };
        let local = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if local {
            Ok(())
        } else {
            Err(ClientError::Http(format!(
                "registry {registry}: only registries on this host (plain HTTP on loopback) are supported by this berthd yet; TLS registries such as Docker Hub are not"
            )))
        }
    }

    fn url(registry: &str, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("http://{registry}{path}")
        }
    }

    /// One request, retried once with a bearer token (or basic credentials)
    /// after a 401. `body` is made again for the retry.
    pub async fn send(
        &self,
        registry: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &(dyn Fn() -> Body + Sync),
    ) -> Result<Response<hyper::body::Incoming>> {
        Self::check_registry(registry)?;
        let url = Self::url(registry, path);
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
        let scope_key = format!("{registry}{}", path.split("/blobs/").next().unwrap_or(""));
        // A token for this repository, or basic credentials this registry asked for
        // before: sent up front, since a 401 may cut a request's body short.
        let known = {
            let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            tokens
                .get(&scope_key)
                .or_else(|| tokens.get(registry))
                .cloned()
        };
        let resp = self
            .http
            .request(build(known.clone())?)
            .await
            .map_err(|e| ClientError::Http(format!("{registry}: {e}")))?;
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
            let token = self.token(&p).await?;
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
        let resp = self
            .http
            .request(build(Some(auth))?)
            .await
            .map_err(|e| ClientError::Http(format!("{registry}: {e}")))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized);
        }
        Ok(resp)
    }

    /// The token flow: GET realm?service=…&scope=…, with basic credentials if any.
    async fn token(&self, p: &HashMap<String, String>) -> Result<String> {
        let realm = p.get("realm").ok_or(ClientError::Unauthorized)?;
        let realm_host = realm
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        Self::check_registry(realm_host)?;
        let query = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            if let Some(s) = p.get("service") {
                q.append_pair("service", s);
            }
            if let Some(s) = p.get("scope") {
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
            .http
            .request(
                r.body(empty())
                    .map_err(|e| ClientError::Http(e.to_string()))?,
            )
            .await
            .map_err(|e| ClientError::Http(format!("token: {e}")))?;
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

    /// A blob's bytes as they stream (the caller verifies the digest).
    pub async fn blob(
        &self,
        registry: &str,
        repo: &str,
        digest: &str,
    ) -> Result<hyper::body::Incoming> {
        let resp = self
            .send(
                registry,
                Method::GET,
                &format!("/v2/{repo}/blobs/{digest}"),
                &[],
                &empty,
            )
            .await?;
        let resp = self.follow(resp).await?;
        if !resp.status().is_success() {
            let status = resp.status();
            let bytes = read_all(resp).await?;
            return Err(registry_error(status, &bytes, &format!("blob {digest}")));
        }
        Ok(resp.into_body())
    }

    /// Blob GETs may redirect to storage elsewhere.
    async fn follow(
        &self,
        mut resp: Response<hyper::body::Incoming>,
    ) -> Result<Response<hyper::body::Incoming>> {
        for _ in 0..5 {
            if !resp.status().is_redirection() {
                return Ok(resp);
            }
            let loc = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ClientError::Http("redirect without a Location".into()))?
                .to_string();
            let host = loc
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or("");
            Self::check_registry(host)?;
            let req = Request::get(loc)
                .body(empty())
                .map_err(|e| ClientError::Http(e.to_string()))?;
            resp = self
                .http
                .request(req)
                .await
                .map_err(|e| ClientError::Http(e.to_string()))?;
        }
        Err(ClientError::Http("too many redirects".into()))
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
    pub async fn mount(
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
            if let Some(loc) = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
            {
                let _ = self.send(registry, Method::DELETE, &loc, &[], &empty).await;
            }
        }
        Ok(resp.status() == StatusCode::CREATED)
    }

    /// A monolithic upload (POST, then PUT with the whole blob).
    pub async fn upload(
        &self,
        registry: &str,
        repo: &str,
        digest: &str,
        body: &(dyn Fn() -> Body + Sync),
    ) -> Result<()> {
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
        let loc = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let bytes = read_all(resp).await?;
        if status != StatusCode::ACCEPTED {
            return Err(registry_error(status, &bytes, "upload"));
        }
        let loc = loc.ok_or_else(|| ClientError::Http("upload without a Location".into()))?;
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

pub async fn read_all(resp: Response<hyper::body::Incoming>) -> Result<Bytes> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ClientError::Http(e.to_string()))
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
    fn challenges_and_base64() {
        let p = bearer_challenge(r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull,push""#).unwrap();
        assert_eq!(p["realm"], "http://127.0.0.1:1/token");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        assert!(bearer_challenge("Basic realm=x").is_none());
        assert_eq!(base64("user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64("a"), "YQ==");
    }

    #[test]
    fn only_this_hosts_registries() {
        for ok in [
            "127.0.0.1:5000",
            "localhost:1",
            "localhost",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(Client::check_registry(ok).is_ok(), "{ok}");
        }
        for bad in [
            "docker.io",
            "registry-1.docker.io",
            "10.0.0.1:5000",
            "example.com:443",
            "[2001:db8::1]:5000",
        ] {
            assert!(Client::check_registry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_values_are_valid() {
        assert!(hyper::header::HeaderValue::from_str(ACCEPT_MANIFESTS).is_ok());
    }
}
