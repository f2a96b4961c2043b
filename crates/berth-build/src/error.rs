//! Build errors, worded as Docker's legacy builder words them.

#[derive(Debug, Clone, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile itself is wrong.
    #[error("Dockerfile parse error line {line}: {message}")]
    Parse { line: usize, message: String },
    /// A step failed; `line` is the step's.
    #[error("{message}{}", line.map(|l| format!(" (Dockerfile line {l})")).unwrap_or_default())]
    Step {
        line: Option<usize>,
        message: String,
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
            };
        }
        BuildError::Parse { line, message }
    }

    pub fn step(message: impl Into<String>) -> Self {
        BuildError::Step {
            line: None,
            message: message.into(),
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
            } => BuildError::Step {
                line: Some(at),
                message,
            },
            e => e,
        }
    }
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;
