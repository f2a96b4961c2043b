//! The HTTP side of the registry: `/v2/` routes of the OCI distribution spec
//! (and so the Docker registry v2 API). Repository names contain slashes, so
//! paths are split by their last known segment (`/blobs/`, `/manifests/` …).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::auth::{Auth, Grant, Scope};
use crate::error::{RegistryError, Result};
use crate::storage::{check_name, parse_digest, Storage, MEDIA_OCI_INDEX};

/// Server settings besides storage.
#[derive(Default)]
pub struct Options {
    /// Refuse every write (PUT, POST, PATCH, DELETE) with UNSUPPORTED.
    pub read_only: bool,
    pub auth: Auth,
}

struct Registry {
    storage: Storage,
    options: Options,
    /// A lock per upload in progress.
    uploads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub fn router(storage: Storage, options: Options) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(Arc::new(Registry {
            storage,
            options,
            uploads: Mutex::new(HashMap::new()),
        }))
}

impl Registry {
    fn upload_lock(&self, uuid: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(uuid.to_string())
            .or_default()
            .clone()
    }

    fn forget_upload(&self, uuid: &str) {
        self.uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uuid);
    }
}

/// What a `/v2/...` path names.
enum Route {
    Base,
    Catalog,
    Uploads(String),
    Upload(String, String),
    Blob(String, String),
    Manifest(String, String),
    Tags(String),
    Referrers(String, String),
}

fn route(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.into()));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(Route::Uploads(name.into()));
    }
    for (sep, make) in [
        (
            "/blobs/uploads/",
            Route::Upload as fn(String, String) -> Route,
        ),
        ("/blobs/", Route::Blob),
        ("/manifests/", Route::Manifest),
        ("/referrers/", Route::Referrers),
    ] {
        if let Some(i) = rest.rfind(sep) {
            let (name, last) = (&rest[..i], &rest[i + sep.len()..]);
            if !last.is_empty() && !last.contains('/') {
                return Some(make(name.into(), last.into()));
            }
        }
    }
    None
}

impl Route {
    /// What a request on this route needs the client to be allowed (None:
    /// only to be someone, for `/v2/`).
    fn need(&self, method: &Method) -> Option<Scope> {
        let (name, actions): (&str, &[&str]) = match self {
            Route::Base => return None,
            Route::Catalog => {
                return Some(Scope {
                    kind: "registry".into(),
                    name: "catalog".into(),
                    actions: vec!["*".into()],
                })
            }
            Route::Uploads(n) | Route::Upload(n, _) => (n, &["pull", "push"]),
            Route::Tags(n) | Route::Referrers(n, _) => (n, &["pull"]),
            Route::Blob(n, _) | Route::Manifest(n, _) => match *method {
                Method::GET | Method::HEAD => (n, &["pull"]),
                Method::DELETE => (n, &["delete"]),
                _ => (n, &["pull", "push"]),
            },
        };
        Some(Scope::repository(name, actions))
    }
}

fn query(req: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn response(status: StatusCode, headers: &[(&str, String)], body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (header::HeaderName::try_from(*k), HeaderValue::from_str(v))
        {
            h.append(name, value);
        }
    }
    r
}

fn json(status: StatusCode, v: &serde_json::Value, extra: &[(&str, String)]) -> Response {
    let mut headers = vec![("content-type", "application/json".to_string())];
    headers.extend_from_slice(extra);
    response(
        status,
        &headers,
        Body::from(serde_json::to_vec(v).unwrap_or_default()),
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RegistryError::Internal(e.to_string()))?
}

async fn handle(State(reg): State<Arc<Registry>>, req: Request) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let r = match dispatch(reg, req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(%method, %path, "refused: {e}");
            let mut r = e.into_response();
            r.headers_mut().insert(
                "docker-distribution-api-version",
                HeaderValue::from_static("registry/2.0"),
            );
            r
        }
    };
    tracing::info!(%method, %path, status = r.status().as_u16(), "request");
    r
}

async fn dispatch(reg: Arc<Registry>, req: Request) -> Result<Response> {
    if req.uri().path() == "/token" {
        let mut params = query(&req);
        let form = req.method() == Method::POST;
        let headers = req.headers().clone();
        if form {
            let body = axum::body::to_bytes(req.into_body(), 64 * 1024)
                .await
                .map_err(|_| RegistryError::Unsupported("token request too big".into()))?;
            params.extend(url::form_urlencoded::parse(&body).into_owned());
        } else if req.method() != Method::GET {
            return Err(RegistryError::Unsupported(format!(
                "{} on /token",
                req.method()
            )));
        }
        let body = reg.options.auth.issue(&headers, &params, form)?;
        return Ok(json(StatusCode::OK, &body, &[]));
    }
    let Some(route) = route(req.uri().path()) else {
        return Ok(response(
            StatusCode::NOT_FOUND,
            &[],
            Body::from("404 page not found"),
        ));
    };
    let method = req.method().clone();
    let grant = reg
        .options
        .auth
        .check(req.headers(), route.need(&method).as_ref())?;
    if reg.options.read_only && !matches!(method, Method::GET | Method::HEAD) {
        return Err(RegistryError::Unsupported(
            "this registry is read-only".into(),
        ));
    }
    match route {
        Route::Base => Ok(json(StatusCode::OK, &serde_json::json!({}), &[])),
        Route::Catalog => catalog(&reg, &req),
        Route::Tags(name) => {
            check_name(&name)?;
            tags(&reg, &name, &req)
        }
        Route::Uploads(name) => {
            check_name(&name)?;
            match method {
                Method::POST => start_upload(reg, name, req, grant).await,
                _ => Err(RegistryError::Unsupported(format!("{method} on uploads"))),
            }
        }
        Route::Upload(name, uuid) => {
            check_name(&name)?;
            // One request at a time per upload: a chunk cut short is rolled back
            // before the next one starts, and its size is read under the lock.
            let lock = reg.upload_lock(&uuid);
            let _held = lock.lock().await;
            let (owner, size) = reg.storage.upload_state(&uuid)?;
            if owner != name {
                return Err(RegistryError::UploadUnknown(uuid));
            }
            match method {
                Method::GET => Ok(upload_status(StatusCode::NO_CONTENT, &name, &uuid, size)),
                Method::PATCH => {
                    let size = append(&reg, &uuid, size, req).await?;
                    Ok(upload_status(StatusCode::ACCEPTED, &name, &uuid, size))
                }
                Method::PUT => {
                    let q = query(&req);
                    let digest = param(&q, "digest")
                        .ok_or_else(|| {
                            RegistryError::DigestInvalid("the closing PUT needs ?digest=".into())
                        })?
                        .to_string();
                    append(&reg, &uuid, size, req).await?;
                    reg.forget_upload(&uuid);
                    finish(reg, name, uuid, digest).await
                }
                Method::DELETE => {
                    reg.storage.cancel_upload(&uuid)?;
                    reg.forget_upload(&uuid);
                    Ok(response(StatusCode::NO_CONTENT, &[], Body::empty()))
                }
                _ => Err(RegistryError::Unsupported(format!("{method} on an upload"))),
            }
        }
        Route::Blob(name, digest) => {
            check_name(&name)?;
            let hex = parse_digest(&digest)?;
            match method {
                Method::GET | Method::HEAD => {
                    get_blob(&reg, &name, &hex, &digest, &method, req.headers()).await
                }
                Method::DELETE => {
                    reg.storage.delete_blob(&name, &hex)?;
                    Ok(response(StatusCode::ACCEPTED, &[], Body::empty()))
                }
                _ => Err(RegistryError::Unsupported(format!("{method} on a blob"))),
            }
        }
        Route::Manifest(name, reference) => {
            check_name(&name)?;
            match method {
                Method::GET | Method::HEAD => {
                    let m = reg.storage.get_manifest(&name, &reference)?;
                    let headers = [
                        ("content-type", m.media_type.clone()),
                        ("docker-content-digest", m.digest.clone()),
                        ("content-length", m.bytes.len().to_string()),
                    ];
                    let body = if method == Method::HEAD {
                        Body::empty()
                    } else {
                        Body::from(m.bytes)
                    };
                    Ok(response(StatusCode::OK, &headers, body))
                }
                Method::PUT => put_manifest(reg, name, reference, req).await,
                Method::DELETE => {
                    reg.storage.delete_manifest(&name, &reference)?;
                    Ok(response(StatusCode::ACCEPTED, &[], Body::empty()))
                }
                _ => Err(RegistryError::Unsupported(format!(
                    "{method} on a manifest"
                ))),
            }
        }
        Route::Referrers(name, digest) => {
            check_name(&name)?;
            let q = query(&req);
            let filter = param(&q, "artifactType");
            let manifests = reg.storage.referrers(&name, &digest, filter)?;
            let extra: Vec<(&str, String)> = filter
                .map(|_| ("oci-filters-applied", "artifactType".to_string()))
                .into_iter()
                .collect();
            let mut headers = vec![("content-type", MEDIA_OCI_INDEX.to_string())];
            headers.extend(extra);
            let body = serde_json::json!({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": manifests});
            Ok(response(
                StatusCode::OK,
                &headers,
                Body::from(serde_json::to_vec(&body).unwrap_or_default()),
            ))
        }
    }
}

/// `n` and `last` pagination with an RFC 5988 `Link` to the next page.
fn page(items: Vec<String>, req: &Request, base: &str) -> Result<(Vec<String>, Option<String>)> {
    let q = query(req);
    let last = param(&q, "last");
    let mut items: Vec<String> = items
        .into_iter()
        .filter(|i| last.is_none_or(|l| i.as_str() > l))
        .collect();
    let Some(n) = param(&q, "n") else {
        return Ok((items, None));
    };
    let n: usize = n
        .parse()
        .map_err(|_| RegistryError::Unsupported(format!("invalid n={n}")))?;
    if items.len() <= n {
        return Ok((items, None));
    }
    items.truncate(n);
    let next = (n > 0).then(|| {
        let last = items.last().cloned().unwrap_or_default();
        format!(
            "<{base}?n={n}&last={}>; rel=\"next\"",
            url::form_urlencoded::byte_serialize(last.as_bytes()).collect::<String>()
        )
    });
    Ok((items, next))
}

fn catalog(reg: &Registry, req: &Request) -> Result<Response> {
    let (repos, link) = page(reg.storage.catalog(), req, "/v2/_catalog")?;
    let extra: Vec<(&str, String)> = link.map(|l| ("link", l)).into_iter().collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"repositories": repos}),
        &extra,
    ))
}

fn tags(reg: &Registry, name: &str, req: &Request) -> Result<Response> {
    let (tags, link) = page(
        reg.storage.tags(name)?,
        req,
        &format!("/v2/{name}/tags/list"),
    )?;
    let extra: Vec<(&str, String)> = link.map(|l| ("link", l)).into_iter().collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"name": name, "tags": tags}),
        &extra,
    ))
}

fn upload_status(status: StatusCode, name: &str, uuid: &str, size: u64) -> Response {
    // An empty upload has no last byte; registries answer "0-0" then too.
    let range = format!("0-{}", size.saturating_sub(1));
    response(
        status,
        &[
            ("location", format!("/v2/{name}/blobs/uploads/{uuid}")),
            ("range", range),
            ("docker-upload-uuid", uuid.to_string()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}

async fn start_upload(
    reg: Arc<Registry>,
    name: String,
    req: Request,
    grant: Grant,
) -> Result<Response> {
    let q = query(&req);
    if let Some(mount) = param(&q, "mount") {
        let hex = parse_digest(mount)?;
        if let Some(from) = param(&q, "from") {
            check_name(from)?;
            // Mounting reads `from`: the client must be allowed to pull it.
            if grant.allows(&Scope::repository(from, &["pull"]))
                && reg.storage.mount(&name, from, &hex)?
            {
                return Ok(blob_created(&name, mount));
            }
        }
        // Not mountable: an ordinary upload session, as the spec allows.
    }
    let uuid = reg.storage.start_upload(&name)?;
    if let Some(digest) = param(&q, "digest").map(String::from) {
        // Single-POST monolithic upload.
        append(&reg, &uuid, 0, req).await?;
        return finish(reg, name, uuid, digest).await;
    }
    Ok(upload_status(StatusCode::ACCEPTED, &name, &uuid, 0))
}

fn blob_created(name: &str, digest: &str) -> Response {
    response(
        StatusCode::CREATED,
        &[
            ("location", format!("/v2/{name}/blobs/{digest}")),
            ("docker-content-digest", digest.to_string()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}

/// Appends the request body to the upload at `size`, checking `Content-Range`
/// when given (chunks must come in order). Returns the new size.
async fn append(reg: &Registry, uuid: &str, size: u64, req: Request) -> Result<u64> {
    if let Some(range) = req
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
    {
        let start = range
            .trim_start_matches("bytes ")
            .split('-')
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| RegistryError::RangeInvalid(format!("bad Content-Range {range:?}")))?;
        if start != size {
            return Err(RegistryError::RangeInvalid(format!(
                "the upload is at {size}, the chunk starts at {start}"
            )));
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let path = reg.storage.upload_data(uuid)?;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .await
        .map_err(|e| RegistryError::Internal(format!("upload: {e}")))?;
    file.seek(std::io::SeekFrom::Start(size))
        .await
        .map_err(|e| RegistryError::Internal(format!("upload: {e}")))?;
    let mut stream = req.into_body().into_data_stream();
    let mut written = 0u64;
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                file.write_all(&c)
                    .await
                    .map_err(|e| RegistryError::Internal(format!("upload: {e}")))?;
                written += c.len() as u64;
            }
            Err(e) => {
                failed = Some(e.to_string());
                break;
            }
        }
    }
    file.flush()
        .await
        .map_err(|e| RegistryError::Internal(format!("upload: {e}")))?;
    if failed.is_some() || declared.is_some_and(|d| d != written) {
        // A cut connection: what arrived is dropped, so the client resumes from `size`.
        file.set_len(size)
            .await
            .map_err(|e| RegistryError::Internal(format!("upload: {e}")))?;
        return Err(RegistryError::SizeInvalid(format!(
            "received {written} bytes of {}",
            declared
                .map(|d| d.to_string())
                .unwrap_or_else(|| "a stream that broke".into())
        )));
    }
    Ok(size + written)
}

async fn finish(
    reg: Arc<Registry>,
    name: String,
    uuid: String,
    digest: String,
) -> Result<Response> {
    let (n, d) = (name.clone(), digest.clone());
    blocking(move || reg.storage.finish_upload(&n, &uuid, &d)).await?;
    Ok(blob_created(&name, &digest))
}

/// `Range: bytes=a-b` (or `a-`) against a blob of `len` bytes.
fn byte_range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>> {
    let Some(r) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let bad = || RegistryError::RangeInvalid(format!("bad Range {r:?} for {len} bytes"));
    let spec = r.strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let start: u64 = a.parse().map_err(|_| bad())?;
    let end: u64 = if b.is_empty() {
        len.saturating_sub(1)
    } else {
        b.parse().map_err(|_| bad())?
    };
    if start > end || end >= len {
        return Err(bad());
    }
    Ok(Some((start, end)))
}

async fn get_blob(
    reg: &Registry,
    name: &str,
    hex: &str,
    digest: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response> {
    let len = reg
        .storage
        .blob_size(name, hex)
        .ok_or_else(|| RegistryError::BlobUnknown(digest.to_string()))?;
    let range = byte_range(headers, len)?;
    let (status, start, count) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, len),
    };
    let mut out = vec![
        ("content-type", "application/octet-stream".to_string()),
        ("docker-content-digest", digest.to_string()),
        ("content-length", count.to_string()),
        ("accept-ranges", "bytes".to_string()),
    ];
    if let Some((a, b)) = range {
        out.push(("content-range", format!("bytes {a}-{b}/{len}")));
    }
    if method == Method::HEAD {
        return Ok(response(status, &out, Body::empty()));
    }
    let mut file = tokio::fs::File::open(reg.storage.blob_path(hex))
        .await
        .map_err(|e| RegistryError::Internal(format!("open blob: {e}")))?;
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|e| RegistryError::Internal(format!("seek blob: {e}")))?;
    let stream = futures_util::stream::unfold(
        (file.take(count), vec![0u8; 256 * 1024]),
        |(mut f, mut buf)| async move {
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&buf[..n])),
                    (f, buf),
                )),
                Err(e) => Some((Err(e), (f, buf))),
            }
        },
    );
    Ok(response(status, &out, Body::from_stream(stream)))
}

async fn put_manifest(
    reg: Arc<Registry>,
    name: String,
    reference: String,
    req: Request,
) -> Result<Response> {
    let q = query(&req);
    let extra_tags: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.clone())
        .collect();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(req.into_body(), crate::storage::MAX_MANIFEST + 1)
        .await
        .map_err(|_| RegistryError::TooBig)?;
    let (n, r) = (name.clone(), reference.clone());
    let (digest, subject, tagged) = blocking(move || {
        let (digest, subject) = reg.storage.put_manifest(&n, &r, &bytes, &content_type)?;
        // `PUT …/manifests/<digest>?tag=a&tag=b` tags it too.
        let mut tagged = Vec::new();
        if r.contains(':') {
            for t in &extra_tags {
                reg.storage.put_manifest(&n, t, &bytes, &content_type)?;
                tagged.push(t.clone());
            }
        }
        Ok((digest, subject, tagged))
    })
    .await?;
    let mut headers = vec![
        ("location", format!("/v2/{name}/manifests/{digest}")),
        ("docker-content-digest", digest.clone()),
        ("content-length", "0".into()),
    ];
    if let Some(s) = subject {
        headers.push(("oci-subject", s));
    }
    if !tagged.is_empty() {
        headers.push(("oci-tag", tagged.join(", ")));
    }
    Ok(response(StatusCode::CREATED, &headers, Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_split_names_with_slashes() {
        assert!(matches!(route("/v2/"), Some(Route::Base)));
        assert!(matches!(route("/v2/_catalog"), Some(Route::Catalog)));
        assert!(matches!(route("/v2/a/b/tags/list"), Some(Route::Tags(n)) if n == "a/b"));
        assert!(matches!(route("/v2/a/b/blobs/uploads/"), Some(Route::Uploads(n)) if n == "a/b"));
        assert!(
            matches!(route("/v2/a/blobs/uploads/abc"), Some(Route::Upload(n, u)) if n == "a" && u == "abc")
        );
        assert!(
            matches!(route("/v2/x/manifests/blobs/manifests/v1"), Some(Route::Manifest(n, r)) if n == "x/manifests/blobs" && r == "v1")
        );
        assert!(
            matches!(route("/v2/a/blobs/sha256:00"), Some(Route::Blob(n, d)) if n == "a" && d == "sha256:00")
        );
        assert!(route("/v3/").is_none() && route("/v2/a/unknown/x").is_none());
    }
}
