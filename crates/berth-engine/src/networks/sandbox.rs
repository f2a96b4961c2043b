//! Wiring a container into its networks when it starts and out when it
//! stops: its namespace, a veth pair and address per network, /etc/hosts and
//! resolv.conf, published ports, the rule set, and the embedded DNS server.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use berth_api::network::{EndpointSettings, Network, PortBinding};
use berth_api::ApiError;
use berth_network::link::{self, Endpoint};
use berth_network::nft::{BridgeRules, PortRule, Proto, Ruleset};
use berth_network::{dns, ipam, netns, ports};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::{bridge_of, lock, net_err, new_id, pool6_of, pool_of, MASQ_OPT, MTU_OPT};
use crate::containers::record::{ContainerHandle, ContainerPaths, ContainerRecord};
use crate::engine::Engine;
use crate::Result;

/// A container's live wiring, kept in its record so a restarted daemon finds it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetRuntime {
    /// The pinned network namespace, while running on bridge networks.
    #[serde(default)]
    pub sandbox: String,
    /// Network name → (host-side veth, interface name inside).
    #[serde(default)]
    pub links: BTreeMap<String, (String, String)>,
    /// Published ports as inspect shows them ("80/tcp" → bindings).
    #[serde(default)]
    pub ports: BTreeMap<String, Vec<PortBinding>>,
}

/// Where a starting container's network namespace comes from.
pub enum NetPlan {
    Host,
    /// Its own, with loopback only (the supervisor makes it).
    Isolated,
    /// A namespace that exists already (ours, or another container's).
    Join(PathBuf),
}

/// `"80/tcp"` → (80, tcp); also `"80"` and `"53/udp"`.
pub fn parse_port_key(key: &str) -> Result<(u16, Proto)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let bad = || ApiError::bad_request(format!("invalid port specification: {key:?}"));
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 || (key.contains('/') && proto.is_empty()) {
        return Err(bad());
    }
    let proto = Proto::parse(proto).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((port, proto))
}

/// A host port spec: "" (any), "8080", or a range "8000-8010".
fn parse_host_ports(s: &str) -> Result<(u16, u16)> {
    let bad = || ApiError::bad_request(format!("invalid port specification: {s:?}"));
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
fn parse_host_ip(s: &str) -> Result<Option<IpAddr>> {
    match s {
        "" => Ok(None),
        s => s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid host IP {s:?}"))),
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

fn is_user_network(n: &Network) -> bool {
    n.driver == "bridge" && n.name != "bridge"
}

struct ContainerNames {
    engine: Weak<Engine>,
    id: String,
}

impl dns::Names for ContainerNames {
    fn lookup(&self, name: &str) -> Option<Vec<IpAddr>> {
        self.engine.upgrade()?.dns_lookup(&self.id, name)
    }
    fn upstream(&self) -> Vec<SocketAddr> {
        self.engine
            .upgrade()
            .map(|e| e.dns_upstream(&self.id))
            .unwrap_or_default()
    }
}

fn host_nameservers() -> Vec<String> {
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .collect()
}

impl Engine {
    fn netns_path(&self, id: &str) -> PathBuf {
        self.cfg.exec_root.join("netns").join(&id[..12])
    }

    /// Names on the asking container's user networks → addresses.
    pub(crate) fn dns_lookup(&self, asker: &str, name: &str) -> Option<Vec<IpAddr>> {
        let (nets, links) = {
            let h = self.container(asker).ok()?;
            let r = h.record();
            let mut links = crate::containers::links::of(&r);
            // `network connect --link`: links on one network's endpoint.
            for ep in r.networks.values() {
                links.extend(
                    ep.links
                        .iter()
                        .flatten()
                        .filter_map(|l| crate::containers::links::parse(l).ok()),
                );
            }
            (
                r.networks.keys().cloned().collect::<HashSet<String>>(),
                links,
            )
        };
        // A link's alias is a name for the linking container alone.
        if let Some(link) = links.iter().find(|l| l.alias.eq_ignore_ascii_case(name)) {
            let target = self.container(&link.target).ok()?;
            let t = target.record();
            let found: Vec<IpAddr> = t
                .networks
                .iter()
                .filter(|(net, _)| nets.contains(*net) && *net != "bridge")
                .flat_map(|(_, ep)| addresses(ep))
                .collect();
            if t.state.has_process() && !found.is_empty() {
                return Some(found);
            }
        }
        let found = lock(&self.net.names).lookup(&nets, name);
        (!found.is_empty()).then_some(found)
    }

    /// A removed container answers to nothing.
    pub(crate) fn dns_forget(&self, id: &str) {
        lock(&self.net.names).set(id, Vec::new());
    }

    /// Brings the DNS table in line with a container's record: its names on
    /// each user network while it runs with an address there, none otherwise.
    pub(crate) fn dns_sync(&self, r: &ContainerRecord) {
        let mut entries = Vec::new();
        if r.state.has_process() {
            for (net, ep) in &r.networks {
                if net == "bridge" {
                    continue;
                }
                for ip in addresses(ep) {
                    for n in ep.dns_names.iter().flatten() {
                        entries.push((net.clone(), n.clone(), ip));
                    }
                }
            }
        }
        lock(&self.net.names).set(&r.id, entries);
    }

    pub(crate) fn dns_upstream(&self, id: &str) -> Vec<SocketAddr> {
        let own = self
            .container(id)
            .ok()
            .and_then(|h| h.record().host_config.dns.clone())
            .unwrap_or_default();
        let servers = if !own.is_empty() {
            own
        } else if !self.cfg.network.dns.is_empty() {
            self.cfg.network.dns.clone()
        } else {
            host_nameservers()
        };
        servers
            .iter()
            .filter_map(|s| {
                s.parse::<SocketAddr>()
                    .ok()
                    .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
            })
            .collect()
    }

    /// The default bridge's gateway, for `--add-host name:host-gateway`.
    fn host_gateway(&self) -> Option<Ipv4Addr> {
        self.find_network("bridge")
            .ok()
            .and_then(|n| pool_of(&n))
            .map(|p| p.1)
    }

    /// Writes the container's /etc/hosts and /etc/resolv.conf as dockerd does
    /// for its network mode; `ip` is its address on its first network.
    pub(crate) fn write_etc_files(
        &self,
        paths: &ContainerPaths,
        rec: &ContainerRecord,
        ip: Option<Ipv4Addr>,
        ip6: Option<Ipv6Addr>,
    ) -> std::io::Result<()> {
        let host_net = rec.host_config.network_mode == "host";
        let mut hosts = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
        );
        if host_net {
            hosts = std::fs::read_to_string("/etc/hosts").unwrap_or(hosts);
        }
        for extra in rec.host_config.extra_hosts.iter().flatten() {
            // "name:ip" as the CLI sends it (also "name=ip").
            if let Some((h, addr)) = extra.split_once([':', '=']) {
                let addr = if addr == "host-gateway" {
                    self.host_gateway()
                        .map(|g| g.to_string())
                        .unwrap_or_default()
                } else {
                    addr.to_string()
                };
                hosts.push_str(&format!("{addr}\t{h}\n"));
            }
        }
        // Legacy links on the default bridge: the linked containers by alias,
        // hostname and name, as dockerd writes them.
        for (link, target, addr) in self.linked(rec).unwrap_or_default() {
            let mut names = vec![link.alias.clone(), target.config.hostname.clone()];
            let bare = target.name.trim_start_matches('/').to_string();
            if !names.contains(&bare) {
                names.push(bare);
            }
            hosts.push_str(&format!("{addr}\t{}\n", names.join(" ")));
        }
        if let Some(ip) = ip {
            let mut names = vec![rec.config.hostname.clone()];
            if !rec.config.domainname.is_empty() {
                names.insert(
                    0,
                    format!("{}.{}", rec.config.hostname, rec.config.domainname),
                );
            }
            hosts.push_str(&format!("{ip}\t{}\n", names.join(" ")));
            if let Some(ip6) = ip6 {
                hosts.push_str(&format!("{ip6}\t{}\n", names.join(" ")));
            }
        }
        std::fs::write(paths.hosts(), hosts)?;

        let embedded = rec
            .networks
            .keys()
            .any(|n| self.find_network(n).is_ok_and(|n| is_user_network(&n)))
            && !host_net;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let nc = &self.cfg.network;
        let pick = |own: &Option<Vec<String>>, daemon: &Vec<String>| -> Option<Vec<String>> {
            own.clone()
                .filter(|v| !v.is_empty())
                .or_else(|| (!daemon.is_empty()).then(|| daemon.clone()))
        };
        let servers = pick(&rec.host_config.dns, &nc.dns).map(|v| {
            // Only plain addresses belong in resolv.conf.
            v.into_iter()
                .filter(|s| s.parse::<IpAddr>().is_ok())
                .collect::<Vec<_>>()
        });
        let search = pick(&rec.host_config.dns_search, &nc.dns_search);
        let options = pick(&rec.host_config.dns_options, &nc.dns_options);
        let mut out = String::new();
        if embedded {
            out.push_str(&format!("nameserver {}\n", dns::ADDRESS));
        } else {
            let ns: Vec<String> = match &servers {
                Some(s) => s.clone(),
                None if host_net => host_nameservers(),
                // The host's loopback resolvers are unreachable from another namespace;
                // dockerd falls back to public ones then.
                None => {
                    let v: Vec<String> = host_nameservers()
                        .into_iter()
                        .filter(|s| !s.starts_with("127.") && s != "::1")
                        .collect();
                    if v.is_empty() {
                        vec!["8.8.8.8".into(), "8.8.4.4".into()]
                    } else {
                        v
                    }
                }
            };
            for s in ns {
                out.push_str(&format!("nameserver {s}\n"));
            }
        }
        let host_line = |k: &str| {
            host_resolv
                .lines()
                .find(|l| l.starts_with(k))
                .map(|l| l[k.len()..].trim().to_string())
        };
        match search {
            Some(s) => out.push_str(&format!("search {}\n", s.join(" "))),
            None => {
                if let Some(s) = host_line("search") {
                    out.push_str(&format!("search {s}\n"));
                }
            }
        }
        let mut opts: Vec<String> = match options {
            Some(o) => o,
            None => host_line("options")
                .map(|o| o.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
        };
        if embedded && !opts.iter().any(|o| o.starts_with("ndots:")) {
            opts.push("ndots:0".into());
        }
        if !opts.is_empty() {
            out.push_str(&format!("options {}\n", opts.join(" ")));
        }
        for l in host_resolv.lines().filter(|l| l.starts_with("domain")) {
            out.push_str(&format!("{l}\n"));
        }
        std::fs::write(paths.resolv_conf(), out)
    }

    /// Before the container starts: its namespace and everything in it.
    pub(crate) async fn connect_sandbox(
        self: &Arc<Self>,
        h: &Arc<ContainerHandle>,
    ) -> Result<NetPlan> {
        let rec = h.record().clone();
        let mode = rec.host_config.network_mode.as_str();
        if mode == "host" {
            return Ok(NetPlan::Host);
        }
        if mode == "none" {
            return Ok(NetPlan::Isolated);
        }
        if let Some(other) = mode.strip_prefix("container:") {
            let o = self.container(other)?;
            let (pid, hostname, running, oid) = {
                let r = o.record();
                (
                    r.state.pid,
                    r.config.hostname.clone(),
                    r.state.has_process(),
                    r.id.clone(),
                )
            };
            if !running {
                return Err(ApiError::conflict(format!(
                    "cannot join network namespace of a non running container: container {oid} is not running"
                )));
            }
            // As dockerd: the same hostname and name service files as the other container.
            let (mine, theirs) = (self.paths(&rec.id), self.paths(&oid));
            for (a, b) in [
                (theirs.hosts(), mine.hosts()),
                (theirs.resolv_conf(), mine.resolv_conf()),
                (theirs.hostname(), mine.hostname()),
            ] {
                let _ = std::fs::copy(a, b);
            }
            h.record().config.hostname = hostname;
            return Ok(NetPlan::Join(PathBuf::from(format!("/proc/{pid}/ns/net"))));
        }
        let ns = self.netns_path(&rec.id);
        let ns2 = ns.clone();
        crate::blocking(move || {
            netns::remove(&ns2);
            netns::create(&ns2).map_err(net_err)
        })
        .await?;
        h.record().net.sandbox = ns.display().to_string();
        let wired = self.wire_sandbox(h, &ns).await;
        if let Err(e) = wired {
            self.disconnect_sandbox(h).await;
            return Err(e);
        }
        Ok(NetPlan::Join(ns))
    }

    async fn wire_sandbox(
        self: &Arc<Self>,
        h: &Arc<ContainerHandle>,
        ns: &std::path::Path,
    ) -> Result<()> {
        let rec = h.record().clone();
        let primary = rec.host_config.network_mode.clone();
        let mut order: Vec<String> = rec
            .networks
            .keys()
            .filter(|k| **k == primary)
            .cloned()
            .collect();
        order.extend(rec.networks.keys().filter(|k| **k != primary).cloned());
        let (mut first_ip, mut first_ip6) = (None, None);
        for (i, name) in order.iter().enumerate() {
            let n = self.find_network(name)?;
            let mut ep = rec.networks[name].clone();
            let l = self
                .attach_endpoint(&rec, ns, &format!("eth{i}"), &n, &mut ep, i == 0)
                .await?;
            if i == 0 {
                first_ip = ep.ip_address.parse().ok();
                first_ip6 = ep.global_ipv6_address.parse().ok();
            }
            let mut r = h.record();
            r.networks.insert(name.clone(), ep);
            r.net.links.insert(name.clone(), l);
        }
        let rec = h.record().clone();
        let paths = self.paths(&rec.id);
        self.write_etc_files(&paths, &rec, first_ip, first_ip6)
            .map_err(|e| ApiError::internal(format!("write /etc files: {e}")))?;
        // Ports go to the address on the first network, which the rules read from the record.
        if first_ip.is_some() {
            self.publish_ports(h)?;
            if !h.record().net.ports.is_empty() {
                self.sync_rules().await?;
            }
        }
        self.start_dns(h).await
    }

    /// One network's veth pair and address in the namespace.
    async fn attach_endpoint(
        &self,
        rec: &ContainerRecord,
        ns: &std::path::Path,
        ifname: &str,
        n: &Network,
        ep: &mut EndpointSettings,
        default_route: bool,
    ) -> Result<(String, String)> {
        let (subnet, gw, range) = pool_of(n)
            .ok_or_else(|| ApiError::internal(format!("network {} has no subnet", n.name)))?;
        let ip = {
            let mut alloc = lock(&self.net.allocated);
            let used = alloc.entry(n.id.clone()).or_default();
            let wanted = ep
                .ipam_config
                .as_ref()
                .map(|c| c.ipv4_address.as_str())
                .unwrap_or("");
            let ip = if wanted.is_empty() {
                ipam::allocate(&subnet, range.as_ref(), gw, used).ok_or_else(|| {
                    ApiError::internal(format!("no available IPv4 addresses on network {}", n.name))
                })?
            } else {
                let ip = ipam::parse_ip(wanted).map_err(net_err)?;
                if used.contains(&ip) {
                    return Err(ApiError::forbidden(format!(
                        "Address already in use: {ip} on network {}",
                        n.name
                    )));
                }
                ip
            };
            used.insert(ip);
            ip
        };
        let ip6 = match pool6_of(n) {
            Some(pool6) => match self.allocate_ip6(n, &pool6, ep) {
                Ok(ip6) => Some((ip6, pool6)),
                Err(e) => {
                    if let Some(s) = lock(&self.net.allocated).get_mut(&n.id) {
                        s.remove(&ip);
                    }
                    return Err(e);
                }
            },
            None => None,
        };
        let release = || {
            if let Some(s) = lock(&self.net.allocated).get_mut(&n.id) {
                s.remove(&ip);
            }
            if let (Some((ip6, _)), Some(s)) = (ip6, lock(&self.net.allocated6).get_mut(&n.id)) {
                s.remove(&ip6);
            }
        };
        let mac = if ep.mac_address.is_empty() {
            ipam::mac_for(ip)
        } else {
            ipam::parse_mac(&ep.mac_address).map_err(net_err)?
        };
        let veth = link::random_name("veth");
        let mtu = n
            .options
            .get(MTU_OPT)
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if let Err(e) = self
            .net
            .nl
            .add_veth(&veth, bridge_of(n), ns, ifname, mac, mtu)
            .await
        {
            release();
            return Err(net_err(e));
        }
        let cfg = Endpoint {
            ifname: ifname.to_string(),
            address: Ipv4Net::new(ip, subnet.prefix_len())
                .map_err(|e| ApiError::internal(e.to_string()))?,
            gateway: default_route.then_some(gw),
            address6: ip6.and_then(|(a, (s6, _, _))| Ipv6Net::new(a, s6.prefix_len()).ok()),
            gateway6: ip6.filter(|_| default_route).map(|(_, (_, gw6, _))| gw6),
        };
        let ns2 = ns.to_path_buf();
        if let Err(e) =
            crate::blocking(move || link::configure_endpoint(&ns2, cfg).map_err(net_err)).await
        {
            let _ = self.net.nl.delete(&veth).await;
            release();
            return Err(e);
        }
        ep.network_id = n.id.clone();
        ep.endpoint_id = new_id();
        ep.gateway = gw.to_string();
        ep.ip_address = ip.to_string();
        ep.ip_prefix_len = subnet.prefix_len();
        ep.mac_address = ipam::format_mac(&mac);
        if let Some((a, (s6, gw6, _))) = ip6 {
            ep.global_ipv6_address = a.to_string();
            ep.global_ipv6_prefix_len = s6.prefix_len();
            ep.ipv6_gateway = gw6.to_string();
        }
        ep.dns_names = is_user_network(n).then(|| {
            let mut names = vec![rec.name.trim_start_matches('/').to_string()];
            names.extend(ep.aliases.iter().flatten().cloned());
            names.push(rec.id[..12].to_string());
            if rec.config.hostname != rec.id[..12] {
                names.push(rec.config.hostname.clone());
            }
            names
        });
        Ok((veth, ifname.to_string()))
    }

    /// An IPv6 address on the network for an endpoint: the one it asked for
    /// (`--ip6`) or the lowest free one.
    fn allocate_ip6(
        &self,
        n: &Network,
        (subnet, gw, range): &(Ipv6Net, Ipv6Addr, Option<Ipv6Net>),
        ep: &EndpointSettings,
    ) -> Result<Ipv6Addr> {
        let mut alloc = lock(&self.net.allocated6);
        let used = alloc.entry(n.id.clone()).or_default();
        let wanted = ep
            .ipam_config
            .as_ref()
            .map(|c| c.ipv6_address.as_str())
            .unwrap_or("");
        let ip = if wanted.is_empty() {
            ipam::allocate6(subnet, range.as_ref(), *gw, used).ok_or_else(|| {
                ApiError::internal(format!("no available IPv6 addresses on network {}", n.name))
            })?
        } else {
            let ip = ipam::parse_ip6(wanted).map_err(net_err)?;
            if used.contains(&ip) {
                return Err(ApiError::forbidden(format!(
                    "Address already in use: {ip} on network {}",
                    n.name
                )));
            }
            ip
        };
        used.insert(ip);
        Ok(ip)
    }

    /// Holds the host ports and records the bindings; the rules follow from the record.
    fn publish_ports(&self, h: &Arc<ContainerHandle>) -> Result<()> {
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
                        ApiError::internal(format!(
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

    async fn start_dns(self: &Arc<Self>, h: &Arc<ContainerHandle>) -> Result<()> {
        let (id, ns, user) = {
            let r = h.record();
            let user = r
                .networks
                .keys()
                .any(|n| self.find_network(n).is_ok_and(|n| is_user_network(&n)));
            (r.id.clone(), r.net.sandbox.clone(), user)
        };
        if !user || ns.is_empty() || lock(&self.net.dns).contains_key(&id) {
            return Ok(());
        }
        let path = PathBuf::from(ns);
        let (udp, tcp) = crate::blocking(move || {
            netns::run_in(&path, || {
                dns::bind().map_err(berth_network::NetError::io("bind 127.0.0.11:53"))
            })
            .map_err(net_err)
        })
        .await?;
        let (udp, tcp) = (
            tokio::net::UdpSocket::from_std(udp).map_err(|e| ApiError::internal(e.to_string()))?,
            tokio::net::TcpListener::from_std(tcp)
                .map_err(|e| ApiError::internal(e.to_string()))?,
        );
        let names = Arc::new(ContainerNames {
            engine: Arc::downgrade(self),
            id: id.clone(),
        });
        let task = tokio::spawn(dns::serve(udp, tcp, names));
        lock(&self.net.dns).insert(id, task);
        Ok(())
    }

    /// After the container stopped (or failed to start): undo everything; idempotent.
    pub(crate) async fn disconnect_sandbox(self: &Arc<Self>, h: &Arc<ContainerHandle>) {
        let rec = h.record().clone();
        if let Some(t) = lock(&self.net.dns).remove(&rec.id) {
            t.abort();
        }
        let had_ports = lock(&self.net.ports)
            .remove(&rec.id)
            .is_some_and(|p| !p.is_empty())
            || !rec.net.ports.is_empty();
        h.record().net.ports.clear();
        if had_ports {
            if let Err(e) = self.sync_rules().await {
                tracing::warn!(id = %rec.id, "rules: {}", e.message);
            }
        }
        // Unpinning the namespace is instant and makes the kernel destroy it and
        // its veth pairs, even if berthd dies now. Deleting a veth ourselves
        // would wait ~20 ms for the kernel; instead the addresses are released
        // once the host ends are gone, off the stop path.
        if !rec.net.sandbox.is_empty() {
            netns::remove(std::path::Path::new(&rec.net.sandbox));
        }
        if !rec.net.links.is_empty() {
            let engine = self.clone();
            let rec2 = rec.clone();
            tokio::spawn(async move {
                for (net, (veth, _)) in &rec2.net.links {
                    engine.await_link_gone(veth).await;
                    engine.release_ip(&rec2, net);
                }
            });
        }
        let mut r = h.record();
        r.net.links.clear();
        r.net.sandbox.clear();
        for ep in r.networks.values_mut() {
            clear_runtime(ep);
        }
    }

    /// Waits for the kernel to destroy a veth whose namespace went away; deletes
    /// it if that takes long (something else holds the namespace).
    async fn await_link_gone(&self, veth: &str) {
        for _ in 0..100 {
            if matches!(self.net.nl.index_of(veth).await, Ok(None)) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if let Err(e) = self.net.nl.delete(veth).await {
            tracing::warn!("delete {veth}: {e}");
        }
    }

    fn release_ip(&self, rec: &ContainerRecord, net: &str) {
        if let Some(ep) = rec.networks.get(net) {
            if let (Ok(ip), Some(s)) = (
                ep.ip_address.parse::<Ipv4Addr>(),
                lock(&self.net.allocated).get_mut(&ep.network_id),
            ) {
                s.remove(&ip);
            }
            if let (Ok(ip), Some(s)) = (
                ep.global_ipv6_address.parse::<Ipv6Addr>(),
                lock(&self.net.allocated6).get_mut(&ep.network_id),
            ) {
                s.remove(&ip);
            }
        }
    }

    /// After a daemon restart, for a container still running: take back its
    /// addresses, ports and DNS server (its namespace and links outlived us).
    pub(crate) async fn restore_sandbox(self: &Arc<Self>, h: &Arc<ContainerHandle>) {
        let rec = h.record().clone();
        for ep in rec.networks.values() {
            if let Ok(ip) = ep.ip_address.parse::<Ipv4Addr>() {
                lock(&self.net.allocated)
                    .entry(ep.network_id.clone())
                    .or_default()
                    .insert(ip);
            }
            if let Ok(ip) = ep.global_ipv6_address.parse::<Ipv6Addr>() {
                lock(&self.net.allocated6)
                    .entry(ep.network_id.clone())
                    .or_default()
                    .insert(ip);
            }
        }
        let mut held = Vec::new();
        for (key, list) in &rec.net.ports {
            let Ok((_, proto)) = parse_port_key(key) else {
                continue;
            };
            for b in list {
                let ip = parse_host_ip(&b.host_ip).ok().flatten();
                match b.host_port.parse().map(|p| ports::reserve(proto, ip, p)) {
                    Ok(Ok(r)) => held.push(r),
                    _ => {
                        tracing::warn!(id = %rec.id, "could not hold host port {}:{} again", b.host_ip, b.host_port)
                    }
                }
            }
        }
        lock(&self.net.ports).insert(rec.id.clone(), held);
        if let Err(e) = self.start_dns(h).await {
            tracing::warn!(id = %rec.id, "embedded DNS: {}", e.message);
        }
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
        let mut rules = Vec::new();
        for h in self.all_containers() {
            let r = h.record();
            let primary = r.networks.get(&r.host_config.network_mode);
            let Some(cip) = primary.and_then(|ep| ep.ip_address.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            let cip6 = primary.and_then(|ep| ep.global_ipv6_address.parse::<Ipv6Addr>().ok());
            for (key, list) in &r.net.ports {
                let Ok((cport, proto)) = parse_port_key(key) else {
                    continue;
                };
                for b in list {
                    let Ok(hp) = b.host_port.parse() else {
                        continue;
                    };
                    let Ok(Some(host_ip)) = parse_host_ip(&b.host_ip) else {
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
        }
        let set = Ruleset {
            bridges,
            ports: rules,
        };
        let table = self.cfg.network.nft_table.clone();
        crate::blocking(move || set.apply(&table).map_err(net_err)).await
    }

    /// `POST /networks/{id}/connect`.
    pub async fn connect_network(
        self: &Arc<Self>,
        key: &str,
        container: &str,
        ep: Option<EndpointSettings>,
    ) -> Result<()> {
        // The container first, as dockerd looks them up.
        let h = self.container(container)?;
        let n = self.find_network(key)?;
        let _op = h.op.lock().await;
        let mut ep = ep.unwrap_or_default();
        let (mode, running, already) = {
            let r = h.record();
            (
                r.host_config.network_mode.clone(),
                r.state.has_process(),
                r.networks.contains_key(&n.name),
            )
        };
        if mode == "none" {
            return Err(ApiError::bad_request(
                "container cannot be connected to multiple networks with one of the networks in private (none) mode",
            ));
        }
        if matches!(n.driver.as_str(), "host" | "null")
            || mode == "host"
            || mode.starts_with("container:")
        {
            return Err(ApiError::bad_request(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if already {
            return Err(ApiError::forbidden(format!(
                "endpoint with name {} already exists in network {}",
                h.record().name.trim_start_matches('/'),
                n.name
            )));
        }
        self.validate_endpoint(&n, &ep)?;
        ep.network_id = n.id.clone();
        if running {
            let rec = h.record().clone();
            let ns = PathBuf::from(&rec.net.sandbox);
            let used: HashSet<&str> = rec.net.links.values().map(|(_, i)| i.as_str()).collect();
            let ifname = (0..)
                .map(|i| format!("eth{i}"))
                .find(|i| !used.contains(i.as_str()))
                .unwrap_or_default();
            let l = self
                .attach_endpoint(&rec, &ns, &ifname, &n, &mut ep, false)
                .await?;
            let mut r = h.record();
            r.networks.insert(n.name.clone(), ep);
            r.net.links.insert(n.name.clone(), l);
        } else {
            h.record().networks.insert(n.name.clone(), ep);
        }
        if running {
            self.start_dns(&h).await?;
        }
        let rec = h.record().clone();
        self.persist(&rec)?;
        self.dns_sync(&rec);
        self.network_event(&n, "connect", &[("container", rec.id.clone())]);
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(self: &Arc<Self>, key: &str, container: &str) -> Result<()> {
        let h = self.container(container)?;
        let n = self.find_network(key)?;
        let _op = h.op.lock().await;
        let rec = h.record().clone();
        if !rec.networks.contains_key(&n.name) {
            return Err(ApiError::forbidden(format!(
                "container {} is not connected to network {}",
                rec.id, n.name
            )));
        }
        if matches!(n.driver.as_str(), "host" | "null") {
            return Err(ApiError::bad_request(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if let Some((veth, _)) = rec.net.links.get(&n.name) {
            self.net.nl.delete(veth).await.map_err(net_err)?;
            self.release_ip(&rec, &n.name);
        }
        let rec = {
            let mut r = h.record();
            r.networks.remove(&n.name);
            r.net.links.remove(&n.name);
            r.clone()
        };
        self.persist(&rec)?;
        self.dns_sync(&rec);
        self.network_event(&n, "disconnect", &[("container", rec.id.clone())]);
        Ok(())
    }
}

/// NetworkSettings as inspect shows it.
pub fn network_settings(r: &ContainerRecord) -> serde_json::Value {
    let mut ports = serde_json::Map::new();
    if r.state.has_process() {
        for k in r.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
            ports.insert(k.clone(), serde_json::Value::Null);
        }
        for (k, v) in &r.net.ports {
            ports.insert(k.clone(), serde_json::json!(v));
        }
    }
    // The top-level address fields describe the default bridge only (deprecated in the API).
    let bridge = r.networks.get("bridge").cloned().unwrap_or_default();
    let sandbox_key = if !r.state.has_process() || r.host_config.network_mode == "host" {
        String::new()
    } else if r.net.sandbox.is_empty() {
        format!("/proc/{}/ns/net", r.state.pid)
    } else {
        r.net.sandbox.clone()
    };
    serde_json::json!({
        "Bridge": "",
        "SandboxID": if r.state.has_process() { r.id.clone() } else { String::new() },
        "SandboxKey": sandbox_key,
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": bridge.endpoint_id,
        "Gateway": bridge.gateway,
        "GlobalIPv6Address": bridge.global_ipv6_address,
        "GlobalIPv6PrefixLen": bridge.global_ipv6_prefix_len,
        "IPAddress": bridge.ip_address,
        "IPPrefixLen": bridge.ip_prefix_len,
        "IPv6Gateway": bridge.ipv6_gateway,
        "MacAddress": bridge.mac_address,
        "Networks": r.networks,
    })
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

/// An endpoint's addresses, IPv4 then IPv6.
fn addresses(ep: &EndpointSettings) -> impl Iterator<Item = IpAddr> + '_ {
    [&ep.ip_address, &ep.global_ipv6_address]
        .into_iter()
        .filter_map(|a| a.parse().ok())
}

/// `ip` as `docker port` shows a host address: IPv6 in brackets.
fn fmt_host_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Holds the first free port of `lo..=hi` at `ip`.
fn reserve_in(
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

fn clear_runtime(ep: &mut EndpointSettings) {
    ep.endpoint_id.clear();
    ep.gateway.clear();
    ep.ip_address.clear();
    ep.ip_prefix_len = 0;
    ep.global_ipv6_address.clear();
    ep.global_ipv6_prefix_len = 0;
    ep.ipv6_gateway.clear();
    ep.dns_names = None;
    // A MAC the user chose stays; one derived from the address goes with it.
    if ep.mac_address.starts_with("02:42:") {
        ep.mac_address.clear();
    }
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
