//! Running a registry: settings from the config file and flags, the storage
//! lock, the auth mode, and plain HTTP or TLS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::auth::{Auth, TokenSettings, Users};
use crate::config::{Config, Token};
use crate::{router, Options, Storage};

/// Everything `berth registry serve` needs, once the config file and the
/// flags are merged (flags win).
#[derive(Debug, Default)]
pub struct ServeSettings {
    pub listen: String,
    pub storage: PathBuf,
    pub read_only: bool,
    pub htpasswd: Option<PathBuf>,
    /// Certificate chain and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// CAs for client certificates: set, every client must present one.
    pub client_cas: Vec<PathBuf>,
    /// The token flow, when on.
    pub token: Option<Token>,
}

impl ServeSettings {
    /// The file's settings; the caller lays its flags over them.
    pub fn from_config(c: Config) -> ServeSettings {
        ServeSettings {
            listen: c.http.addr.unwrap_or_default(),
            storage: c
                .storage
                .filesystem
                .map(|f| f.rootdirectory)
                .unwrap_or_default(),
            read_only: c
                .storage
                .maintenance
                .and_then(|m| m.readonly)
                .is_some_and(|r| r.enabled),
            htpasswd: c.auth.htpasswd.map(|h| h.path),
            client_cas: c
                .http
                .tls
                .as_ref()
                .map(|t| t.clientcas.clone())
                .unwrap_or_default(),
            tls: c.http.tls.map(|t| (t.certificate, t.key)),
            token: c.auth.token,
        }
    }
}

/// Held while a registry serves or collects garbage: a writing server or gc
/// holds it alone; read-only servers share it. gc deleting a blob that an
/// upload in flight is about to reference is how registries lose data.
pub struct StorageLock {
    _held: nix::fcntl::Flock<std::fs::File>,
}

impl StorageLock {
    pub fn take(storage: &Path, exclusive: bool) -> Result<StorageLock, String> {
        use nix::fcntl::{Flock, FlockArg};
        std::fs::create_dir_all(storage)
            .map_err(|e| format!("storage {}: {e}", storage.display()))?;
        let path = storage.join("lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let arg = if exclusive {
            FlockArg::LockExclusiveNonblock
        } else {
            FlockArg::LockSharedNonblock
        };
        Flock::lock(f, arg)
            .map(|held| StorageLock { _held: held })
            .map_err(|_| {
            format!(
                "storage {} is in use by a registry that writes to it, or by gc: stop it, or serve --read-only",
                storage.display()
            )
        })
    }
}

fn read(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// The auth mode for these settings; `realm` is the default token realm.
fn auth(s: &ServeSettings, realm: String) -> Result<Auth, String> {
    let users = match &s.htpasswd {
        Some(p) => Some(Users::parse(&read(p, "htpasswd file")?)?),
        None => None,
    };
    let Some(t) = &s.token else {
        return Ok(users.map(Auth::Basic).unwrap_or_default());
    };
    let secret = match &t.secret {
        Some(p) => std::fs::read(p).map_err(|e| format!("token secret {}: {e}", p.display()))?,
        None if users.is_some() => rand::random::<[u8; 32]>().to_vec(),
        None => {
            return Err("token auth needs htpasswd users (to issue tokens here) or a secret (to check tokens an issuer sharing it signs)".into())
        }
    };
    if secret.len() < 16 {
        return Err("the token secret must be at least 16 bytes".into());
    }
    Ok(Auth::Token {
        settings: TokenSettings {
            realm: t.realm.clone().unwrap_or(realm),
            service: t.service.clone().unwrap_or_else(|| "berth-registry".into()),
            issuer: t.issuer.clone().unwrap_or_else(|| "berth-registry".into()),
            secret,
            expiration: t.expiration.unwrap_or(300),
        },
        users,
    })
}

/// Binds, calls `ready` with the address, and serves until the process ends.
/// Every bad setting is an error before anything is announced.
pub async fn run(s: ServeSettings, ready: impl FnOnce(SocketAddr)) -> Result<(), String> {
    if s.storage.as_os_str().is_empty() {
        return Err(
            "no storage directory: --storage DIR or storage.filesystem.rootdirectory".into(),
        );
    }
    let _lock = StorageLock::take(&s.storage, !s.read_only)?;
    let storage = Storage::open(&s.storage)
        .map_err(|e| format!("registry storage {}: {e}", s.storage.display()))?;
    let tls = match &s.tls {
        Some((cert, key)) => Some(crate::tls::server_config(cert, key, &s.client_cas)?),
        None if !s.client_cas.is_empty() => {
            return Err("client CAs need TLS: a certificate and key".into())
        }
        None => None,
    };
    let listen = if s.listen.is_empty() {
        "127.0.0.1:5000"
    } else {
        s.listen.as_str()
    };
    // Distribution's ":5000" means every address.
    let listen = if listen.starts_with(':') {
        format!("0.0.0.0{listen}")
    } else {
        listen.to_string()
    };
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let options = Options {
        read_only: s.read_only,
        auth: auth(&s, format!("{scheme}://{addr}/token"))?,
    };
    let app = router(storage, options);
    ready(addr);
    match tls {
        None => axum::serve(listener, app).await.map_err(|e| e.to_string()),
        Some(cfg) => serve_tls(listener, app, cfg).await,
    }
}

async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    cfg: Arc<rustls::ServerConfig>,
) -> Result<(), String> {
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, say: the next accept may work.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, "TLS handshake: {e}");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, "connection: {e}");
            }
        });
    }
}
