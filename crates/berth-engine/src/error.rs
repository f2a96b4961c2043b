//! The engine's errors, by what a client can do about them. `berthd` turns
//! each into its HTTP status in one place; in-process callers match on the
//! variant. The internal ones keep their cause (`source`).

use berth_api::{ApiError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or names an impossible thing.
    #[error("{0}")]
    Invalid(String),
    /// No such object.
    #[error("{0}")]
    NotFound(String),
    /// The object's state forbids the operation.
    #[error("{0}")]
    Conflict(String),
    /// Never allowed on this object (removing a predefined network, say).
    #[error("{0}")]
    Forbidden(String),
    /// Already done (the start of a running container).
    #[error("{0}")]
    NotModified(String),
    /// A registry wants credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// The object's configuration has no such operation (`logs` of a
    /// container whose log driver keeps nothing).
    #[error("{0}")]
    NotImplemented(String),
    /// Anything the user could not have prevented.
    #[error("{message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        let m = message.into();
        match kind {
            ErrorKind::InvalidParameter => Error::Invalid(m),
            ErrorKind::NotFound => Error::NotFound(m),
            ErrorKind::Conflict => Error::Conflict(m),
            ErrorKind::Forbidden => Error::Forbidden(m),
            ErrorKind::NotModified => Error::NotModified(m),
            ErrorKind::Unauthorized => Error::Unauthorized(m),
            ErrorKind::NotImplemented => Error::NotImplemented(m),
            ErrorKind::Internal => Error::internal(m),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::Invalid(message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::NotFound(message.into())
    }
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::Conflict(message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::Forbidden(message.into())
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal {
            message: message.into(),
            source: None,
        }
    }
    /// An internal error with its cause kept; the message says it too.
    pub fn caused_by(
        context: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Internal {
            message: format!("{context}: {source}"),
            source: Some(Box::new(source)),
        }
    }
    pub fn no_such_container(name: &str) -> Error {
        Error::NotFound(format!("No such container: {name}"))
    }
    pub fn no_such_image(name: &str) -> Error {
        Error::NotFound(format!("No such image: {name}"))
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::InvalidParameter,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::NotModified(_) => ErrorKind::NotModified,
            Error::Unauthorized(_) => ErrorKind::Unauthorized,
            Error::NotImplemented(_) => ErrorKind::NotImplemented,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }
}

/// The shared crates' parsers (references, filters, versions) answer in
/// the wire type; their class carries over.
impl From<ApiError> for Error {
    fn from(e: ApiError) -> Error {
        Error::new(e.kind, e.message)
    }
}

impl From<berth_runtime::error::RuntimeError> for Error {
    fn from(e: berth_runtime::error::RuntimeError) -> Error {
        use berth_runtime::error::RuntimeError;
        match e {
            RuntimeError::Invalid(m) => Error::Invalid(m),
            // dockerd answers a failed exec with 400 and the runtime's message;
            // the CLI maps "not found"/"permission denied" to 127/126.
            RuntimeError::Exec { message, .. } => Error::Invalid(message),
            other => Error::Internal {
                message: other.to_string(),
                source: Some(Box::new(other)),
            },
        }
    }
}

impl From<berth_store::StoreError> for Error {
    fn from(e: berth_store::StoreError) -> Error {
        use berth_store::StoreError;
        match e {
            StoreError::Invalid(m) => Error::Invalid(m),
            StoreError::NotFound(m) => Error::NotFound(m),
            StoreError::Conflict(m) => Error::Conflict(m),
            other => Error::Internal {
                message: other.to_string(),
                source: Some(Box::new(other)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_internal_errors_keep_their_cause() {
        for kind in [
            ErrorKind::InvalidParameter,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::Forbidden,
            ErrorKind::NotModified,
            ErrorKind::Unauthorized,
            ErrorKind::NotImplemented,
            ErrorKind::Internal,
        ] {
            let e = Error::new(kind, "m");
            assert_eq!((e.kind(), e.to_string().as_str()), (kind, "m"));
        }
        let io = std::io::Error::other("disk on fire");
        let e = Error::caused_by("write config", io);
        assert_eq!(e.to_string(), "write config: disk on fire");
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(source.to_string(), "disk on fire");
        let e: Error = berth_runtime::error::RuntimeError::Io {
            context: "mount".into(),
            source: std::io::Error::other("busy"),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(std::error::Error::source(&e).is_some());
        let e: Error = berth_store::StoreError::NotFound("no such layer".into()).into();
        assert!(matches!(e, Error::NotFound(m) if m == "no such layer"));
    }
}
