//! Build errors, worded as Docker's legacy builder words them.

#[derive(Debug, Clone, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile itself is wrong.
    #[error("dockerfile parse error line {line}: {message}")]
    Parse { line: usize, message: String },
    /// A step failed; `line` is the step's, which Berth adds to dockerd's
    /// words (dockerd does not say where); `code` is a RUN's exit code (the
    /// stream's `errorDetail.code`).
    #[error("{message}{}", line.map(|l| format!(" (Dockerfile line {l})")).unwrap_or_default())]
    Step {
        line: Option<usize>,
        message: String,
        code: Option<i64>,
    },
    /// The backend (engine) failed: store, runtime, I/O.
    #[error("{0}")]
    Backend(String),
}

impl BuildError {
    pub fn parse(line: usize, message: impl Into<String>) -> Self {
        let message = message.into();
        if line == 0 {
            return BuildError::Step {
                line: None,
                message,
                code: None,
            };
        }
        BuildError::Parse { line, message }
    }

    pub fn step(message: impl Into<String>) -> Self {
        BuildError::Step {
            line: None,
            message: message.into(),
            code: None,
        }
    }

    /// A RUN whose command ended with `code`.
    pub fn exited(code: i64, message: impl Into<String>) -> Self {
        BuildError::Step {
            line: None,
            message: message.into(),
            code: Some(code),
        }
    }

    /// A RUN's exit code, for a failed RUN.
    pub fn exit_code(&self) -> Option<i64> {
        match self {
            BuildError::Step { code, .. } => *code,
            _ => None,
        }
    }

    pub fn line(&self) -> Option<usize> {
        match self {
            BuildError::Parse { line, .. } => Some(*line),
            BuildError::Step { line, .. } => *line,
            BuildError::Backend(_) => None,
        }
    }

    /// Attaches the line of the step that failed, if none is set.
    pub fn at(self, at: usize) -> Self {
        match self {
            BuildError::Step {
                line: None,
                message,
                code,
            } => BuildError::Step {
                line: Some(at),
                message,
                code,
            },
            e => e,
        }
    }
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;
