//! A container's /etc/hosts and /etc/resolv.conf, as dockerd writes them.

use super::*;

impl Engine {
    /// The default bridge's gateway, for `--add-host name:host-gateway`.
    pub(super) fn host_gateway(&self) -> Option<Ipv4Addr> {
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
}
