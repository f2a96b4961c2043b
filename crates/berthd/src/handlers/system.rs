//! `/_ping`, `/version`, `/info`, `/system/df`.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::json;
use crate::server::{ApiResult, AppState};

pub async fn ping(method: Method) -> Response {
    let headers = [
        ("content-type", "text/plain; charset=utf-8"),
        ("cache-control", "no-cache, no-store, must-revalidate"),
        ("pragma", "no-cache"),
    ];
    if method == Method::HEAD {
        (StatusCode::OK, headers).into_response()
    } else {
        (StatusCode::OK, headers, "OK").into_response()
    }
}

pub async fn version(State(e): State<AppState>) -> Response {
    json(StatusCode::OK, &e.version())
}

pub async fn info(State(e): State<AppState>) -> Response {
    json(StatusCode::OK, &e.info())
}

pub async fn df(State(e): State<AppState>) -> ApiResult {
    Ok(json(StatusCode::OK, &e.system_df()?))
}
