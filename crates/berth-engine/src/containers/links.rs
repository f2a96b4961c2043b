//! Legacy links (`--link`, `HostConfig.Links`) as dockerd has them: on the
//! default bridge the linked container's address goes into the linking
//! container's /etc/hosts and environment (`DB_PORT_5432_TCP=…`); on a user
//! network the alias is a name only the linking container resolves.
//! Links are kept as dockerd shows them: `/target:/self/alias`.

use crate::Error;

use super::record::ContainerRecord;
use crate::engine::Engine;
use crate::Result;

/// One link: the linked container's name (with its slash) and the alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    pub alias: String,
}

/// `db`, `db:alias`, `/db:/web/alias` → (target, alias).
pub fn parse(spec: &str) -> Result<Link> {
    let (target, alias) = spec.split_once(':').unwrap_or((spec, spec));
    let target = target.trim_start_matches('/');
    // The stored form names the linking container too: keep the last part.
    let alias = alias.rsplit('/').next().unwrap_or_default();
    if target.is_empty() || alias.is_empty() {
        return Err(Error::bad_request(format!("invalid link: {spec:?}")));
    }
    Ok(Link {
        target: format!("/{target}"),
        alias: alias.to_string(),
    })
}

/// A record's links (unreadable entries, which create refuses, left out).
pub fn of(r: &ContainerRecord) -> Vec<Link> {
    r.host_config
        .links
        .iter()
        .flatten()
        .filter_map(|l| parse(l).ok())
        .collect()
}

/// `DB_NAME`, `DB_PORT_5432_TCP_ADDR`, …: what dockerd puts in the linking
/// container's environment for one link to `target` at `ip`.
pub fn env(link: &Link, self_name: &str, target: &ContainerRecord, ip: &str) -> Vec<String> {
    let prefix = link.alias.to_uppercase().replace('-', "_");
    let mut out = vec![format!("{prefix}_NAME={self_name}/{}", link.alias)];
    let mut ports: Vec<(u16, String)> = target
        .config
        .exposed_ports
        .iter()
        .flatten()
        .filter_map(|(k, _)| {
            let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            Some((port.parse().ok()?, proto.to_string()))
        })
        .collect();
    // The lowest port first, TCP before UDP at the same number, as dockerd sorts them.
    ports.sort_by(|a, b| a.0.cmp(&b.0).then((a.1 != "tcp").cmp(&(b.1 != "tcp"))));
    if let Some((port, proto)) = ports.first() {
        out.push(format!("{prefix}_PORT={proto}://{ip}:{port}"));
    }
    for (port, proto) in &ports {
        let key = format!("{prefix}_PORT_{port}_{}", proto.to_uppercase());
        out.push(format!("{key}={proto}://{ip}:{port}"));
        out.push(format!("{key}_ADDR={ip}"));
        out.push(format!("{key}_PORT={port}"));
        out.push(format!("{key}_PROTO={proto}"));
    }
    for e in target.config.env.iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            // As dockerd: what a build adds is left out.
            if k != "HOME" && k != "PATH" {
                out.push(format!("{prefix}_ENV_{k}={v}"));
            }
        }
    }
    out
}

impl Engine {
    /// Create: every link names an existing container that can be linked
    /// to; kept as `/target:/self/alias`.
    pub(crate) fn normalize_links(&self, links: &[String], self_name: &str) -> Result<Vec<String>> {
        links
            .iter()
            .map(|spec| {
                let l = parse(spec)?;
                let h = self.container(&l.target).map_err(|_| {
                    Error::bad_request(format!(
                        "could not get container for {}",
                        l.target.trim_start_matches('/')
                    ))
                })?;
                let r = h.record();
                let mode = r.host_config.network_mode.as_str();
                if mode == "host" {
                    return Err(Error::bad_request("conflicting options: host type networking can't be used with links. This would result in undefined behavior"));
                }
                if mode.starts_with("container:") {
                    return Err(Error::bad_request("conflicting options: container type network can't be used with links. This would result in undefined behavior"));
                }
                Ok(format!("{}:{self_name}/{}", r.name, l.alias))
            })
            .collect()
    }

    /// Start, on the default bridge: each linked container with its address
    /// there; dockerd refuses to start with a link to one that is not running.
    /// None on user networks, where links are names the DNS answers.
    pub(crate) fn linked(
        &self,
        r: &ContainerRecord,
    ) -> Result<Vec<(Link, ContainerRecord, String)>> {
        let mut out = Vec::new();
        if !r.networks.contains_key("bridge") {
            return Ok(out);
        }
        for l in of(r) {
            let target = self
                .container(&l.target)
                .map_err(|_| {
                    Error::bad_request(format!("Cannot link to {}, as it does not exist", l.target))
                })?
                .record()
                .clone();
            let ip = target
                .networks
                .get("bridge")
                .map(|ep| ep.ip_address.clone())
                .unwrap_or_default();
            if !target.state.has_process() || ip.is_empty() {
                return Err(Error::conflict(format!(
                    "Cannot link to a non running container: {} AS {}/{}",
                    target.name, r.name, l.alias
                )));
            }
            out.push((l, target, ip));
        }
        Ok(out)
    }

    /// `DELETE /containers/{name}?link=true`: `name` is `/self/alias`.
    pub fn remove_link(&self, name: &str) -> Result<()> {
        let full = format!("/{}", name.trim_start_matches('/'));
        let (parent, alias) = full
            .rsplit_once('/')
            .filter(|(p, _)| !p.is_empty())
            .ok_or_else(|| {
                Error::bad_request("Conflict, cannot remove the default link name of the container")
            })?;
        let h = self.container(parent)?;
        let (_, removed) = self.transition(&h, |r| {
            let before = r.host_config.links.as_ref().map_or(0, Vec::len);
            if let Some(links) = r.host_config.links.as_mut() {
                links.retain(|l| parse(l).map_or(true, |l| l.alias != alias));
            }
            before != r.host_config.links.as_ref().map_or(0, Vec::len)
        })?;
        if !removed {
            return Err(Error::not_found(format!("Could not find link {full}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_forms() {
        let l = parse("db").unwrap();
        assert_eq!((l.target.as_str(), l.alias.as_str()), ("/db", "db"));
        let l = parse("db:store").unwrap();
        assert_eq!((l.target.as_str(), l.alias.as_str()), ("/db", "store"));
        let l = parse("/db:/web/store").unwrap();
        assert_eq!((l.target.as_str(), l.alias.as_str()), ("/db", "store"));
        for bad in ["", ":x", "db:", "db:/web/"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn environment_as_dockerd_writes_it() {
        let target: ContainerRecord = serde_json::from_value(serde_json::json!({
            "id": "x", "name": "/db", "created": "", "path": "sh", "args": [],
            "config": {"ExposedPorts": {"5432/tcp": {}, "53/udp": {}, "53/tcp": {}},
                       "Env": ["PATH=/bin", "POSTGRES_DB=app", "HOME=/root"]},
            "host_config": {}, "image_id": "", "state": {},
            "restart_count": 0, "shim_pid": 0, "runtime": "",
        }))
        .unwrap();
        let l = parse("db:my-db").unwrap();
        let env = env(&l, "/web", &target, "172.17.0.5");
        assert_eq!(env[0], "MY_DB_NAME=/web/my-db");
        assert_eq!(
            env[1], "MY_DB_PORT=tcp://172.17.0.5:53",
            "the lowest port, TCP first"
        );
        for want in [
            "MY_DB_PORT_5432_TCP=tcp://172.17.0.5:5432",
            "MY_DB_PORT_5432_TCP_ADDR=172.17.0.5",
            "MY_DB_PORT_5432_TCP_PORT=5432",
            "MY_DB_PORT_5432_TCP_PROTO=tcp",
            "MY_DB_PORT_53_UDP=udp://172.17.0.5:53",
            "MY_DB_ENV_POSTGRES_DB=app",
        ] {
            assert!(env.iter().any(|e| e == want), "{want} in {env:?}");
        }
        assert!(!env
            .iter()
            .any(|e| e.contains("_ENV_PATH") || e.contains("_ENV_HOME")));
    }
}
