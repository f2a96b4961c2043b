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

pub async fn create(State(e): State<AppState>, RawQuery(q): RawQuery, req: Request) -> ApiResult {
    let p = Params::parse(q.as_deref());
    if let Some(image) = p.get("fromImage").filter(|s| !s.is_empty()) {
        // Pulling arrives with the registry work; say so plainly.
        let tag = p
            .get("tag")
            .filter(|t| !t.is_empty())
            .map(|t| format!(":{t}"))
            .unwrap_or_default();
        return Err(ApiError::not_found(format!(
            "pull access denied for {image}{tag}: pulling from registries is not supported by this berthd yet; load or import the image instead"
        ))
        .into());
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
            tracing::warn!("save failed mid-stream: {}", err.message);
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
        (Method::GET, "json") => Ok(json(StatusCode::OK, &e.inspect_image(&name)?)),
        (Method::GET, "history") => Ok(json(StatusCode::OK, &e.image_history(&name)?)),
        (Method::GET, "get") => save(e, vec![name]).await,
        (Method::POST, "tag") => {
            let repo = p.get("repo").filter(|r| !r.is_empty()).ok_or_else(|| {
                ApiError::bad_request("repository name must have at least one component")
            })?;
            e.tag_image(&name, repo, p.get("tag"))?;
            Ok((StatusCode::CREATED, Body::empty()).into_response())
        }
        (Method::POST, "push") => Err(ApiError::new(
            berth_api::ErrorKind::Internal,
            "pushing to registries is not supported by this berthd yet",
        )
        .into()),
        (Method::DELETE, "") => Ok(json(
            StatusCode::OK,
            &e.remove_image(&name, p.bool("force")?).await?,
        )),
        (m, _) => Err(ApiError::not_found(format!("page not found: {m} /images/{rest}")).into()),
    }
}
