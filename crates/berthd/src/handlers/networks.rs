//! `/networks/...` handlers.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use berth_api::network::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};
use serde_json::json;

use super::{json, json_body};
use crate::params::Params;
use crate::server::{ApiResult, AppState};

pub async fn list(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    Ok(json(StatusCode::OK, &e.list_networks(&p.filters()?)?))
}

pub async fn create(State(e): State<AppState>, body: Bytes) -> ApiResult {
    let req: NetworkCreateRequest = json_body(&body)?;
    let made = e.create_network(req).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({"Id": made.id, "Warning": made.warning}),
    ))
}

pub async fn inspect(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(json(StatusCode::OK, &e.inspect_network(&id)?))
}

pub async fn remove(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    e.remove_network(&id).await?;
    Ok(super::no_content())
}

pub async fn prune(State(e): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let deleted = e.prune_networks(&p.filters()?).await?;
    // dockerd: null when nothing went.
    let deleted = (!deleted.is_empty()).then_some(deleted);
    Ok(json(StatusCode::OK, &json!({ "NetworksDeleted": deleted })))
}

pub async fn connect(State(e): State<AppState>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let req: NetworkConnectRequest = json_body(&body)?;
    e.connect_network(&id, &req.container, req.endpoint_config)
        .await?;
    Ok(super::ok_empty())
}

pub async fn disconnect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let req: NetworkDisconnectRequest = json_body(&body)?;
    // `Force` matters to dockerd for swarm endpoints only; a local one always goes.
    e.disconnect_network(&id, &req.container).await?;
    Ok(super::ok_empty())
}
