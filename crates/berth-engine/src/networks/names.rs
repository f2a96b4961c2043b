//! What the embedded DNS answers: per user network, each running
//! container's names → its address there. Kept per container as its
//! endpoints change, so a query looks up one table instead of locking every
//! container's record (the cost no longer grows with the containers).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

#[derive(Default)]
pub struct NameTable {
    /// network → lower-case name → (container ID, address), in the order added.
    by_network: HashMap<String, HashMap<String, Vec<(String, IpAddr)>>>,
    /// container ID → the (network, name) keys it holds, to replace them.
    by_container: HashMap<String, Vec<(String, String)>>,
}

impl NameTable {
    /// Replaces what a container answers to with `entries` (network, name,
    /// address); none removes it.
    pub fn set(&mut self, container: &str, entries: Vec<(String, String, IpAddr)>) {
        for (net, name) in self.by_container.remove(container).unwrap_or_default() {
            if let Some(names) = self.by_network.get_mut(&net) {
                if let Some(v) = names.get_mut(&name) {
                    v.retain(|(id, _)| id != container);
                    if v.is_empty() {
                        names.remove(&name);
                    }
                }
                if names.is_empty() {
                    self.by_network.remove(&net);
                }
            }
        }
        let mut keys = Vec::with_capacity(entries.len());
        for (net, name, ip) in entries {
            let name = name.to_ascii_lowercase();
            self.by_network
                .entry(net.clone())
                .or_default()
                .entry(name.clone())
                .or_default()
                .push((container.to_string(), ip));
            keys.push((net, name));
        }
        if !keys.is_empty() {
            self.by_container.insert(container.to_string(), keys);
        }
    }

    /// The addresses `name` (or `name.<network>`) has on `networks`.
    pub fn lookup(&self, networks: &HashSet<String>, name: &str) -> Vec<IpAddr> {
        let name = name.to_ascii_lowercase();
        let mut out = Vec::new();
        for net in networks {
            let Some(names) = self.by_network.get(net) else {
                continue;
            };
            let short = name.strip_suffix(&format!(".{}", net.to_ascii_lowercase()));
            for key in std::iter::once(name.as_str()).chain(short) {
                for (_, ip) in names.get(key).into_iter().flatten() {
                    if !out.contains(ip) {
                        out.push(*ip);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(n: &[&str]) -> HashSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_per_network_replaced_per_container() {
        let mut t = NameTable::default();
        let a: IpAddr = "10.1.0.2".parse().unwrap();
        let b: IpAddr = "fd00:2::2".parse().unwrap();
        t.set(
            "c1",
            vec![
                ("front".into(), "Web".into(), a),
                ("front".into(), "alias".into(), a),
                ("back".into(), "web".into(), b),
            ],
        );
        assert_eq!(
            t.lookup(&nets(&["front"]), "web"),
            vec![a],
            "names are case-blind"
        );
        assert_eq!(t.lookup(&nets(&["front"]), "web.front"), vec![a]);
        assert_eq!(
            t.lookup(&nets(&["back"]), "alias"),
            Vec::<IpAddr>::new(),
            "per network"
        );
        assert_eq!(t.lookup(&nets(&["other"]), "web"), Vec::<IpAddr>::new());
        let mut both = t.lookup(&nets(&["front", "back"]), "web");
        both.sort();
        assert_eq!(both, vec![a, b]);
        // Two containers under one alias: both answer.
        let c: IpAddr = "10.1.0.3".parse().unwrap();
        t.set("c2", vec![("front".into(), "alias".into(), c)]);
        assert_eq!(t.lookup(&nets(&["front"]), "alias"), vec![a, c]);
        // A container that stops answers no more, the other still does.
        t.set("c1", vec![]);
        assert_eq!(t.lookup(&nets(&["front"]), "alias"), vec![c]);
        assert!(t.lookup(&nets(&["front", "back"]), "web").is_empty());
        t.set("c2", vec![]);
        assert!(
            t.by_network.is_empty() && t.by_container.is_empty(),
            "nothing left behind"
        );
    }
}
