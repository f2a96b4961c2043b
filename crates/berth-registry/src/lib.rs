//! Berth's registry: the server (the OCI distribution API, which is the
//! Docker registry v2 API, over a filesystem store: `storage`, `server`; run by
//! `berth registry serve`) and the `client` the engine pulls and pushes with.

pub mod client;
pub mod error;
pub mod server;
pub mod storage;

pub use error::{RegistryError, Result};
pub use server::{router, Options};
pub use storage::Storage;

/// Serves `app` (from [`router`]) on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
    axum::serve(listener, app).await
}
