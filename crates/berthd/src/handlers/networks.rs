//! `/networks/...` handlers.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use berth_api::network::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};
use berth_api::ApiError;
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

pub async fn inspect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let n = e.inspect_network(&id)?;
    // A network of another scope than the one asked for is not found, as dockerd.
    if p.get("scope")
        .is_some_and(|s| !s.is_empty() && s != n.scope)
    {
        return Err(ApiError::not_found(format!("network {id} not found")).into());
    }
    Ok(json(StatusCode::OK, &n))
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
    if req.container.is_empty() {
        return Err(ApiError::bad_request("invalid name or ID supplied: \"\"").into());
    }
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
    // `Force` matters to dockerd for swarm endpoints only; a local one always
    // goes. Forced, a container that is gone is an endpoint that is not there.
    let found = e.container(&req.container);
    if req.force && found.is_err() {
        e.find_network(&id)?;
        return Err(ApiError::not_found(format!("endpoint {} not found", req.container)).into());
    }
    e.disconnect_network(&id, &req.container).await?;
    Ok(super::ok_empty())
}
