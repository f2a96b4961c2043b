//! Which daemon a command talks to, and where the client's configuration
//! lives, as the docker CLI decides both — so that `berth` invoked through
//! a link named `docker` is a drop-in for scripts.
//!
//! Host: `-H` (or `BERTH_HOST`), then `DOCKER_HOST`, then a context:
//! `--context`, `BERTH_CONTEXT`, `DOCKER_CONTEXT`, the config's
//! `currentContext`; the context `default` (or none) is berthd's socket.
//! Config directory: `BERTH_CONFIG`, then `DOCKER_CONFIG`, then `~/.docker`
//! when invoked as `docker`, else `~/.berth`.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::{CliError, Result};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub fn config_dir() -> PathBuf {
    if let Some(d) = env("BERTH_CONFIG").or_else(|| env("DOCKER_CONFIG")) {
        return PathBuf::from(d);
    }
    let home = PathBuf::from(env("HOME").unwrap_or_else(|| "/root".into()));
    if crate::messages::prog() == "docker" {
        home.join(".docker")
    } else {
        home.join(".berth")
    }
}

/// The daemon address for this invocation.
pub fn host(flag: Option<String>, context: Option<String>) -> Result<String> {
    if let Some(h) = flag {
        return Ok(h);
    }
    // An explicit --context wins over DOCKER_HOST, as in docker.
    if context.is_none() {
        if let Some(h) = env("DOCKER_HOST") {
            return Ok(h);
        }
    }
    let name = context
        .or_else(|| env("BERTH_CONTEXT"))
        .or_else(|| env("DOCKER_CONTEXT"))
        .or_else(current_context);
    match name.as_deref() {
        None | Some("default") => Ok(berth_client::DEFAULT_HOST.into()),
        Some(n) => context_host(n),
    }
}

fn current_context() -> Option<String> {
    let raw = std::fs::read(config_dir().join("config.json")).ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    doc["currentContext"]
        .as_str()
        .filter(|c| !c.is_empty())
        .map(String::from)
}

/// A context's docker endpoint, from the store the docker CLI writes
/// (`contexts/meta/<sha256 of the name>/meta.json`).
fn context_host(name: &str) -> Result<String> {
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let meta = config_dir()
        .join("contexts/meta")
        .join(hex)
        .join("meta.json");
    let fail = |why: String| {
        CliError::Failed(format!(
            "Failed to initialize: unable to resolve docker endpoint: context {name:?}: {why}"
        ))
    };
    let raw = std::fs::read(&meta)
        .map_err(|e| fail(format!("context not found: open {}: {e}", meta.display())))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| fail(format!("{}: {e}", meta.display())))?;
    doc["Endpoints"]["docker"]["Host"]
        .as_str()
        .filter(|h| !h.is_empty())
        .map(String::from)
        .ok_or_else(|| fail("the context has no docker endpoint".into()))
}
