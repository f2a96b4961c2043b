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
    /// The default bridge's interface (created if missing, unlike dockerd).
    pub bridge: Option<String>,
    pub bip: Option<String>,
    pub fixed_cidr: Option<String>,
    pub default_address_pools: Option<Vec<AddressPool>>,
    pub ip_forward: Option<bool>,
    pub ip_masq: Option<bool>,
    pub mtu: Option<u32>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_opts: Vec<String>,
    /// Berth's own: the nftables table its rules live in (default `berth`).
    pub nftables_table: Option<String>,
    /// Keys dockerd knows that Berth does not act on (yet); kept to warn about.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// One of `default-address-pools`: `{"base": "10.10.0.0/16", "size": 24}`.
#[derive(Debug, Clone, Deserialize)]
pub struct AddressPool {
    pub base: String,
    pub size: u8,
}

impl DaemonConfig {
    /// The network settings for the engine, checked.
    pub fn network(&self) -> anyhow::Result<berth_engine::networks::NetworkConfig> {
        let mut n = berth_engine::networks::NetworkConfig::default();
        if let Some(b) = &self.bridge {
            if b.is_empty() || b.len() > 15 || b.contains(['/', ' ', '"']) {
                anyhow::bail!("invalid bridge name {b:?}");
            }
            n.bridge = b.clone();
        }
        n.bip = self.bip.clone();
        n.fixed_cidr = self.fixed_cidr.clone();
        if let Some(pools) = &self.default_address_pools {
            n.pools = pools
                .iter()
                .map(|p| {
                    let base: ipnet::Ipv4Net = p
                        .base
                        .parse()
                        .map_err(|_| anyhow::anyhow!("invalid address pool base {:?}", p.base))?;
                    if p.size < base.prefix_len() || p.size > 30 {
                        anyhow::bail!("invalid address pool size {} for {}", p.size, p.base);
                    }
                    Ok((base.trunc(), p.size))
                })
                .collect::<anyhow::Result<_>>()?;
        }
        n.ip_forward = self.ip_forward.unwrap_or(true);
        n.ip_masq = self.ip_masq.unwrap_or(true);
        n.mtu = self.mtu.unwrap_or(0);
        n.dns = self.dns.clone();
        n.dns_search = self.dns_search.clone();
        n.dns_options = self.dns_opts.clone();
        if let Some(t) = &self.nftables_table {
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                anyhow::bail!("invalid nftables-table {t:?}: letters, digits and _ only");
            }
            n.nft_table = t.clone();
        }
        Ok(n)
    }

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
