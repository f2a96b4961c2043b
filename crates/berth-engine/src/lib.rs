#![recursion_limit = "256"]
//! The objects users see — containers and images — and their life cycles.
//! A plain library: `berthd` adapts HTTP to it, tests can drive it in-process.
//! Errors are `crate::Error`s: the engine decides what is a 404 or a 409.

pub mod build;
pub mod config;
pub mod containers;
pub mod distribution;
pub mod engine;
pub mod error;
pub mod events;
pub mod images;
pub mod names;
pub mod networks;
pub mod system;
pub mod volumes;

pub use config::EngineConfig;
pub use engine::Engine;
pub use error::Error;

pub type Result<T, E = crate::Error> = std::result::Result<T, E>;

/// Runs blocking work (file systems, the supervisor, SQLite) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::Error::caused_by("task failed", e))?
}
