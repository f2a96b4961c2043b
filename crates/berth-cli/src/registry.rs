//! `berth registry serve`: Berth's own registry server (berth-registry).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::{CliError, Result};

#[derive(Subcommand, Debug)]
pub enum RegistryCmd {
    /// Serve a registry (OCI distribution / Docker registry v2 API)
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed)
    #[arg(long, default_value = "127.0.0.1:5000")]
    listen: String,
    /// Directory holding the registry's blobs, manifests and uploads
    #[arg(long)]
    storage: PathBuf,
    /// Serve pulls only: every write is refused
    #[arg(long = "read-only")]
    read_only: bool,
    /// An htpasswd file (bcrypt): every request then needs basic credentials
    #[arg(long)]
    htpasswd: Option<PathBuf>,
}

pub async fn run(cmd: RegistryCmd) -> Result {
    match cmd {
        RegistryCmd::Serve(a) => {
            let storage = berth_registry::Storage::open(&a.storage).map_err(|e| {
                CliError::Usage(format!("registry storage {}: {e}", a.storage.display()))
            })?;
            let htpasswd =
                match &a.htpasswd {
                    Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                        CliError::Usage(format!("htpasswd file {}: {e}", p.display()))
                    })?),
                    None => None,
                };
            let options = berth_registry::Options {
                read_only: a.read_only,
                htpasswd,
            };
            // A bad htpasswd file fails here, before the address is announced.
            let app = berth_registry::router(storage, options).map_err(CliError::Usage)?;
            let listener = tokio::net::TcpListener::bind(&a.listen).await?;
            println!("listening on {}", listener.local_addr()?);
            berth_registry::serve(listener, app).await?;
            Ok(())
        }
    }
}
