//! Thin adaptors from Engine API requests to `berth-engine` calls.

pub mod build;
pub mod containers;
pub mod events;
pub mod exec;
pub mod images;
pub mod networks;
pub mod system;
pub mod volumes;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_api::ApiError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Parses a JSON body into `T`, answering malformed input with a Docker-style 400.
pub fn json_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

pub fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(mut b) => {
            b.push(b'\n');
            (status, [("content-type", "application/json")], b).into_response()
        }
        Err(e) => crate::server::HttpError(ApiError::internal(e.to_string())).into_response(),
    }
}

/// 200 with no body, as dockerd answers connect and disconnect.
pub fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
