//! `daemon.json`: the same keys as dockerd's where the meaning is the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeEntry {
    pub path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DaemonConfig {
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    #[serde(default)]
    pub hosts: Vec<String>,
    pub log_level: Option<String>,
    #[serde(default)]
    pub runtimes: BTreeMap<String, RuntimeEntry>,
    pub default_runtime: Option<String>,
    pub log_driver: Option<String>,
    #[serde(default)]
    pub log_opts: BTreeMap<String, String>,
    pub cgroup_parent: Option<String>,
    pub init: Option<bool>,
    pub init_path: Option<PathBuf>,
    /// Keys dockerd knows that Berth does not act on (yet); kept to warn about.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl DaemonConfig {
    /// A missing file at the default path is fine; a named one must exist.
    pub fn load(path: &Path, required: bool) -> anyhow::Result<DaemonConfig> {
        let raw = match std::fs::read(path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(DaemonConfig::default())
            }
            Err(e) => anyhow::bail!("unable to read config file {}: {e}", path.display()),
        };
        let cfg: DaemonConfig = serde_json::from_slice(&raw)
            .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))?;
        if let Some(d) = &cfg.log_driver {
            if d != "json-file" {
                anyhow::bail!("log-driver {d:?} is not supported: only json-file");
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockerd_keys() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("daemon.json");
        std::fs::write(&p, r#"{"data-root":"/x","runtimes":{"runc":{"path":"/usr/sbin/runc"}},"log-opts":{"max-size":"10m"},"iptables":false}"#).unwrap();
        let c = DaemonConfig::load(&p, true).unwrap();
        assert_eq!(c.data_root.unwrap(), PathBuf::from("/x"));
        assert_eq!(c.runtimes["runc"].path, PathBuf::from("/usr/sbin/runc"));
        assert!(c.other.contains_key("iptables"));
        std::fs::write(&p, "{bad").unwrap();
        assert!(DaemonConfig::load(&p, true).is_err());
        assert!(DaemonConfig::load(&d.path().join("none"), false).is_ok());
        assert!(DaemonConfig::load(&d.path().join("none"), true).is_err());
    }
}
