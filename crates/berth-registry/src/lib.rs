//! Berth's registry: the server (the OCI distribution API, which is the
//! Docker registry v2 API, over a filesystem store: `storage`, `server`; run by
//! `berth registry serve`) and the `client` the engine pulls and pushes with; `auth` (htpasswd, tokens),
//! `tls`, `config` (the config file), `serve` (running one), `gc`.

pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod gc;
pub mod serve;
pub mod server;
pub mod storage;
pub mod tls;

pub use auth::Auth;
pub use error::{RegistryError, Result};
pub use server::{router, Options};
pub use storage::Storage;
