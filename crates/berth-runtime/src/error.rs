#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The container's configuration cannot be run (bad user, bad limit).
    #[error("{0}")]
    Invalid(String),
    /// The container's command could not be started (not found: 127, not executable: 126).
    #[error("{message}")]
    Exec { message: String, code: i32 },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl RuntimeError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
        let context = context.into();
        move |source| RuntimeError::Io { context, source }
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
