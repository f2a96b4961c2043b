//! Published ports: the host ports held for them, the bindings in the record,
//! and the nftables rule set rendered from every network and container.

use super::*;

/// `"80/tcp"` → (80, tcp); also `"80"` and `"53/udp"`.
pub fn parse_port_key(key: &str) -> Result<(u16, Proto)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let bad = || Error::bad_request(format!("invalid port specification: {key:?}"));
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 || (key.contains('/') && proto.is_empty()) {
        return Err(bad());
    }
    let proto = Proto::parse(proto).map_err(|e| Error::bad_request(e.to_string()))?;
    Ok((port, proto))
}

/// A host port spec: "" (any), "8080", or a range "8000-8010".
pub(super) fn parse_host_ports(s: &str) -> Result<(u16, u16)> {
    let bad = || Error::bad_request(format!("invalid port specification: {s:?}"));
    if s.is_empty() {
        return Ok((0, 0));
    }
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b || (a == 0 && b != 0) {
        return Err(bad());
    }
    Ok((a, b))
}

/// A binding's host address; `None` for "" (every address, of both
/// families where the container has IPv6).
pub(super) fn parse_host_ip(s: &str) -> Result<Option<IpAddr>> {
    match s {
        "" => Ok(None),
        s => s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map(Some)
            .map_err(|_| Error::bad_request(format!("invalid host IP {s:?}"))),
    }
}

/// Checks a create request's port bindings before anything is made.
pub(crate) fn validate_port_bindings(
    bindings: &BTreeMap<String, Option<Vec<PortBinding>>>,
) -> Result<()> {
    for (key, list) in bindings {
        parse_port_key(key)?;
        for b in list.iter().flatten() {
            parse_host_ip(&b.host_ip)?;
            parse_host_ports(&b.host_port)?;
        }
    }
    Ok(())
}

impl Engine {
    /// Holds the host ports and records the bindings; the rules follow from the record.
    pub(super) fn publish_ports(&self, h: &Arc<ContainerHandle>) -> Result<()> {
        let rec = h.record().clone();
        let mut wanted: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
        for (k, v) in rec.host_config.port_bindings.iter().flatten() {
            wanted.insert(k.clone(), v.clone().unwrap_or_default());
        }
        if rec.host_config.publish_all_ports {
            for k in rec.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
                let list = wanted.entry(k.clone()).or_default();
                if list.is_empty() {
                    list.push(PortBinding::default());
                }
            }
        }
        // dockerd publishes "every address" on IPv6 too where the container has it.
        let has6 = rec
            .networks
            .get(&rec.host_config.network_mode)
            .is_some_and(|ep| !ep.global_ipv6_address.is_empty());
        let mut held = Vec::new();
        let mut bound: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
        for (key, list) in &wanted {
            let (_, proto) = parse_port_key(key)?;
            let key = if key.contains('/') {
                key.clone()
            } else {
                format!("{key}/tcp")
            };
            for b in list {
                let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
                let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
                let host_ips = match parse_host_ip(&b.host_ip)? {
                    None if has6 => vec![any4, any6],
                    None => vec![any4],
                    Some(IpAddr::V6(_)) if !has6 => {
                        // Nothing to forward to: the container has no IPv6 address.
                        tracing::warn!(id = %rec.id, "not publishing on {}: the container's network has no IPv6", b.host_ip);
                        continue;
                    }
                    Some(ip) => vec![ip],
                };
                let (lo, hi) = parse_host_ports(&b.host_port)?;
                // With both families, the IPv6 port is the one IPv4 got.
                let mut range = (lo, hi);
                for host_ip in host_ips {
                    let r = reserve_in(proto, host_ip, range).map_err(|e| {
                        Error::internal(format!(
                            "driver failed programming external connectivity on endpoint {} ({}): Bind for {}:{} failed: port is already allocated ({e})",
                            rec.name.trim_start_matches('/'),
                            &rec.id[..12],
                            fmt_host_ip(host_ip),
                            b.host_port,
                        ))
                    })?;
                    range = (r.port, r.port);
                    bound.entry(key.clone()).or_default().push(PortBinding {
                        host_ip: host_ip.to_string(),
                        host_port: r.port.to_string(),
                    });
                    held.push(r);
                }
            }
        }
        lock(&self.net.ports).insert(rec.id.clone(), held);
        h.record().net.ports = bound;
        Ok(())
    }

    /// Rewrites Berth's table from the networks and the published ports.
    pub(crate) async fn sync_rules(&self) -> Result<()> {
        let _g = self.net.nft.lock().await;
        let bridges = lock(&self.net.networks)
            .iter()
            .filter(|n| n.driver == "bridge")
            .filter_map(|n| {
                let (subnet, _, _) = pool_of(n)?;
                Some(BridgeRules {
                    bridge: bridge_of(n).to_string(),
                    subnet,
                    subnet6: pool6_of(n).map(|p| p.0),
                    internal: n.internal,
                    masquerade: n.options.get(MASQ_OPT).is_none_or(|v| v != "false"),
                })
            })
            .collect();
        let rules: Vec<PortRule> = self
            .all_containers()
            .iter()
            .flat_map(|h| port_rules_of(&h.record()))
            .collect();
        let set = Ruleset {
            bridges,
            ports: rules,
        };
        let table = self.cfg.network.nft_table.clone();
        crate::blocking(move || set.apply(&table).map_err(net_err)).await
    }

    /// One container's published ports into (`add`) or out of the rule
    /// set, without the others'; the whole set again if that fails (an
    /// element that was never added, say).
    pub(super) async fn change_port_rules(&self, rules: Vec<PortRule>, add: bool) -> Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        let ipv6 = lock(&self.net.networks)
            .iter()
            .any(|n| pool6_of(n).is_some());
        let table = self.cfg.network.nft_table.clone();
        let changed = {
            let _g = self.net.nft.lock().await;
            crate::blocking(move || {
                let (a, r): (&[PortRule], &[PortRule]) = match add {
                    true => (&rules, &[]),
                    false => (&[], &rules),
                };
                berth_network::nft::change_ports(&table, a, r, ipv6).map_err(net_err)
            })
            .await
        };
        match changed {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(
                    "port rules: {}; rendering the whole rule set",
                    e.to_string()
                );
                self.sync_rules().await
            }
        }
    }
}

/// The rules of a container's published ports, as its record has them.
pub(super) fn port_rules_of(r: &ContainerRecord) -> Vec<PortRule> {
    let primary = r.networks.get(&r.host_config.network_mode);
    let Some(cip) = primary.and_then(|ep| ep.ip_address.parse::<Ipv4Addr>().ok()) else {
        return Vec::new();
    };
    let cip6 = primary.and_then(|ep| ep.global_ipv6_address.parse::<Ipv6Addr>().ok());
    let mut rules = Vec::new();
    for (key, list) in &r.net.ports {
        let Ok((cport, proto)) = parse_port_key(key) else {
            continue;
        };
        for b in list {
            let (Ok(hp), Ok(Some(host_ip))) = (b.host_port.parse(), parse_host_ip(&b.host_ip))
            else {
                continue;
            };
            rules.push(PortRule {
                proto,
                host_ip,
                host_port: hp,
                container_ip: cip,
                container_ip6: cip6,
                container_port: cport,
            });
        }
    }
    rules
}

/// `Ports` of a container in `GET /containers/json`: published and exposed.
pub fn summary_ports(r: &ContainerRecord) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut published = HashSet::new();
    for (k, list) in &r.net.ports {
        let Ok((port, proto)) = parse_port_key(k) else {
            continue;
        };
        published.insert((port, proto));
        for b in list {
            out.push(serde_json::json!({
                "IP": b.host_ip, "PrivatePort": port,
                "PublicPort": b.host_port.parse::<u16>().unwrap_or(0), "Type": proto.as_str(),
            }));
        }
    }
    for k in r.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
        if let Ok((port, proto)) = parse_port_key(k) {
            if !published.contains(&(port, proto)) {
                out.push(serde_json::json!({"PrivatePort": port, "Type": proto.as_str()}));
            }
        }
    }
    out
}

/// `ip` as `docker port` shows a host address: IPv6 in brackets.
pub(super) fn fmt_host_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Holds the first free port of `lo..=hi` at `ip`.
pub(super) fn reserve_in(
    proto: Proto,
    ip: IpAddr,
    (lo, hi): (u16, u16),
) -> berth_network::Result<ports::Reservation> {
    let mut last = None;
    for p in lo..=hi {
        match ports::reserve(proto, Some(ip), p) {
            Ok(r) => return Ok(r),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| berth_network::NetError::Invalid("an empty port range".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        assert_eq!(parse_port_key("80/tcp").unwrap(), (80, Proto::Tcp));
        assert_eq!(parse_port_key("53/udp").unwrap(), (53, Proto::Udp));
        assert_eq!(parse_port_key("8080").unwrap(), (8080, Proto::Tcp));
        for bad in ["", "0/tcp", "http/tcp", "80/sctp", "70000", "80/"] {
            assert!(parse_port_key(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_host_ports("").unwrap(), (0, 0));
        assert_eq!(parse_host_ports("8000-8010").unwrap(), (8000, 8010));
        for bad in ["x", "9-1", "1-", "99999"] {
            assert!(parse_host_ports(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_host_ip("127.0.0.1").unwrap(),
            Some(Ipv4Addr::LOCALHOST.into())
        );
        assert_eq!(parse_host_ip("").unwrap(), None, "every address");
        assert_eq!(
            parse_host_ip("[::1]").unwrap(),
            Some(Ipv6Addr::LOCALHOST.into()),
            "IPv6 with or without brackets"
        );
        assert_eq!(
            parse_host_ip("::").unwrap(),
            Some(Ipv6Addr::UNSPECIFIED.into())
        );
        assert!(parse_host_ip("localhost").is_err());
    }
}
