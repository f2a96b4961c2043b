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
    /// IPv6 on the default bridge, in `fixed-cidr-v6` or, without it, a
    /// unique local /64 of its own (dockerd wants the subnet given).
    pub ipv6: Option<bool>,
    #[serde(rename = "fixed-cidr-v6")]
    pub fixed_cidr_v6: Option<String>,
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
    /// Registries (`host[:port]` or CIDR) reached over plain HTTP or with
    /// unchecked certificates.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// Docker Hub mirrors, `http(s)://host[:port]`, tried before Docker Hub.
    #[serde(default)]
    pub registry_mirrors: Vec<String>,
    /// Berth's own: per-registry CAs and client certificates, as in
    /// dockerd's `/etc/docker/certs.d` (the default).
    pub certs_dir: Option<PathBuf>,
    /// Berth's own: reach registries on this host only (air-gapped hosts, tests).
    pub registry_loopback_only: Option<bool>,
    /// `default` (the `dockremap` user), `user` or `user:group`.
    pub userns_remap: Option<String>,
    /// Berth's own: how a remapped container's layers are made its own:
    /// `auto` (idmapped mounts where the kernel has them), `idmap`, `copy`.
    pub userns_remap_layers: Option<String>,
    /// The group that owns the API's UNIX sockets (`-G`).
    pub group: Option<String>,
    /// A seccomp profile file in Docker's format, `builtin` or `unconfined`.
    pub seccomp_profile: Option<String>,
    pub no_new_privileges: Option<bool>,
    /// `private` or `host` (dockerd's default: private on cgroup v2, host on v1).
    pub default_cgroupns_mode: Option<String>,
    /// `{"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}`.
    #[serde(default)]
    pub default_ulimits: BTreeMap<String, berth_api::types::Ulimit>,
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
        n.ipv6 = self.ipv6.unwrap_or(false);
        n.fixed_cidr_v6 = self.fixed_cidr_v6.clone();
        if n.fixed_cidr_v6.is_some() && !n.ipv6 {
            anyhow::bail!("fixed-cidr-v6 needs \"ipv6\": true");
        }
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

    /// The confinement defaults, checked: a profile that does not parse
    /// stops the daemon at start rather than failing every container.
    pub fn security(
        &self,
    ) -> anyhow::Result<berth_engine::containers::confinement::SecurityConfig> {
        use berth_engine::containers::confinement::{DaemonSeccomp, SecurityConfig};
        let seccomp = match self.seccomp_profile.as_deref() {
            None | Some("") | Some("builtin") => DaemonSeccomp::Builtin,
            Some("unconfined") => DaemonSeccomp::Unconfined,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("opening seccomp profile ({path}) failed: {e}"))?;
                let profile = berth_runtime::seccomp::Profile::parse(&text)
                    .map_err(|e| anyhow::anyhow!("seccomp profile {path}: {e}"))?;
                DaemonSeccomp::File {
                    path: path.to_string(),
                    profile,
                }
            }
        };
        let mut s = SecurityConfig {
            seccomp,
            no_new_privileges: self.no_new_privileges.unwrap_or(false),
            ..Default::default()
        };
        match self.default_cgroupns_mode.as_deref() {
            None => {}
            Some("private") => s.cgroupns_private = true,
            Some("host") => s.cgroupns_private = false,
            Some(other) => anyhow::bail!(
                "default cgroup namespace mode ({other}) is invalid, must be \"host\" or \"private\""
            ),
        }
        for (name, u) in &self.default_ulimits {
            let mut u = u.clone();
            if u.name.is_empty() {
                u.name = name.clone();
            }
            berth_engine::containers::confinement::check_ulimit(&u)
                .map_err(|e| anyhow::anyhow!("default-ulimits: {e}"))?;
            s.default_ulimits.insert(u.name.clone(), u);
        }
        Ok(s)
    }

    /// `userns-remap`, with the user made for `default` and the ranges read.
    pub fn userns(&self) -> anyhow::Result<Option<berth_engine::containers::userns::UsernsConfig>> {
        use berth_engine::containers::userns::{LayerMode, UsernsConfig};
        let Some(setting) = self.userns_remap.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let layers = match self.userns_remap_layers.as_deref() {
            None | Some("auto") => LayerMode::Auto,
            Some("idmap") => LayerMode::Idmap,
            Some("copy") => LayerMode::Copy,
            Some(other) => {
                anyhow::bail!("invalid userns-remap-layers {other:?}: auto, idmap or copy")
            }
        };
        let remap =
            berth_runtime::userns::Remap::load(setting).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Some(UsernsConfig { remap, layers }))
    }

    /// The registry client's settings, checked.
    pub fn registries(&self) -> anyhow::Result<berth_registry::client::Settings> {
        for m in &self.registry_mirrors {
            let ok = url::Url::parse(m).is_ok_and(|u| {
                ["http", "https"].contains(&u.scheme()) && u.host().is_some() && u.path() == "/"
            });
            if !ok {
                anyhow::bail!("invalid registry mirror {m:?}: http(s)://host[:port] only");
            }
        }
        for r in &self.insecure_registries {
            if r.is_empty() || r.contains("://") || r.contains(char::is_whitespace) {
                anyhow::bail!("invalid insecure registry {r:?}: host[:port] or a CIDR");
            }
        }
        Ok(berth_registry::client::Settings {
            insecure: self.insecure_registries.clone(),
            mirrors: self.registry_mirrors.clone(),
            certs_dir: Some(
                self.certs_dir
                    .clone()
                    .unwrap_or_else(|| "/etc/docker/certs.d".into()),
            ),
            loopback_only: self.registry_loopback_only.unwrap_or(false),
        })
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
            if !matches!(d.as_str(), "json-file" | "none") {
                anyhow::bail!("log-driver {d:?} is not supported: json-file or none");
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

    #[test]
    fn registry_keys() {
        let c: DaemonConfig = serde_json::from_str(r#"{"insecure-registries":["r:5000","10.0.0.0/8"],"registry-mirrors":["https://m.example"],"registry-loopback-only":true}"#).unwrap();
        let s = c.registries().unwrap();
        assert_eq!(s.insecure, ["r:5000", "10.0.0.0/8"]);
        assert!(s.loopback_only && s.mirrors == ["https://m.example"]);
        for bad in [
            r#"{"registry-mirrors":["m.example"]}"#,
            r#"{"registry-mirrors":["ftp://m"]}"#,
            r#"{"registry-mirrors":["https://m/path"]}"#,
            r#"{"insecure-registries":["http://r"]}"#,
        ] {
            let c: DaemonConfig = serde_json::from_str(bad).unwrap();
            assert!(c.registries().is_err(), "{bad}");
        }
    }
}
