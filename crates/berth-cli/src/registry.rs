//! `berth registry serve` and `berth registry gc`: Berth's own registry server
//! (berth-registry). A config file (YAML or TOML, Distribution's key names)
//! sets what the flags do not; flags win.

use std::path::PathBuf;

use berth_registry::config::{Config, Token};
use berth_registry::serve::{ServeSettings, StorageLock};
use clap::{Args, Subcommand};

use crate::{CliError, Result};

#[derive(Subcommand, Debug)]
pub enum RegistryCmd {
    /// Serve a registry (OCI distribution / Docker registry v2 API)
    Serve(Box<ServeArgs>),
    /// Remove the blobs no manifest references (the registry must not be serving writes)
    Gc(GcArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A config file, YAML or TOML (by its extension)
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:5000; port 0 picks a free one; the address is printed)
    #[arg(long)]
    listen: Option<String>,
    /// Directory holding the registry's blobs, manifests and uploads
    #[arg(long)]
    storage: Option<PathBuf>,
    /// Serve pulls only: every write is refused
    #[arg(long = "read-only")]
    read_only: bool,
    /// An htpasswd file (bcrypt): basic auth, or the users tokens are issued to
    #[arg(long)]
    htpasswd: Option<PathBuf>,
    /// TLS certificate chain (PEM)
    #[arg(long = "tls-cert", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long = "tls-key", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A CA whose certificates clients must present (mutual TLS; repeatable)
    #[arg(long = "tls-client-ca")]
    tls_client_ca: Vec<PathBuf>,
    /// Token auth: clients need bearer tokens, issued at /token to --htpasswd users
    #[arg(long)]
    token: bool,
    /// Token realm sent in challenges (default: this server's /token)
    #[arg(long = "token-realm")]
    token_realm: Option<String>,
    /// Token service name (default berth-registry)
    #[arg(long = "token-service")]
    token_service: Option<String>,
    /// File holding the key tokens are signed with (default: random per process)
    #[arg(long = "token-secret")]
    token_secret: Option<PathBuf>,
    /// error, warn, info (default), debug or trace
    #[arg(long = "log-level")]
    log_level: Option<String>,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    /// A config file naming the storage
    #[arg(long)]
    config: Option<PathBuf>,
    /// The registry's storage directory
    #[arg(long)]
    storage: Option<PathBuf>,
    /// Say what would go, remove nothing
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Also remove manifests no tag reaches, and what only they reference
    #[arg(long = "delete-untagged")]
    delete_untagged: bool,
    /// Remove uploads untouched for this many hours
    #[arg(long = "upload-age-hours", default_value_t = 168)]
    upload_age_hours: u64,
}

fn config(path: &Option<PathBuf>) -> Result<Config> {
    match path {
        Some(p) => Config::load(p).map_err(CliError::Usage),
        None => Ok(Config::default()),
    }
}

fn log_to_stderr(level: &str) -> Result {
    if !["error", "warn", "info", "debug", "trace"].contains(&level) {
        return Err(CliError::Usage(format!(
            "invalid log level {level:?}: error, warn, info, debug or trace"
        )));
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "berth_registry={level}"
        )))
        .init();
    Ok(())
}

pub async fn run(cmd: RegistryCmd) -> Result {
    match cmd {
        RegistryCmd::Serve(a) => {
            let a = *a;
            let file = config(&a.config)?;
            let level = a
                .log_level
                .clone()
                .or_else(|| file.log.level.clone())
                .unwrap_or_else(|| "info".into());
            log_to_stderr(&level)?;
            for key in file.ignored() {
                tracing::warn!("config file: {key} is not supported and is ignored");
            }
            let mut s = ServeSettings::from_config(file);
            if let Some(l) = a.listen {
                s.listen = l;
            }
            if let Some(d) = a.storage {
                s.storage = d;
            }
            s.read_only |= a.read_only;
            if a.htpasswd.is_some() {
                s.htpasswd = a.htpasswd;
            }
            if let (Some(c), Some(k)) = (a.tls_cert, a.tls_key) {
                s.tls = Some((c, k));
            }
            if !a.tls_client_ca.is_empty() {
                s.client_cas = a.tls_client_ca;
            }
            let any_token_flag = a.token
                || a.token_realm.is_some()
                || a.token_service.is_some()
                || a.token_secret.is_some();
            if any_token_flag {
                let t = s.token.get_or_insert_with(Token::default);
                t.realm = a.token_realm.or(t.realm.take());
                t.service = a.token_service.or(t.service.take());
                t.secret = a.token_secret.or(t.secret.take());
            }
            berth_registry::serve::run(s, |addr| {
                // Tests and scripts read this line for the port.
                println!("listening on {addr}");
            })
            .await
            .map_err(CliError::Usage)
        }
        RegistryCmd::Gc(a) => {
            let file = config(&a.config)?;
            let dir = a
                .storage
                .or_else(|| file.storage.filesystem.map(|f| f.rootdirectory))
                .ok_or_else(|| CliError::Usage("gc needs --storage DIR".into()))?;
            let _lock = StorageLock::take(&dir, true).map_err(CliError::Usage)?;
            let storage = berth_registry::Storage::open(&dir)
                .map_err(|e| CliError::Usage(format!("registry storage {}: {e}", dir.display())))?;
            let options = berth_registry::gc::Options {
                delete_untagged: a.delete_untagged,
                dry_run: a.dry_run,
                upload_age: std::time::Duration::from_secs(a.upload_age_hours * 3600),
            };
            let r = berth_registry::gc::collect(&storage, &options)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let verb = if a.dry_run { "would remove" } else { "removed" };
            for m in &r.manifests {
                println!("{verb} manifest {m}");
            }
            for b in &r.blobs {
                println!("{verb} blob {b}");
            }
            for u in &r.uploads {
                println!("{verb} abandoned upload {u}");
            }
            println!("{} {} blobs, {} bytes", verb, r.blobs.len(), r.bytes);
            Ok(())
        }
    }
}
