//! `berthd`: the Berth daemon. Owns images and containers and speaks the
//! Docker Engine API on UNIX sockets and loopback TCP.

mod config;
mod handlers;
#[cfg(test)]
mod in_process_tests;
mod params;
mod server;
mod streams;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use berth_engine::{Engine, EngineConfig};
use clap::Parser;
use tokio::sync::watch;

use crate::config::DaemonConfig;

const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";
const DEFAULT_CONFIG: &str = "/etc/berth/daemon.json";

#[derive(Parser, Debug)]
#[command(name = "berthd", version, about = "The Berth container engine daemon")]
struct Args {
    /// Daemon socket(s) to listen on: unix://PATH or tcp://127.0.0.1:PORT
    #[arg(short = 'H', long = "host")]
    hosts: Vec<String>,
    /// Root directory of persistent state
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Root directory of execution state (sockets, supervisors)
    #[arg(long)]
    exec_root: Option<PathBuf>,
    /// Daemon configuration file
    #[arg(long)]
    config_file: Option<PathBuf>,
    /// Logging level: debug, info, warn, error
    #[arg(short = 'l', long)]
    log_level: Option<String>,
    /// Group for the unix socket (default: docker, when that group exists)
    #[arg(short = 'G', long)]
    group: Option<String>,
}

/// The group that owns the UNIX sockets: named (`-G`, daemon.json `group`),
/// or `docker` when the host has it, as dockerd does. An empty name keeps root's.
fn socket_group(name: Option<&str>) -> anyhow::Result<Option<nix::unistd::Gid>> {
    let (name, explicit) = match name {
        Some(n) => (n, true),
        None => ("docker", false),
    };
    if name.is_empty() {
        return Ok(None);
    }
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(Some(nix::unistd::Gid::from_raw(gid)));
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(Some(g.gid)),
        _ if !explicit => Ok(None),
        Ok(None) => bail!("group {name:?} for the API socket does not exist"),
        Err(e) => bail!("look up group {name:?}: {e}"),
    }
}

enum Endpoint {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

fn parse_host(h: &str) -> anyhow::Result<Endpoint> {
    if let Some(p) = h.strip_prefix("unix://") {
        return Ok(Endpoint::Unix(PathBuf::from(if p.is_empty() {
            DEFAULT_SOCKET
        } else {
            p
        })));
    }
    if let Some(a) = h.strip_prefix("tcp://") {
        let addr: std::net::SocketAddr = a
            .parse()
            .with_context(|| format!("invalid tcp address {a:?}"))?;
        if !addr.ip().is_loopback() {
            bail!("refusing to listen on {addr} without TLS: plain TCP is only allowed on loopback (127.0.0.1 / ::1)");
        }
        return Ok(Endpoint::Tcp(addr));
    }
    if h.starts_with('/') {
        return Ok(Endpoint::Unix(h.into()));
    }
    bail!("invalid host {h:?}: use unix://PATH or tcp://127.0.0.1:PORT")
}

/// Removes a stale socket file, but not one another daemon is serving on.
async fn bind_unix(
    path: &Path,
    group: Option<nix::unistd::Gid>,
) -> anyhow::Result<tokio::net::UnixListener> {
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            bail!("another daemon is already listening on {}", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("remove stale socket {}", path.display()))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let l = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("listen on {}", path.display()))?;
    if let Some(gid) = group {
        nix::unistd::chown(path, None, Some(gid))
            .with_context(|| format!("give {} to group {gid}", path.display()))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(l)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (config_path, required) = match &args.config_file {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    let file = DaemonConfig::load(&config_path, required)?;
    let level = args
        .log_level
        .clone()
        .or(file.log_level.clone())
        .unwrap_or_else(|| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(format!(
                "{level},hyper=warn,h2=warn,libcontainer=warn,libcgroups=warn"
            ))
            .context("invalid log level")?,
        )
        .with_writer(std::io::stderr)
        .init();
    let network = file.network()?;
    let registries = file.registries()?;
    let security = file.security()?;
    let userns = file.userns()?;
    let group = socket_group(args.group.as_deref().or(file.group.as_deref()))?;
    for k in file.other.keys() {
        tracing::warn!("daemon.json key {k:?} is not used by berthd");
    }
    let data_root = args
        .data_root
        .or(file.data_root)
        .unwrap_or_else(|| "/var/lib/berth".into());
    let exec_root = args
        .exec_root
        .or(file.exec_root)
        .unwrap_or_else(|| "/run/berth".into());
    let hosts = if !args.hosts.is_empty() {
        args.hosts
    } else if !file.hosts.is_empty() {
        file.hosts
    } else {
        vec![format!("unix://{DEFAULT_SOCKET}")]
    };
    let endpoints = hosts
        .iter()
        .map(|h| parse_host(h))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let mut cfg = EngineConfig::new(&data_root, &exec_root);
    cfg.network = network;
    cfg.registries = std::sync::Arc::new(registries);
    cfg.security = security;
    cfg.userns = userns;
    for (name, rt) in file.runtimes {
        if name == berth_engine::config::BUILTIN_RUNTIME {
            bail!("runtime name '{name}' is reserved");
        }
        if !rt.path.exists() && which(&rt.path).is_none() {
            bail!("runtime {name:?}: {} does not exist", rt.path.display());
        }
        cfg.runtimes
            .insert(name, which(&rt.path).unwrap_or(rt.path));
    }
    if let Some(d) = file.default_runtime {
        cfg.default_runtime = d;
    }
    cfg.log_opts = file.log_opts;
    if let Some(d) = file.log_driver {
        cfg.log_driver = d;
    }
    if let Some(p) = file.cgroup_parent {
        cfg.cgroup_parent = p;
    }
    if let Some(p) = file.init_path {
        cfg.init_binary = p;
    }
    cfg.init_by_default = file.init.unwrap_or(false);
    let engine = Engine::open(cfg)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = server::router(engine);

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = Vec::new();
    for ep in endpoints {
        let mut rx = stop_rx.clone();
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let app = app.clone();
        match ep {
            Endpoint::Unix(p) => {
                let l = bind_unix(&p, group).await?;
                tracing::info!("API listening on {}", p.display());
                servers.push(tokio::spawn(async move {
                    axum::serve(l, app).with_graceful_shutdown(shutdown).await
                }));
            }
            Endpoint::Tcp(a) => {
                let l = tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("listen on {a}"))?;
                tracing::info!("API listening on tcp://{a}");
                servers.push(tokio::spawn(async move {
                    axum::serve(l, app).with_graceful_shutdown(shutdown).await
                }));
            }
        }
    }
    tracing::info!(data_root = %data_root.display(), "berthd started");
    shutdown_signal().await;
    tracing::info!("shutting down; running containers stay up");
    let _ = stop_tx.send(true);
    // Streams such as `logs -f` would hold a graceful shutdown forever.
    let _ = tokio::time::timeout(
        Duration::from_secs(3),
        futures_util::future::join_all(servers),
    )
    .await;
    Ok(())
}

fn which(p: &Path) -> Option<PathBuf> {
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(p))
            .find(|c| c.exists())
    })
}

fn main() {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berthd: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("berthd: {e:#}");
        std::process::exit(1);
    }
}
