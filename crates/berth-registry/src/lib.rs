//! Berth's registry server: the OCI distribution API (which is the Docker
//! registry v2 API) over a filesystem store (`storage`), served by `server`.
//! `berth registry serve` runs it.

pub mod error;
pub mod server;
pub mod storage;

pub use error::{RegistryError, Result};
pub use server::{router, Options};
pub use storage::Storage;

/// Serves the registry on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    storage: Storage,
    options: Options,
) -> std::io::Result<()> {
    axum::serve(listener, router(storage, options)).await
}
