//! Wiring a container into its networks when it starts and out when it
//! stops: its namespace, a veth pair and address per network, and the
//! undoing of it all. Beside it: published ports and the rule set
//! (`published`), the embedded DNS (`resolver`), /etc/hosts and resolv.conf (`etc`),
//! `network connect`/`disconnect` (`connect`) and inspect's view (`settings`).

mod connect;
mod etc;
mod published;
mod resolver;
mod settings;

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use crate::Error;
use berth_api::network::{EndpointSettings, Network, PortBinding};
use berth_network::link::{self, Endpoint};
use berth_network::nft::{BridgeRules, PortRule, Proto, Ruleset};
use berth_network::{dns, ipam, netns, ports};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::{bridge_of, lock, net_err, new_id, pool6_of, pool_of, MASQ_OPT, MTU_OPT};
use crate::containers::record::{ContainerHandle, ContainerPaths, ContainerRecord};
use crate::engine::Engine;
use crate::Result;

pub(crate) use published::validate_port_bindings;
use published::*;
pub use published::{parse_port_key, summary_ports};
use resolver::*;
pub use settings::network_settings;

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

pub(super) fn is_user_network(n: &Network) -> bool {
    n.driver == "bridge" && n.name != "bridge"
}

impl Engine {
    pub(super) fn netns_path(&self, id: &str) -> PathBuf {
        self.cfg.exec_root.join("netns").join(&id[..12])
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
                return Err(Error::conflict(format!(
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

    pub(super) async fn wire_sandbox(
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
            .map_err(|e| Error::caused_by("write /etc files", e))?;
        // Ports go to the address on the first network, which the rules read from the record.
        if first_ip.is_some() {
            self.publish_ports(h)?;
            let rules = port_rules_of(&h.record());
            self.change_port_rules(rules, true).await?;
        }
        self.start_dns(h).await
    }

    /// Once `target` runs: the running containers that link to it (legacy
    /// links, default bridge) get their /etc/hosts written again, as its
    /// address may be new.
    pub(crate) fn refresh_linking_hosts(&self, target: &ContainerRecord) {
        for h in self.running_containers() {
            // Only a linking container's record is copied: every start walks
            // the running ones.
            let r = {
                let r = h.record();
                let links_here = crate::containers::links::of(&r).iter().any(|l| {
                    l.target.trim_start_matches('/') == target.name.trim_start_matches('/')
                });
                if r.id == target.id || !links_here {
                    continue;
                }
                r.clone()
            };
            let ep = r.networks.get(&r.host_config.network_mode);
            let ip = ep.and_then(|ep| ep.ip_address.parse().ok());
            let ip6 = ep.and_then(|ep| ep.global_ipv6_address.parse().ok());
            if let Err(e) = self.write_etc_files(&self.paths(&r.id), &r, ip, ip6) {
                tracing::warn!(id = %r.id, "rewrite /etc/hosts for a link: {e}");
            }
        }
    }

    /// One network's veth pair and address in the namespace.
    /// Wires `rec` into network `n` at `ns`: its addresses, a veth on the
    /// network's bridge, the endpoint's settings. On any failure what it
    /// took (addresses, the veth) is given back.
    pub(super) async fn attach_endpoint(
        &self,
        rec: &ContainerRecord,
        ns: &std::path::Path,
        ifname: &str,
        n: &Network,
        ep: &mut EndpointSettings,
        default_route: bool,
    ) -> Result<(String, String)> {
        let (subnet, gw, range) = pool_of(n)
            .ok_or_else(|| Error::internal(format!("network {} has no subnet", n.name)))?;
        // A fixed address a stopped container still holds comes free once its
        // veth is gone (~20 ms): wait for that rather than fail, as Compose
        // recreates a service (remove the old, start the new) and dockerd,
        // which frees it before answering, lets it.
        if let Some(w) = ep
            .ipam_config
            .as_ref()
            .and_then(|c| c.ipv4_address.parse::<Ipv4Addr>().ok())
        {
            let key = (n.id.clone(), w);
            for _ in 0..200 {
                if !lock(&self.net.releasing).contains(&key) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        let ip = {
            let wanted = ep.ipam_config.as_ref().map(|c| c.ipv4_address.as_str());
            let mut alloc = lock(&self.net.allocated);
            take_address(
                alloc.entry(n.id.clone()).or_default(),
                wanted.unwrap_or(""),
                &n.name,
                "IPv4",
                |used| ipam::allocate(&subnet, range.as_ref(), gw, used),
                |s| ipam::parse_ip(s).map_err(net_err),
            )?
        };
        let mut leases = Leases {
            net: &self.net,
            network: &n.id,
            v4: Some(ip),
            v6: None,
        };
        let ip6 = match pool6_of(n) {
            Some(pool6) => {
                let ip6 = self.allocate_ip6(n, &pool6, ep)?;
                leases.v6 = Some(ip6);
                Some((ip6, pool6))
            }
            None => None,
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
            return Err(net_err(e));
        }
        let cfg = Endpoint {
            ifname: ifname.to_string(),
            address: Ipv4Net::new(ip, subnet.prefix_len())
                .map_err(|e| Error::internal(e.to_string()))?,
            gateway: default_route.then_some(gw),
            address6: ip6.and_then(|(a, (s6, _, _))| Ipv6Net::new(a, s6.prefix_len()).ok()),
            gateway6: ip6.filter(|_| default_route).map(|(_, (_, gw6, _))| gw6),
        };
        let ns2 = ns.to_path_buf();
        if let Err(e) =
            crate::blocking(move || link::configure_endpoint(&ns2, cfg).map_err(net_err)).await
        {
            let _ = self.net.nl.delete(&veth).await;
            return Err(e);
        }
        leases.keep();
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
    pub(super) fn allocate_ip6(
        &self,
        n: &Network,
        (subnet, gw, range): &(Ipv6Net, Ipv6Addr, Option<Ipv6Net>),
        ep: &EndpointSettings,
    ) -> Result<Ipv6Addr> {
        let wanted = ep.ipam_config.as_ref().map(|c| c.ipv6_address.as_str());
        let mut alloc = lock(&self.net.allocated6);
        take_address(
            alloc.entry(n.id.clone()).or_default(),
            wanted.unwrap_or(""),
            &n.name,
            "IPv6",
            |used| ipam::allocate6(subnet, range.as_ref(), *gw, used),
            |s| ipam::parse_ip6(s).map_err(net_err),
        )
    }

    /// After the container stopped (or failed to start): undo everything; idempotent.
    pub(crate) async fn disconnect_sandbox(self: &Arc<Self>, h: &Arc<ContainerHandle>) {
        let rec = h.record().clone();
        if let Some(t) = lock(&self.net.dns).remove(&rec.id) {
            t.abort();
        }
        let held = lock(&self.net.ports).remove(&rec.id);
        h.record().net.ports.clear();
        if let Err(e) = self.change_port_rules(port_rules_of(&rec), false).await {
            tracing::warn!(id = %rec.id, "rules: {e}");
        }
        // The host ports are let go once no rule leads to the container.
        drop(held);
        // Unpinning the namespace is instant and makes the kernel destroy it and
        // its veth pairs, even if berthd dies now. Deleting a veth ourselves
        // would wait ~20 ms for the kernel; instead the addresses are released
        // once the host ends are gone, off the stop path.
        if !rec.net.sandbox.is_empty() {
            netns::remove(std::path::Path::new(&rec.net.sandbox));
        }
        if !rec.net.links.is_empty() {
            let releasing: Vec<(String, Ipv4Addr)> = rec
                .net
                .links
                .keys()
                .filter_map(|net| rec.networks.get(net))
                .filter_map(|ep| Some((ep.network_id.clone(), ep.ip_address.parse().ok()?)))
                .collect();
            lock(&self.net.releasing).extend(releasing.iter().cloned());
            let engine = self.clone();
            let rec2 = rec.clone();
            tokio::spawn(async move {
                for (net, (veth, _)) in &rec2.net.links {
                    engine.await_link_gone(veth).await;
                    engine.release_ip(&rec2, net);
                }
                let mut r = lock(&engine.net.releasing);
                for x in &releasing {
                    r.remove(x);
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
    pub(super) async fn await_link_gone(&self, veth: &str) {
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

    pub(super) fn release_ip(&self, rec: &ContainerRecord, net: &str) {
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
            tracing::warn!(id = %rec.id, "embedded DNS: {e}");
        }
    }
}

/// An address of one family for an endpoint from the network's `used` set:
/// the one it asked for (`wanted`, refused if taken) or the one `allocate`
/// picks; either is taken at once.
fn take_address<A: Copy + Eq + std::hash::Hash + std::fmt::Display>(
    used: &mut HashSet<A>,
    wanted: &str,
    network: &str,
    family: &str,
    allocate: impl FnOnce(&HashSet<A>) -> Option<A>,
    parse: impl FnOnce(&str) -> Result<A>,
) -> Result<A> {
    let ip = if wanted.is_empty() {
        allocate(used).ok_or_else(|| {
            Error::internal(format!(
                "no available {family} addresses on network {network}"
            ))
        })?
    } else {
        let ip = parse(wanted)?;
        if used.contains(&ip) {
            return Err(Error::forbidden(format!(
                "Address already in use: {ip} on network {network}"
            )));
        }
        ip
    };
    used.insert(ip);
    Ok(ip)
}

/// An endpoint's addresses, IPv4 then IPv6.
pub(super) fn addresses(ep: &EndpointSettings) -> impl Iterator<Item = IpAddr> + '_ {
    [&ep.ip_address, &ep.global_ipv6_address]
        .into_iter()
        .filter_map(|a| a.parse().ok())
}

pub(super) fn clear_runtime(ep: &mut EndpointSettings) {
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

/// The addresses taken for an endpoint being made, given back when it is
/// dropped on the way (an error), kept once the endpoint is made.
struct Leases<'a> {
    net: &'a super::NetState,
    network: &'a str,
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
}

impl Leases<'_> {
    fn keep(mut self) {
        self.v4 = None;
        self.v6 = None;
    }
}

impl Drop for Leases<'_> {
    fn drop(&mut self) {
        if let (Some(ip), Some(s)) = (self.v4, lock(&self.net.allocated).get_mut(self.network)) {
            s.remove(&ip);
        }
        if let (Some(ip), Some(s)) = (self.v6, lock(&self.net.allocated6).get_mut(self.network)) {
            s.remove(&ip);
        }
    }
}
