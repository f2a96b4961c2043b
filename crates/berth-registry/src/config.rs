//! `berth registry serve`'s settings: a config file, YAML or TOML (by its
//! extension), using Distribution's key names where the meaning is the same,
//! so that an existing `config.yml` of the reference registry serves as is:
//!
//! ```yaml
//! version: 0.1
//! log: { level: info }
//! storage:
//!   filesystem: { rootdirectory: /var/lib/registry }
//!   maintenance: { readonly: { enabled: false } }
//! http:
//!   addr: 127.0.0.1:5000
//!   tls: { certificate: /etc/registry/cert.pem, key: /etc/registry/key.pem,
//!          clientcas: [/etc/registry/client-ca.pem] }
//! auth:
//!   htpasswd: { realm: berth, path: /etc/registry/htpasswd }
//!   token:            # Berth's: HS256 tokens, issued at /token when htpasswd is set
//!     realm: https://127.0.0.1:5000/token   # default: this server's /token
//!     service: berth-registry
//!     issuer: berth-registry
//!     secret: /etc/registry/token.key       # default: random per process
//!     expiration: 300
//! ```
//!
//! Keys this server does not know are reported and otherwise ignored
//! (Distribution's files carry many: caches, health checks, notifications).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub log: Log,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub http: Http,
    #[serde(default)]
    pub auth: Auth,
    /// Everything else (Distribution's `version`, `notifications`, …).
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Log {
    pub level: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Storage {
    pub filesystem: Option<Filesystem>,
    pub maintenance: Option<Maintenance>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    pub rootdirectory: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
pub struct Maintenance {
    pub readonly: Option<Enabled>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Enabled {
    pub enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Http {
    pub addr: Option<String>,
    pub tls: Option<Tls>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// CAs whose certificates clients must present (mutual TLS).
    #[serde(default)]
    pub clientcas: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub htpasswd: Option<Htpasswd>,
    pub token: Option<Token>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Htpasswd {
    pub realm: Option<String>,
    pub path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub realm: Option<String>,
    pub service: Option<String>,
    pub issuer: Option<String>,
    /// A file holding the HMAC key (Berth's; Distribution has `rootcertbundle`).
    pub secret: Option<PathBuf>,
    /// Seconds a token is good for.
    pub expiration: Option<u64>,
}

impl Config {
    /// Reads a YAML (`.yml`, `.yaml`, anything else) or TOML (`.toml`) file.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
        let toml = path.extension().is_some_and(|e| e == "toml");
        let parsed = if toml {
            toml::from_str(&text).map_err(|e| e.to_string())
        } else {
            serde_yaml::from_str(&text).map_err(|e| e.to_string())
        };
        parsed.map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// The keys that were read and will not be acted on, dotted (`http.headers`).
    pub fn ignored(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .other
            .keys()
            .filter(|k| *k != "version")
            .cloned()
            .collect();
        out.extend(self.log.other.keys().map(|k| format!("log.{k}")));
        out.extend(self.storage.other.keys().map(|k| format!("storage.{k}")));
        out.extend(self.http.other.keys().map(|k| format!("http.{k}")));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, text: &str) -> Result<Config, String> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        Config::load(&p)
    }

    #[test]
    fn distributions_yaml_and_toml() {
        // The shape of Debian's /etc/docker/registry/config.yml.
        let c = load(
            "config.yml",
            "version: 0.1\nlog:\n  fields:\n    service: registry\nstorage:\n  cache:\n    blobdescriptor: inmemory\n  filesystem:\n    rootdirectory: /var/lib/docker-registry\nhttp:\n  addr: :5000\n  headers:\n    X-Content-Type-Options: [nosniff]\nhealth:\n  storagedriver:\n    enabled: true\n",
        )
        .unwrap();
        assert_eq!(
            c.ignored(),
            ["health", "log.fields", "storage.cache", "http.headers"]
        );
        assert_eq!(c.http.addr.as_deref(), Some(":5000"));
        let c = load(
            "config.yml",
            "version: 0.1\nstorage:\n  cache:\n    blobdescriptor: inmemory\n  filesystem:\n    rootdirectory: /r\n  maintenance:\n    readonly:\n      enabled: true\nhttp:\n  addr: 127.0.0.1:5000\n  headers: {}\nhealth: {}\nauth:\n  htpasswd:\n    realm: r\n    path: /h\n",
        )
        .unwrap();
        assert_eq!(
            c.storage.filesystem.unwrap().rootdirectory,
            PathBuf::from("/r")
        );
        assert!(c.storage.maintenance.unwrap().readonly.unwrap().enabled);
        assert_eq!(c.http.addr.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(c.auth.htpasswd.unwrap().path, PathBuf::from("/h"));
        let c = load(
            "c.toml",
            "[http]\naddr = \"127.0.0.1:0\"\n[http.tls]\ncertificate = \"/c\"\nkey = \"/k\"\n[auth.token]\nservice = \"s\"\nexpiration = 60\n[log]\nlevel = \"debug\"\n",
        )
        .unwrap();
        assert_eq!(c.http.tls.unwrap().key, PathBuf::from("/k"));
        assert_eq!(c.auth.token.unwrap().expiration, Some(60));
        assert_eq!(c.log.level.as_deref(), Some("debug"));
    }

    #[test]
    fn bad_files_are_clear_errors() {
        for (name, text) in [
            ("a.yml", "http: [1, 2"),
            ("a.yml", "auth:\n  htpasswd:\n    pth: /x\n"),
            ("a.toml", "[http\naddr=1"),
            ("a.toml", "[auth.token]\nexpiration = \"soon\"\n"),
            ("a.yml", "storage:\n  filesystem:\n    rootdir: /x\n"),
        ] {
            let e = load(name, text).unwrap_err();
            assert!(e.starts_with("config file "), "{e}");
        }
        assert!(Config::load(Path::new("/nonexistent/c.yml")).is_err());
    }
}
