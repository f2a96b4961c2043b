//! The one error type every layer converts into at the HTTP boundary.
//! The body is `{"message": "..."}` exactly as dockerd sends it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// 400: the request is malformed or names an impossible thing.
    InvalidParameter,
    /// 404: no such object.
    NotFound,
    /// 409: the object's state forbids the operation.
    Conflict,
    /// 403: never allowed on this object (removing a predefined network, say).
    Forbidden,
    /// 304: the operation was already done (start of a running container).
    NotModified,
    /// 401: a registry wants credentials (pull, push, login).
    Unauthorized,
    /// 501: the object's configuration has no such operation (`logs` of a
    /// container whose log driver keeps nothing).
    NotImplemented,
    /// 500: anything the user could not have prevented.
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidParameter => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotModified => 304,
            ErrorKind::Unauthorized => 401,
            ErrorKind::NotImplemented => 501,
            ErrorKind::Internal => 500,
        }
    }

    pub fn from_status(status: u16) -> Self {
        match status {
            400 => ErrorKind::InvalidParameter,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            403 => ErrorKind::Forbidden,
            304 => ErrorKind::NotModified,
            401 => ErrorKind::Unauthorized,
            501 => ErrorKind::NotImplemented,
            _ => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

/// The JSON body of an error response.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn no_such_container(name: &str) -> Self {
        Self::not_found(format!("No such container: {name}"))
    }
    pub fn no_such_image(name: &str) -> Self {
        Self::not_found(format!("No such image: {name}"))
    }
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody {
            message: self.message.clone(),
        })
        .unwrap_or_else(|_| "{\"message\":\"internal error\"}".into())
    }
}
