//! `/volumes/...` handlers.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use berth_engine::volumes::VolumeCreateBody;

use super::{json, json_body, no_content};
use crate::params::Params;
use crate::server::{ApiResult, AppState};

pub async fn list(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    Ok(json(StatusCode::OK, &e.list_volumes(&p.filters()?)?))
}

pub async fn create(State(e): State<AppState>, body: Bytes) -> ApiResult {
    let body: VolumeCreateBody = json_body(&body)?;
    Ok(json(StatusCode::CREATED, &e.create_volume(body)?))
}

pub async fn inspect(State(e): State<AppState>, Path(name): Path<String>) -> ApiResult {
    Ok(json(StatusCode::OK, &e.volume(&name)?))
}

pub async fn remove(
    State(e): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    e.remove_volume(&name, p.bool("force")?)?;
    Ok(no_content())
}

pub async fn prune(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    Ok(json(StatusCode::OK, &e.prune_volumes(&p.filters()?)?))
}
