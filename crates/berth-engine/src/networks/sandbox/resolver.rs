//! The embedded DNS glue: what a container's server answers (its user
//! networks' names, its links), where it forwards, and starting it.

use super::*;

pub(super) struct ContainerNames {
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

pub(super) fn host_nameservers() -> Vec<String> {
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .collect()
}

impl Engine {
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

    pub(super) async fn start_dns(self: &Arc<Self>, h: &Arc<ContainerHandle>) -> Result<()> {
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
            tokio::net::UdpSocket::from_std(udp).map_err(|e| Error::internal(e.to_string()))?,
            tokio::net::TcpListener::from_std(tcp).map_err(|e| Error::internal(e.to_string()))?,
        );
        let names = Arc::new(ContainerNames {
            engine: Arc::downgrade(self),
            id: id.clone(),
        });
        let task = tokio::spawn(dns::serve(udp, tcp, names));
        lock(&self.net.dns).insert(id, task);
        Ok(())
    }
}
