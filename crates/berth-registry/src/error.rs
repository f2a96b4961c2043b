//! The distribution spec's error codes, with their HTTP statuses and JSON body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("blob unknown to registry: {0}")]
    BlobUnknown(String),
    #[error("blob upload invalid: {0}")]
    UploadInvalid(String),
    #[error("blob upload unknown to registry: {0}")]
    UploadUnknown(String),
    #[error("provided digest did not match uploaded content: {0}")]
    DigestInvalid(String),
    #[error("manifest references a manifest or blob unknown to registry: {0}")]
    ManifestBlobUnknown(String),
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    #[error("manifest unknown to registry: {0}")]
    ManifestUnknown(String),
    #[error("invalid repository name: {0}")]
    NameInvalid(String),
    #[error("repository name not known to registry: {0}")]
    NameUnknown(String),
    #[error("provided length did not match content length: {0}")]
    SizeInvalid(String),
    #[error("requested range not satisfiable: {0}")]
    RangeInvalid(String),
    #[error("manifest too big")]
    TooBig,
    #[error("the operation is unsupported: {0}")]
    Unsupported(String),
    /// Holds the `WWW-Authenticate` challenge to answer with.
    #[error("authentication required")]
    Unauthorized(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

impl RegistryError {
    fn code_and_status(&self) -> (&'static str, StatusCode) {
        use RegistryError::*;
        match self {
            BlobUnknown(_) => ("BLOB_UNKNOWN", StatusCode::NOT_FOUND),
            UploadInvalid(_) => ("BLOB_UPLOAD_INVALID", StatusCode::BAD_REQUEST),
            UploadUnknown(_) => ("BLOB_UPLOAD_UNKNOWN", StatusCode::NOT_FOUND),
            DigestInvalid(_) => ("DIGEST_INVALID", StatusCode::BAD_REQUEST),
            ManifestBlobUnknown(_) => ("MANIFEST_BLOB_UNKNOWN", StatusCode::BAD_REQUEST),
            ManifestInvalid(_) => ("MANIFEST_INVALID", StatusCode::BAD_REQUEST),
            ManifestUnknown(_) => ("MANIFEST_UNKNOWN", StatusCode::NOT_FOUND),
            NameInvalid(_) => ("NAME_INVALID", StatusCode::BAD_REQUEST),
            NameUnknown(_) => ("NAME_UNKNOWN", StatusCode::NOT_FOUND),
            SizeInvalid(_) => ("SIZE_INVALID", StatusCode::BAD_REQUEST),
            RangeInvalid(_) => ("BLOB_UPLOAD_INVALID", StatusCode::RANGE_NOT_SATISFIABLE),
            TooBig => ("MANIFEST_INVALID", StatusCode::PAYLOAD_TOO_LARGE),
            Unsupported(_) => ("UNSUPPORTED", StatusCode::METHOD_NOT_ALLOWED),
            Unauthorized(_) => ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            Internal(_) => ("UNKNOWN", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_and_status();
        let body = serde_json::json!({"errors": [{"code": code, "message": self.to_string()}]});
        let mut r = (
            status,
            [("content-type", "application/json")],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
            .into_response();
        if let RegistryError::Unauthorized(challenge) = &self {
            if let Ok(v) = axum::http::HeaderValue::from_str(challenge) {
                r.headers_mut()
                    .insert(axum::http::header::WWW_AUTHENTICATE, v);
            }
        }
        r
    }
}
