//! `/images/...` handlers. Image names contain slashes, so everything under
//! `/images/{name}` is dispatched here by its last segment, as dockerd's
//! `{name:.*}` routes do.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_api::ApiError;
use serde_json::json;

use super::json;
use crate::params::Params;
use crate::server::{ApiResult, AppState};
use crate::streams::{BodyReader, BodyWriter};

pub async fn list(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    Ok(json(
        StatusCode::OK,
        &e.list_images(p.bool("all")?, &p.filters()?, p.bool("shared-size")?)?,
    ))
}

/// JSON-lines progress body, as the docker CLI reads for pull/import/load.
fn progress(lines: &[serde_json::Value]) -> Response {
    let mut body = Vec::new();
    for l in lines {
        body.extend_from_slice(&serde_json::to_vec(l).unwrap_or_default());
        body.push(b'\n');
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// A header holding base64url JSON (docker pads it or not); None when absent or empty.
pub(crate) fn base64_json(
    headers: &axum::http::HeaderMap,
    name: &str,
) -> Result<Option<serde_json::Value>, ApiError> {
    use base64::Engine as _;
    let Some(raw) = headers.get(name).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim_end_matches('='))
        })
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .map_err(|_| ApiError::bad_request(format!("invalid {name} header: not base64")))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("invalid {name} header: {e}")))
}

/// `{"username": …, "password": …}` as credentials; none without a username.
pub(crate) fn credentials_of(v: &serde_json::Value) -> Option<berth_registry::client::Credentials> {
    let user = v["username"].as_str().filter(|u| !u.is_empty())?;
    Some(berth_registry::client::Credentials {
        username: user.to_string(),
        password: v["password"].as_str().unwrap_or_default().to_string(),
    })
}

/// `X-Registry-Auth`: base64url JSON with `username` and `password` (an empty or `{}` header means none).
fn registry_credentials(
    headers: &axum::http::HeaderMap,
) -> Result<Option<berth_registry::client::Credentials>, ApiError> {
    Ok(base64_json(headers, "x-registry-auth")?.and_then(|v| credentials_of(&v)))
}

/// A JSON-lines progress stream fed by `work`; its error becomes the last line, as dockerd does.
fn progress_stream<F, Fut>(work: F) -> Response
where
    F: FnOnce(tokio::sync::mpsc::UnboundedSender<serde_json::Value>) -> Fut,
    Fut: std::future::Future<Output = Result<(), berth_engine::Error>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let fut = work(tx.clone());
    tokio::spawn(async move {
        if let Err(err) = fut.await {
            let message = err.to_string();
            let _ = tx.send(json!({"errorDetail": {"message": message}, "error": message}));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let v = rx.recv().await?;
        let mut line = serde_json::to_vec(&v).unwrap_or_default();
        line.push(b'\n');
        Some((
            Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line)),
            rx,
        ))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `POST /auth` (docker login): the credentials are checked against the registry.
pub async fn auth(State(e): State<AppState>, body: axum::body::Bytes) -> ApiResult {
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad_request(format!("invalid auth config: {err}")))?;
    let server = v["serveraddress"].as_str().unwrap_or_default();
    let creds = berth_registry::client::Credentials {
        username: v["username"].as_str().unwrap_or_default().to_string(),
        password: v["password"].as_str().unwrap_or_default().to_string(),
    };
    e.login(server, creds).await?;
    Ok(json(
        StatusCode::OK,
        &json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    ))
}

/// `GET /distribution/{name}/json`: the registry's descriptor and platforms for an image.
pub async fn distribution(
    State(e): State<AppState>,
    Path(rest): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    let name = rest
        .strip_suffix("/json")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::not_found(format!("page not found: /distribution/{rest}")))?;
    let creds = registry_credentials(&headers)?;
    Ok(json(
        StatusCode::OK,
        &e.distribution_inspect(name, creds).await?,
    ))
}

pub async fn create(State(e): State<AppState>, RawQuery(q): RawQuery, req: Request) -> ApiResult {
    let p = Params::parse(q.as_deref());
    if let Some(image) = p.get("fromImage").filter(|s| !s.is_empty()) {
        let reference = match p.get("tag").filter(|t| !t.is_empty()) {
            Some(t) if t.contains(':') => format!("{image}@{t}"),
            Some(t) => format!("{image}:{t}"),
            None => image.to_string(),
        };
        // A reference that cannot be one is refused before the stream starts, as dockerd.
        berth_api::reference::ImageRef::parse(&reference)?;
        let platform = p
            .get("platform")
            .filter(|s| !s.is_empty())
            .map(String::from);
        let creds = registry_credentials(req.headers())?;
        // No tag in either place: every tag, as the API says (`docker pull -a`).
        // (A `:` in the last path component is a tag; before a `/`, a port.)
        let all_tags = p.get("tag").is_none_or(|t| t.is_empty())
            && !image.contains('@')
            && !image
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':'));
        return Ok(progress_stream(move |tx| async move {
            if all_tags {
                e.pull_all_tags(&reference, platform.as_deref(), creds, tx)
                    .await
            } else {
                e.pull_image(&reference, platform.as_deref(), creds, tx)
                    .await
                    .map(drop)
            }
        }));
    }
    match p.get("fromSrc") {
        Some("-") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "importing from a URL ({other}) is not supported; pipe the archive with fromSrc=-"
            ))
            .into())
        }
        None => return Err(ApiError::bad_request("fromImage or fromSrc is required").into()),
    }
    let reader = BodyReader::new(req.into_body());
    let id = e
        .import_image(
            reader,
            p.get("repo").map(String::from),
            p.get("tag").map(String::from),
            p.all("changes"),
            p.get("message").unwrap_or("").to_string(),
        )
        .await?;
    Ok(progress(&[json!({"status": id})]))
}

pub async fn load(State(e): State<AppState>, RawQuery(q): RawQuery, req: Request) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let quiet = p.bool("quiet")?;
    let messages = e.load_images(BodyReader::new(req.into_body())).await?;
    let _ = quiet;
    Ok(progress(
        &messages
            .iter()
            .map(|m| json!({"stream": format!("{m}\n")}))
            .collect::<Vec<_>>(),
    ))
}

async fn save(e: AppState, names: Vec<String>) -> ApiResult {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given").into());
    }
    e.check_images(&names)?;
    let (writer, body) = BodyWriter::new();
    tokio::spawn(async move {
        if let Err(err) = e.save_images(names, writer).await {
            tracing::warn!("save failed mid-stream: {}", err);
        }
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-tar")],
        body,
    )
        .into_response())
}

pub async fn save_many(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    save(e, Params::parse(q.as_deref()).all("names")).await
}

pub async fn prune(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    Ok(json(StatusCode::OK, &e.prune_images(p.filters()?).await?))
}

pub async fn by_name(
    State(e): State<AppState>,
    method: Method,
    headers: axum::http::HeaderMap,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let (name, action) = match rest.rsplit_once('/') {
        Some((n, a)) if ["json", "history", "get", "tag", "push"].contains(&a) => {
            (n.to_string(), a)
        }
        _ => (rest.clone(), ""),
    };
    match (method, action) {
        (Method::GET, "json") => {
            let mut v = serde_json::to_value(e.inspect_image(&name)?)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            // `Container` and `ContainerConfig`, which moby dropped in API 1.45,
            // are kept at every version: docker-compose 1.x asks for the
            // server's version and reads ContainerConfig on every recreate
            // (against dockerd 25+ it fails with KeyError: 'ContainerConfig').
            if let Some(m) = v.as_object_mut() {
                let config = m.get("Config").cloned().unwrap_or_default();
                m.insert("Container".into(), json!(""));
                m.insert("ContainerConfig".into(), config);
            }
            Ok(json(StatusCode::OK, &v))
        }
        (Method::GET, "history") => Ok(json(StatusCode::OK, &e.image_history(&name)?)),
        (Method::GET, "get") => save(e, vec![name]).await,
        (Method::POST, "tag") => {
            let repo = p.get("repo").filter(|r| !r.is_empty()).ok_or_else(|| {
                ApiError::bad_request("repository name must have at least one component")
            })?;
            e.tag_image(&name, repo, p.get("tag"))?;
            Ok((StatusCode::CREATED, Body::empty()).into_response())
        }
        (Method::POST, "push") => {
            let creds = registry_credentials(&headers)?;
            let tag = p.get("tag").map(String::from);
            Ok(progress_stream(move |tx| async move {
                e.push_image(&name, tag.as_deref(), creds, tx).await
            }))
        }
        (Method::DELETE, "") => Ok(json(
            StatusCode::OK,
            &e.remove_image(&name, p.bool("force")?).await?,
        )),
        (m, _) => Err(ApiError::not_found(format!("page not found: {m} /images/{rest}")).into()),
    }
}
