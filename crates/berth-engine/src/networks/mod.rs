//! Networks as users see them: the predefined `bridge`, `host` and `none`,
//! and user-defined bridge networks with their own subnet, DNS and isolation.
//! What wires a container into them lives in `sandbox`.

mod names;
mod sandbox;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};

use crate::Error;
use berth_api::filters::Filters;
use berth_api::network::{
    EndpointSettings, Ipam, IpamPool, Network, NetworkContainer, NetworkCreateRequest,
};
use berth_network::ipam;
use berth_network::link::Netlink;
use berth_network::ports::Reservation;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::containers::record::now_rfc3339;
use crate::engine::Engine;
use crate::Result;

pub(crate) use sandbox::validate_port_bindings;
pub use sandbox::{network_settings, parse_port_key, summary_ports, NetPlan, NetRuntime};

pub const BRIDGE_NAME_OPT: &str = "com.docker.network.bridge.name";
const DEFAULT_BRIDGE_OPT: &str = "com.docker.network.bridge.default_bridge";
const MASQ_OPT: &str = "com.docker.network.bridge.enable_ip_masquerade";
const MTU_OPT: &str = "com.docker.network.driver.mtu";

/// Daemon-wide network settings (dockerd's flags of the same names).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The default bridge's interface (`bridge`; created if missing).
    pub bridge: String,
    /// The default bridge's address and prefix (`bip`).
    pub bip: Option<String>,
    /// Where default-bridge containers get addresses (`fixed-cidr`).
    pub fixed_cidr: Option<String>,
    /// IPv6 on the default bridge (`ipv6`), in `fixed-cidr-v6` or a unique
    /// local /64 derived from the network's ID.
    pub ipv6: bool,
    pub fixed_cidr_v6: Option<String>,
    /// Where subnets come from (`default-address-pools`).
    pub pools: Vec<(Ipv4Net, u8)>,
    /// Berth's nftables table (Berth's own setting, so daemons side by side do not collide).
    pub nft_table: String,
    pub ip_forward: bool,
    pub ip_masq: bool,
    pub mtu: u32,
    /// Resolvers and search domains for containers (`dns`, `dns-search`, `dns-opts`).
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            bridge: "berth0".into(),
            bip: None,
            fixed_cidr: None,
            ipv6: false,
            fixed_cidr_v6: None,
            pools: ipam::default_pools(),
            nft_table: "berth".into(),
            ip_forward: true,
            ip_masq: true,
            mtu: 0,
            dns: vec![],
            dns_search: vec![],
            dns_options: vec![],
        }
    }
}

/// The engine's live network state.
pub(crate) struct NetState {
    pub(crate) nl: Netlink,
    /// Every network, as stored (without `Containers`).
    networks: Mutex<Vec<Network>>,
    /// Addresses in use per network ID.
    allocated: Mutex<HashMap<String, HashSet<Ipv4Addr>>>,
    /// IPv6 addresses in use per network ID.
    allocated6: Mutex<HashMap<String, HashSet<Ipv6Addr>>>,
    /// IPv4 addresses of stopped containers, given back once their veth is
    /// gone (network ID, address): a start that asks for one of them waits.
    pub(crate) releasing: Mutex<HashSet<(String, Ipv4Addr)>>,
    /// Host ports held per container ID.
    ports: Mutex<HashMap<String, Vec<Reservation>>>,
    /// Embedded DNS servers per container ID.
    dns: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    /// What those servers answer.
    names: Mutex<names::NameTable>,
    /// Serialises rule set rewrites.
    nft: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn net_err(e: berth_network::NetError) -> Error {
    match e {
        berth_network::NetError::Invalid(m) => Error::bad_request(m),
        berth_network::NetError::Conflict(m) => Error::internal(m),
        other => Error::internal(other.to_string()),
    }
}

pub(crate) fn is_predefined(name: &str) -> bool {
    matches!(name, "bridge" | "host" | "none")
}

/// A network as the API shows it: the bridge interface Berth named itself
/// (`br-<id>`) is kept in its options but not shown, as dockerd shows only
/// the options a network was made with (docker-compose 1.x recreates a
/// network whose options look changed).
fn as_shown(mut n: Network) -> Network {
    let generated = format!("br-{}", n.id.get(..12).unwrap_or(""));
    if n.options.get(BRIDGE_NAME_OPT) == Some(&generated) {
        n.options.remove(BRIDGE_NAME_OPT);
    }
    n
}

/// The bridge interface of a bridge network.
pub(crate) fn bridge_of(n: &Network) -> &str {
    n.options
        .get(BRIDGE_NAME_OPT)
        .map(String::as_str)
        .unwrap_or("")
}

/// (subnet, gateway, ip-range) of a bridge network.
pub(crate) fn pool_of(n: &Network) -> Option<(Ipv4Net, Ipv4Addr, Option<Ipv4Net>)> {
    n.ipam.config.as_ref()?.iter().find_map(|p| {
        let subnet: Ipv4Net = p.subnet.parse().ok()?;
        let gw = p.gateway.parse().ok()?;
        Some((subnet, gw, p.ip_range.parse().ok()))
    })
}

/// (subnet, gateway, ip-range) of an IPv6 network's IPv6 pool.
pub(crate) fn pool6_of(n: &Network) -> Option<(Ipv6Net, Ipv6Addr, Option<Ipv6Net>)> {
    if !n.enable_ipv6 {
        return None;
    }
    n.ipam.config.as_ref()?.iter().find_map(|p| {
        let subnet: Ipv6Net = p.subnet.parse().ok()?;
        let gw = p.gateway.parse().ok()?;
        Some((subnet, gw, p.ip_range.parse().ok()))
    })
}

/// Whether an IPAM pool of a request is about IPv6 (its subnet, gateway or range say so).
fn is_v6_pool(p: &IpamPool) -> bool {
    [&p.subnet, &p.gateway, &p.ip_range]
        .iter()
        .any(|s| s.contains(':'))
}

fn new_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl NetState {
    pub(crate) fn new() -> Result<NetState> {
        Ok(NetState {
            nl: Netlink::connect().map_err(net_err)?,
            networks: Mutex::new(Vec::new()),
            allocated: Mutex::new(HashMap::new()),
            allocated6: Mutex::new(HashMap::new()),
            releasing: Mutex::new(HashSet::new()),
            ports: Mutex::new(HashMap::new()),
            dns: Mutex::new(HashMap::new()),
            names: Mutex::new(Default::default()),
            nft: tokio::sync::Mutex::new(()),
        })
    }
}

#[derive(Debug, Default)]
pub struct NetworkCreated {
    pub id: String,
    pub warning: String,
}

impl Engine {
    fn store_network(&self, n: &Network) -> Result<()> {
        let doc = serde_json::to_string(n).map_err(|e| Error::internal(e.to_string()))?;
        self.objects
            .insert_network(&n.id, &n.name, &doc)
            .map_err(|e| match e {
                berth_store::StoreError::Conflict(_) => {
                    Error::conflict(format!("network with name {} already exists", n.name))
                }
                other => other.into(),
            })?;
        lock(&self.net.networks).push(n.clone());
        Ok(())
    }

    /// Loads the networks, makes the predefined ones and the default bridge.
    pub(crate) async fn init_networks(&self) -> Result<()> {
        let docs = self.objects.networks().map_err(Error::from)?;
        let loaded: Vec<Network> = docs
            .iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect();
        *lock(&self.net.networks) = loaded;
        for (name, driver) in [("host", "host"), ("none", "null")] {
            if self.find_network(name).is_err() {
                self.store_network(&Network {
                    name: name.into(),
                    id: new_id(),
                    created: now_rfc3339(),
                    scope: "local".into(),
                    driver: driver.into(),
                    enable_ipv4: true,
                    ipam: Ipam {
                        driver: "default".into(),
                        options: None,
                        config: Some(vec![]),
                    },
                    ..Default::default()
                })?;
            }
        }
        let nc = &self.cfg.network;
        // A stored default bridge is kept unless the config now names another
        // interface or address for it; then it starts over.
        let bridge = match self.find_network("bridge") {
            Ok(n)
                if bridge_of(&n) == nc.bridge
                    && (nc.bip.is_none() || pool_gateway_cidr(&n) == nc.bip)
                    && n.enable_ipv6 == nc.ipv6
                    && nc.fixed_cidr_v6.as_ref().is_none_or(|want| {
                        pool6_of(&n).is_some_and(|(s, ..)| {
                            ipam::parse_net6(want).is_ok_and(|w| w.trunc() == s)
                        })
                    }) =>
            {
                n
            }
            other => {
                if let Ok(old) = other {
                    self.objects.delete_network(&old.id).map_err(Error::from)?;
                    lock(&self.net.networks).retain(|n| n.id != old.id);
                }
                let (subnet, gateway) = match &nc.bip {
                    Some(bip) => {
                        let net = ipam::parse_net(bip).map_err(net_err)?;
                        (net.trunc(), net.addr())
                    }
                    None => {
                        let subnet = self.free_subnet()?;
                        (subnet, ipam::default_gateway(&subnet))
                    }
                };
                let fixed = match &nc.fixed_cidr {
                    Some(f) => {
                        let f = ipam::parse_net(f).map_err(net_err)?;
                        if !subnet.contains(&f.network()) {
                            return Err(Error::bad_request(format!(
                                "fixed-cidr {f} is not within the bridge's subnet {subnet}"
                            )));
                        }
                        f.trunc().to_string()
                    }
                    None => String::new(),
                };
                let mut options: BTreeMap<String, String> = BTreeMap::new();
                options.insert(BRIDGE_NAME_OPT.into(), nc.bridge.clone());
                options.insert(DEFAULT_BRIDGE_OPT.into(), "true".into());
                options.insert(MASQ_OPT.into(), nc.ip_masq.to_string());
                options.insert("com.docker.network.bridge.enable_icc".into(), "true".into());
                options.insert(
                    "com.docker.network.bridge.host_binding_ipv4".into(),
                    "0.0.0.0".into(),
                );
                options.insert(MTU_OPT.into(), nc.mtu.max(1500).to_string());
                let id = new_id();
                let mut pools = vec![IpamPool {
                    subnet: subnet.to_string(),
                    gateway: gateway.to_string(),
                    ip_range: fixed,
                    auxiliary_addresses: None,
                }];
                if nc.ipv6 {
                    let asked = nc.fixed_cidr_v6.as_ref().map(|s| IpamPool {
                        subnet: s.clone(),
                        ..Default::default()
                    });
                    pools.push(self.ipv6_pool(asked.as_ref(), &id)?);
                }
                let n = Network {
                    name: "bridge".into(),
                    id,
                    created: now_rfc3339(),
                    scope: "local".into(),
                    driver: "bridge".into(),
                    enable_ipv4: true,
                    enable_ipv6: nc.ipv6,
                    ipam: Ipam {
                        driver: "default".into(),
                        options: None,
                        config: Some(pools),
                    },
                    options,
                    ..Default::default()
                };
                self.store_network(&n)?;
                n
            }
        };
        self.bring_up_bridge(&bridge).await?;
        // Bridges of user networks come back too (after a reboot, say).
        let user: Vec<Network> = lock(&self.net.networks)
            .iter()
            .filter(|n| n.driver == "bridge" && n.name != "bridge")
            .cloned()
            .collect();
        for n in &user {
            if let Err(e) = self.bring_up_bridge(n).await {
                tracing::warn!(network = %n.name, "bring up bridge: {e}");
            }
        }
        if nc.ip_forward {
            berth_network::nft::enable_forwarding().map_err(net_err)?;
        }
        Ok(())
    }

    async fn bring_up_bridge(&self, n: &Network) -> Result<()> {
        let Some((subnet, gw, _)) = pool_of(n) else {
            return Err(Error::internal(format!("network {} has no subnet", n.name)));
        };
        let mtu = n
            .options
            .get(MTU_OPT)
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        let cidr =
            Ipv4Net::new(gw, subnet.prefix_len()).map_err(|e| Error::internal(e.to_string()))?;
        let cidr6 = pool6_of(n).and_then(|(s6, gw6, _)| Ipv6Net::new(gw6, s6.prefix_len()).ok());
        self.net
            .nl
            .ensure_bridge(bridge_of(n), cidr, cidr6, mtu)
            .await
            .map_err(net_err)
    }

    /// A subnet from the pools that no network of ours and no host route uses.
    fn free_subnet(&self) -> Result<Ipv4Net> {
        let mut taken = ipam::host_routes();
        taken.extend(
            lock(&self.net.networks)
                .iter()
                .filter_map(|n| pool_of(n).map(|p| p.0)),
        );
        ipam::pick_subnet(&self.cfg.network.pools, &taken).ok_or_else(|| {
            Error::bad_request(
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
            )
        })
    }

    /// A network by full ID, name, or unique ID prefix, as dockerd finds them.
    pub fn find_network(&self, key: &str) -> Result<Network> {
        let nets = lock(&self.net.networks);
        if let Some(n) = nets.iter().find(|n| n.id == key || n.name == key) {
            return Ok(n.clone());
        }
        let found: Vec<&Network> = if key.is_empty() {
            vec![]
        } else {
            nets.iter().filter(|n| n.id.starts_with(key)).collect()
        };
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::not_found(format!("network {key} not found"))),
            _ => Err(Error::not_found(format!(
                "network {key} is ambiguous ({} matches found based on ID prefix)",
                found.len()
            ))),
        }
    }

    pub async fn create_network(&self, req: NetworkCreateRequest) -> Result<NetworkCreated> {
        // dockerd's rule: any name but the empty one (spaces, dots, slashes
        // and all), kept as given. A NUL byte cannot be a name anywhere.
        let name = req.name.clone();
        if name.is_empty() {
            return Err(Error::bad_request("network name is required"));
        }
        if name.contains('\0') {
            return Err(Error::bad_request(
                "invalid network name: it contains a NUL byte",
            ));
        }
        if is_predefined(&name) {
            return Err(Error::forbidden(format!(
                "operation is not permitted on predefined {name} network "
            )));
        }
        if self.find_network(&name).is_ok_and(|n| n.name == name) {
            return Err(Error::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        // Refused, never ignored: a network made without them would not be
        // the one asked for.
        if req.config_only
            || req
                .config_from
                .as_ref()
                .is_some_and(|c| !c.network.is_empty())
        {
            return Err(Error::bad_request(
                "config-only networks (--config-only, --config-from) are not supported by this berthd",
            ));
        }
        let driver = if req.driver.is_empty() {
            "bridge"
        } else {
            req.driver.as_str()
        };
        if driver != "bridge" {
            return Err(Error::not_found(format!("plugin \"{driver}\" not found")));
        }
        let ipv6 = req.enable_ipv6 == Some(true);
        let ipam_req = req.ipam.clone().unwrap_or_default();
        if !matches!(ipam_req.driver.as_str(), "" | "default") {
            return Err(Error::not_found(format!(
                "plugin \"{}\" not found",
                ipam_req.driver
            )));
        }
        let (pools6, pools): (Vec<IpamPool>, Vec<IpamPool>) = ipam_req
            .config
            .clone()
            .unwrap_or_default()
            .into_iter()
            .partition(is_v6_pool);
        if pools.len() > 1 || pools6.len() > 1 {
            return Err(Error::bad_request(
                "only one IPv4 and one IPv6 subnet per network are supported by this version of berthd",
            ));
        }
        if !pools6.is_empty() && !ipv6 {
            return Err(Error::bad_request(
                "an IPv6 subnet needs IPv6 enabled on the network (EnableIPv6, --ipv6)",
            ));
        }
        let taken: Vec<(String, IpNet)> = lock(&self.net.networks)
            .iter()
            .filter_map(|n| pool_of(n).map(|p| (n.name.clone(), p.0.into())))
            .collect();
        let pool = match pools.first() {
            Some(p) if !p.subnet.is_empty() => {
                let subnet = ipam::parse_net(&p.subnet).map_err(net_err)?.trunc();
                let gateway = ipam::default_gateway(&subnet).into();
                checked_pool(p, subnet.into(), gateway, &taken)?
            }
            Some(p) if !p.gateway.is_empty() || !p.ip_range.is_empty() => {
                return Err(Error::bad_request("a gateway or ip-range needs a subnet"));
            }
            _ => {
                let subnet = self.free_subnet()?;
                IpamPool {
                    subnet: subnet.to_string(),
                    gateway: ipam::default_gateway(&subnet).to_string(),
                    ip_range: String::new(),
                    auxiliary_addresses: None,
                }
            }
        };
        let id = new_id();
        let mut config = vec![pool];
        if ipv6 {
            config.push(self.ipv6_pool(pools6.first(), &id)?);
        }
        let mut options = req.options.clone().unwrap_or_default();
        let bridge = options
            .get(BRIDGE_NAME_OPT)
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ', '"', '\\']) {
            return Err(Error::bad_request(format!(
                "invalid bridge name {bridge:?}"
            )));
        }
        if lock(&self.net.networks)
            .iter()
            .any(|n| bridge_of(n) == bridge)
        {
            return Err(Error::conflict(format!(
                "bridge name {bridge} is used by another network"
            )));
        }
        if self
            .net
            .nl
            .index_of(&bridge)
            .await
            .map_err(net_err)?
            .is_some()
        {
            return Err(Error::conflict(format!(
                "an interface named {bridge} already exists on the host"
            )));
        }
        if let Some(m) = options.get(MTU_OPT) {
            if m.parse::<u32>().is_err() {
                return Err(Error::bad_request(format!("invalid MTU {m:?}")));
            }
        }
        options.insert(BRIDGE_NAME_OPT.into(), bridge);
        let n = Network {
            name: name.clone(),
            id: id.clone(),
            created: now_rfc3339(),
            scope: "local".into(),
            driver: "bridge".into(),
            enable_ipv4: true,
            enable_ipv6: ipv6,
            ipam: Ipam {
                driver: "default".into(),
                options: ipam_req.options.clone().or(Some(BTreeMap::new())),
                config: Some(config),
            },
            internal: req.internal,
            attachable: req.attachable,
            ingress: false,
            config_from: Default::default(),
            config_only: false,
            containers: BTreeMap::new(),
            options,
            labels: req.labels.clone().unwrap_or_default(),
        };
        self.store_network(&n)?;
        let up = self.bring_up_bridge(&n).await;
        let up = match up {
            Ok(()) => self.sync_rules().await,
            Err(e) => Err(e),
        };
        if let Err(e) = up {
            let _ = self.net.nl.delete(bridge_of(&n)).await;
            let _ = self.objects.delete_network(&id);
            lock(&self.net.networks).retain(|x| x.id != id);
            let _ = self.sync_rules().await;
            return Err(e);
        }
        self.network_event(&n, "create", &[]);
        Ok(NetworkCreated {
            id,
            warning: String::new(),
        })
    }

    /// The IPv6 pool of a new network: the one asked for (checked against
    /// the other networks' as dockerd checks IPv4 pools), or a unique local /64.
    fn ipv6_pool(&self, asked: Option<&IpamPool>, id: &str) -> Result<IpamPool> {
        let taken: Vec<(String, IpNet)> = lock(&self.net.networks)
            .iter()
            .filter_map(|n| pool6_of(n).map(|p| (n.name.clone(), p.0.into())))
            .collect();
        let Some(p) = asked.filter(|p| !p.subnet.is_empty()) else {
            if asked.is_some() {
                return Err(Error::bad_request("a gateway or ip-range needs a subnet"));
            }
            let subnet = ipam::ula_subnet(&hex::decode(&id[..10]).unwrap_or_default());
            return Ok(IpamPool {
                subnet: subnet.to_string(),
                gateway: ipam::default_gateway6(&subnet).to_string(),
                ip_range: String::new(),
                auxiliary_addresses: None,
            });
        };
        let subnet = ipam::parse_net6(&p.subnet).map_err(net_err)?.trunc();
        if subnet.prefix_len() > 126 {
            return Err(Error::bad_request(format!(
                "invalid subnet {subnet}: an IPv6 subnet needs room for a gateway and a container (at most /126)"
            )));
        }
        let gateway = ipam::default_gateway6(&subnet).into();
        checked_pool(p, subnet.into(), gateway, &taken)
    }

    pub(crate) fn network_event(&self, n: &Network, action: &str, extra: &[(&str, String)]) {
        let mut attributes: BTreeMap<String, String> = n.labels.clone();
        attributes.insert("name".into(), n.name.clone());
        attributes.insert("type".into(), n.driver.clone());
        for (k, v) in extra {
            attributes.insert(k.to_string(), v.clone());
        }
        self.events.publish(crate::events::Event {
            kind: "network".into(),
            action: action.into(),
            actor_id: n.id.clone(),
            attributes,
            time_nano: crate::events::now_nano(),
        });
    }

    /// Running containers with an endpoint on the network, as inspect lists them.
    fn network_members(&self, n: &Network) -> BTreeMap<String, NetworkContainer> {
        let mut out = BTreeMap::new();
        for h in self.all_containers() {
            let r = h.record();
            if !r.state.has_process() {
                continue;
            }
            if let Some(ep) = r.networks.get(&n.name).filter(|ep| ep.network_id == n.id) {
                out.insert(
                    r.id.clone(),
                    NetworkContainer {
                        name: r.name.trim_start_matches('/').to_string(),
                        endpoint_id: ep.endpoint_id.clone(),
                        mac_address: ep.mac_address.clone(),
                        ipv4_address: if ep.ip_address.is_empty() {
                            String::new()
                        } else {
                            format!("{}/{}", ep.ip_address, ep.ip_prefix_len)
                        },
                        ipv6_address: if ep.global_ipv6_address.is_empty() {
                            String::new()
                        } else {
                            format!("{}/{}", ep.global_ipv6_address, ep.global_ipv6_prefix_len)
                        },
                    },
                );
            }
        }
        out
    }

    pub fn inspect_network(&self, key: &str) -> Result<Network> {
        let mut n = self.find_network(key)?;
        n.containers = self.network_members(&n);
        Ok(as_shown(n))
    }

    pub fn list_networks(&self, filters: &Filters) -> Result<Vec<Network>> {
        filters.only(&["driver", "id", "label", "name", "scope", "type", "dangling"])?;
        if let Some(t) = filters
            .get("type")
            .iter()
            .find(|t| !["custom", "builtin"].contains(&t.as_str()))
        {
            return Err(Error::bad_request(format!("invalid filter: 'type'='{t}'")));
        }
        let any = |key: &str, f: &dyn Fn(&str) -> bool| {
            let v = filters.get(key);
            v.is_empty() || v.iter().any(|x| f(x))
        };
        let nets: Vec<Network> = lock(&self.net.networks).clone();
        let mut out = Vec::new();
        for mut n in nets {
            let ty = if is_predefined(&n.name) {
                "builtin"
            } else {
                "custom"
            };
            let keep = any("driver", &|d| d == n.driver)
                && any("id", &|i| n.id.starts_with(i))
                && any("name", &|x| n.name.contains(x))
                && any("scope", &|s| s == n.scope)
                && any("type", &|t| t == ty)
                && filters.labels_match("label", &n.labels);
            if !keep {
                continue;
            }
            n.containers = self.network_members(&n);
            if let Some(d) = filters.get("dangling").first() {
                let dangling = !is_predefined(&n.name) && !self.network_in_use(&n);
                if (d == "true" || d == "1") != dangling {
                    continue;
                }
            }
            out.push(as_shown(n));
        }
        Ok(out)
    }

    /// Whether any container (running or not) is configured on the network.
    fn network_in_use(&self, n: &Network) -> bool {
        self.all_containers().iter().any(|h| {
            let r = h.record();
            r.networks
                .get(&n.name)
                .is_some_and(|ep| ep.network_id.is_empty() || ep.network_id == n.id)
        })
    }

    pub async fn remove_network(&self, key: &str) -> Result<()> {
        let n = self.find_network(key)?;
        if is_predefined(&n.name) {
            return Err(Error::forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        let members = self.network_members(&n);
        if !members.is_empty() {
            return Err(Error::forbidden(format!(
                "error while removing network: network {} has active endpoints (name:{:?} id:{:?})",
                n.name,
                members
                    .values()
                    .next()
                    .map(|m| m.name.clone())
                    .unwrap_or_default(),
                &n.id[..12]
            )));
        }
        self.objects.delete_network(&n.id).map_err(Error::from)?;
        lock(&self.net.networks).retain(|x| x.id != n.id);
        lock(&self.net.allocated).remove(&n.id);
        lock(&self.net.allocated6).remove(&n.id);
        self.sync_rules().await?;
        self.net.nl.delete(bridge_of(&n)).await.map_err(net_err)?;
        self.network_event(&n, "destroy", &[]);
        Ok(())
    }

    pub async fn prune_networks(&self, filters: &Filters) -> Result<Vec<String>> {
        filters.only(&["until", "label", "label!"])?;
        let until = filters
            .get("until")
            .first()
            .map(|u| crate::containers::prune::parse_until(u))
            .transpose()?;
        let nets: Vec<Network> = lock(&self.net.networks).clone();
        let mut deleted = Vec::new();
        for n in nets {
            if is_predefined(&n.name)
                || self.network_in_use(&n)
                || !filters.labels_match("label", &n.labels)
            {
                continue;
            }
            if let Some(u) = until {
                let created = chrono::DateTime::parse_from_rfc3339(&n.created)
                    .map(|t| t.timestamp())
                    .unwrap_or(0);
                if created >= u {
                    continue;
                }
            }
            if self.remove_network(&n.id).await.is_ok() {
                deleted.push(n.name.clone());
            }
        }
        Ok(deleted)
    }

    /// The settings a container asked for on the networks of its create request.
    pub(crate) fn plan_networks(
        &self,
        mode: &str,
        requested: BTreeMap<String, EndpointSettings>,
        mac: &str,
    ) -> Result<BTreeMap<String, EndpointSettings>> {
        let mut out = BTreeMap::new();
        if mode.starts_with("container:") {
            return Ok(out);
        }
        let primary = match mode {
            "" | "default" => "bridge",
            m => m,
        };
        // The docker CLI names the default network "default" in EndpointsConfig too.
        let requested: BTreeMap<String, EndpointSettings> = requested
            .into_iter()
            .map(|(k, v)| {
                if k == "default" {
                    ("bridge".to_string(), v)
                } else {
                    (k, v)
                }
            })
            .collect();
        let mut wanted: Vec<(String, EndpointSettings)> = vec![];
        let primary_ep = requested.get(primary).cloned();
        wanted.push((primary.to_string(), primary_ep.unwrap_or_default()));
        for (k, v) in requested {
            if k != primary {
                wanted.push((k, v));
            }
        }
        for (i, (key, mut ep)) in wanted.into_iter().enumerate() {
            let n = self.find_network(&key)?;
            if i > 0 && matches!(n.driver.as_str(), "host" | "null") {
                return Err(Error::bad_request(format!(
                    "container cannot be connected to network {} and {}",
                    primary, n.name
                )));
            }
            if i == 0 && !mac.is_empty() && ep.mac_address.is_empty() {
                ep.mac_address = mac.to_string();
            }
            self.validate_endpoint(&n, &ep)?;
            ep.network_id = n.id.clone();
            out.insert(n.name.clone(), ep);
        }
        Ok(out)
    }

    fn validate_endpoint(&self, n: &Network, ep: &EndpointSettings) -> Result<()> {
        let user = n.driver == "bridge" && n.name != "bridge";
        if !ep.mac_address.is_empty() {
            ipam::parse_mac(&ep.mac_address).map_err(net_err)?;
        }
        if ep.aliases.as_ref().is_some_and(|a| !a.is_empty()) && !user {
            return Err(Error::bad_request(
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
        if let Some(ip) = ep
            .ipam_config
            .as_ref()
            .map(|c| c.ipv4_address.as_str())
            .filter(|s| !s.is_empty())
        {
            if !user {
                return Err(Error::bad_request(
                    "user specified IP address is supported on user defined networks only",
                ));
            }
            let ip = ipam::parse_ip(ip).map_err(net_err)?;
            let (subnet, gw, _) =
                pool_of(n).ok_or_else(|| Error::bad_request("the network has no subnet"))?;
            if !subnet.contains(&ip)
                || ip == gw
                || ip == subnet.network()
                || ip == subnet.broadcast()
            {
                return Err(Error::bad_request(format!(
                    "invalid IP address {ip}: not a free host address of the network's subnet {subnet}"
                )));
            }
        }
        if let Some(ip) = ep
            .ipam_config
            .as_ref()
            .map(|c| c.ipv6_address.as_str())
            .filter(|s| !s.is_empty())
        {
            let ip = ipam::parse_ip6(ip).map_err(net_err)?;
            let Some((subnet, gw, _)) = pool6_of(n).filter(|_| user) else {
                return Err(Error::bad_request(format!(
                    "invalid IPv6 address {ip}: network {} does not have IPv6 enabled",
                    n.name
                )));
            };
            if !subnet.contains(&ip) || ip == gw || ip == subnet.network() {
                return Err(Error::bad_request(format!(
                    "invalid IPv6 address {ip}: not a free host address of the network's subnet {subnet}"
                )));
            }
        }
        Ok(())
    }
}

/// A pool the user asked for, checked as dockerd checks one of either
/// family: no overlap with another network's, the gateway (`default_gw`
/// when none is given) and the range inside the subnet.
fn checked_pool(
    p: &IpamPool,
    subnet: IpNet,
    default_gw: IpAddr,
    taken: &[(String, IpNet)],
) -> Result<IpamPool> {
    let overlaps = |t: &IpNet| t.contains(&subnet.network()) || subnet.contains(&t.network());
    if let Some((other, _)) = taken.iter().find(|(_, t)| overlaps(t)) {
        return Err(Error::forbidden(format!(
            "invalid pool request: Pool overlaps with other one on this address space (network {other})"
        )));
    }
    let gateway = match p.gateway.as_str() {
        "" => default_gw,
        g => {
            let g: IpAddr = g
                .parse()
                .map_err(|_| Error::bad_request(format!("invalid gateway address {g:?}")))?;
            if !subnet.contains(&g) {
                return Err(Error::bad_request(format!(
                    "gateway {g} is not within the subnet {subnet}"
                )));
            }
            g
        }
    };
    let range = match p.ip_range.as_str() {
        "" => String::new(),
        r => {
            let r: IpNet = r
                .parse()
                .map_err(|_| Error::bad_request(format!("invalid ip-range {r:?}")))?;
            let r = r.trunc();
            if !subnet.contains(&r.network()) || !subnet.contains(&r.broadcast()) {
                return Err(Error::bad_request(format!(
                    "ip-range {r} is not within the subnet {subnet}"
                )));
            }
            r.to_string()
        }
    };
    Ok(IpamPool {
        subnet: subnet.to_string(),
        gateway: gateway.to_string(),
        ip_range: range,
        auxiliary_addresses: None,
    })
}

fn pool_gateway_cidr(n: &Network) -> Option<String> {
    let (subnet, gw, _) = pool_of(n)?;
    Some(format!("{gw}/{}", subnet.prefix_len()))
}
