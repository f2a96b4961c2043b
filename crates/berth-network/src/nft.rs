//! Berth's nftables tables (`ip <name>`, and `ip6 <name>` while an IPv6
//! network exists): outbound NAT, isolation between networks, and published
//! ports. Both are rendered from the daemon's state and replaced in one
//! atomic `nft -f` transaction, so a restart or a crash in the middle never
//! leaves half a rule set, and no other table is ever touched. Published
//! ports are elements of two DNAT maps (by host address, and for every
//! address): a container's start and stop add and delete its elements
//! ([`change_ports`]) instead of rendering every container's rules again.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::{NetError, Result};

/// One bridge network's part of the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// The network's IPv6 subnet, if it has one.
    pub subnet6: Option<Ipv6Net>,
    /// No traffic in or out of the bridge but between its own members.
    pub internal: bool,
    /// Masquerade what leaves for elsewhere (`com.docker.network.bridge.enable_ip_masquerade`).
    pub masquerade: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn parse(s: &str) -> Result<Proto> {
        match s {
            "" | "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            other => Err(NetError::Invalid(format!(
                "invalid proto {other:?}: want tcp or udp"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A published port: traffic to `host_ip:host_port` goes to the container.
#[derive(Debug, Clone, PartialEq)]
pub struct PortRule {
    pub proto: Proto,
    /// The host address; the unspecified one of a family (`0.0.0.0`, `::`)
    /// for every address of the host in that family. Its family picks the
    /// table the rule goes in.
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    /// The container's IPv6 address, where its network has IPv6.
    pub container_ip6: Option<Ipv6Addr>,
    pub container_port: u16,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ruleset {
    pub bridges: Vec<BridgeRules>,
    pub ports: Vec<PortRule>,
}

#[derive(Clone, Copy, PartialEq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn table(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }

    fn addr_type(self) -> &'static str {
        match self {
            Family::V4 => "ipv4_addr",
            Family::V6 => "ipv6_addr",
        }
    }
}

impl PortRule {
    /// The map this rule is an element of, and the element, in `fam`'s table
    /// (none when the rule is not about that family).
    fn element(&self, fam: Family) -> Option<(&'static str, String)> {
        let to = match (fam, self.host_ip, self.container_ip6) {
            (Family::V4, IpAddr::V4(_), _) => {
                format!("{} . {}", self.container_ip, self.container_port)
            }
            (Family::V6, IpAddr::V6(_), Some(c6)) => format!("{c6} . {}", self.container_port),
            _ => return None,
        };
        let key = format!("{} . {}", self.proto.as_str(), self.host_port);
        Some(match self.host_ip.is_unspecified() {
            true => ("ports_any", format!("{key} : {to}")),
            false => ("ports_at", format!("{} . {key} : {to}", self.host_ip)),
        })
    }
}

impl Ruleset {
    /// The `nft -f` script that replaces both tables named `table` with this
    /// rule set (the `ip6` one only exists while a network has IPv6).
    pub fn render(&self, table: &str) -> String {
        let mut s = self.render_family(Family::V4, table);
        if self.bridges.iter().any(|b| b.subnet6.is_some()) {
            s.push_str(&self.render_family(Family::V6, table));
        } else {
            s.push_str(&format!("table ip6 {table}\ndelete table ip6 {table}\n"));
        }
        s
    }

    fn render_family(&self, fam: Family, table: &str) -> String {
        let t = fam.table();
        let mut s = format!("table {t} {table}\ndelete table {t} {table}\ntable {t} {table} {{\n");
        // The bridges this family's rules are about.
        let bridges: Vec<(&BridgeRules, IpNet)> = self
            .bridges
            .iter()
            .filter_map(|b| match fam {
                Family::V4 => Some((b, IpNet::V4(b.subnet.trunc()))),
                Family::V6 => b.subnet6.map(|n| (b, IpNet::V6(n.trunc()))),
            })
            .collect();
        // Published ports: DNAT by (host address,) protocol and port.
        let maps = [
            ("ports_at", format!("{} . ", fam.addr_type())),
            ("ports_any", String::new()),
        ];
        for (map, key) in maps {
            let elements: Vec<String> = self
                .ports
                .iter()
                .filter_map(|p| p.element(fam).filter(|(m, _)| *m == map))
                .map(|(_, e)| e)
                .collect();
            s.push_str(&format!(
                "  map {map} {{\n    type {key}inet_proto . inet_service : {a} . inet_service\n",
                a = fam.addr_type()
            ));
            if !elements.is_empty() {
                s.push_str(&format!("    elements = {{ {} }}\n", elements.join(", ")));
            }
            s.push_str("  }\n");
        }
        s.push_str(&format!(
            "  chain ports {{\n    dnat to {t} daddr . meta l4proto . th dport map @ports_at\n    dnat to meta l4proto . th dport map @ports_any\n  }}\n"
        ));
        s.push_str(
            "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    fib daddr type local jump ports\n  }\n",
        );
        s.push_str(
            "  chain output {\n    type nat hook output priority -100; policy accept;\n    fib daddr type local jump ports\n  }\n",
        );
        s.push_str("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for (b, net) in &bridges {
            let br = &b.bridge;
            if fam == Family::V4 {
                // Published ports reached at 127.0.0.1 (IPv6 never routes ::1 off the host).
                s.push_str(&format!(
                    "    oifname \"{br}\" ip saddr 127.0.0.0/8 masquerade\n"
                ));
            }
            // Published ports reached from the bridge itself (hairpin).
            s.push_str(&format!(
                "    oifname \"{br}\" ct status dnat {t} saddr {net} masquerade\n"
            ));
            if b.masquerade && !b.internal {
                s.push_str(&format!(
                    "    {t} saddr {net} oifname != \"{br}\" masquerade\n"
                ));
            }
        }
        s.push_str("  }\n");
        s.push_str(
            "  chain forward {\n    type filter hook forward priority filter; policy accept;\n",
        );
        let all_bridges = set_of(bridges.iter().map(|(b, _)| b.bridge.as_str()));
        for (b, _) in &bridges {
            let br = &b.bridge;
            if b.internal {
                s.push_str(&format!("    iifname \"{br}\" oifname != \"{br}\" drop\n"));
                s.push_str(&format!("    oifname \"{br}\" iifname != \"{br}\" drop\n"));
            } else if bridges.len() > 1 {
                // Networks are isolated from each other.
                s.push_str(&format!(
                    "    iifname \"{br}\" oifname != \"{br}\" oifname {all_bridges} drop\n"
                ));
            }
        }
        s.push_str("  }\n}\n");
        s
    }

    pub fn apply(&self, table: &str) -> Result<()> {
        nft(&self.render(table))
    }
}

/// The `nft -f` script that adds `add` and deletes `remove` from the port
/// maps of the tables a full render made (the ip6 one where it exists).
fn ports_script(table: &str, add: &[PortRule], remove: &[PortRule], ipv6: bool) -> String {
    let mut s = String::new();
    for fam in [Family::V4, Family::V6] {
        if fam == Family::V6 && !ipv6 {
            continue;
        }
        for (verb, rules) in [("delete", remove), ("add", add)] {
            for (map, e) in rules.iter().filter_map(|r| r.element(fam)) {
                s.push_str(&format!(
                    "{verb} element {} {table} {map} {{ {e} }}\n",
                    fam.table()
                ));
            }
        }
    }
    s
}

/// One container's published ports come or go, in one transaction: all of
/// it lands or none (an element that is not there fails it; the caller then
/// renders the whole table).
pub fn change_ports(table: &str, add: &[PortRule], remove: &[PortRule], ipv6: bool) -> Result<()> {
    let script = ports_script(table, add, remove, ipv6);
    if script.is_empty() {
        return Ok(());
    }
    nft(&script)
}

fn set_of<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = names.map(|n| format!("\"{n}\"")).collect();
    format!("{{ {} }}", v.join(", "))
}

/// Removes Berth's tables; missing tables are fine.
pub fn delete_table(table: &str) -> Result<()> {
    nft(&format!(
        "table ip {table}\ndelete table ip {table}\ntable ip6 {table}\ndelete table ip6 {table}\n"
    ))
}

/// The table of a family (`ip` or `ip6`) as `nft list` prints it, or `None`
/// if it does not exist.
pub fn list_table(family: &str, table: &str) -> Option<String> {
    let out = Command::new("nft")
        .args(["list", "table", family, table])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn nft(script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError::Nft(format!("run nft (is Debian's nftables installed?): {e}")))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes())
        .map_err(NetError::io("write to nft"))?;
    let out = child
        .wait_with_output()
        .map_err(NetError::io("wait for nft"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetError::Nft(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Turns on IPv4 forwarding, as dockerd does (containers reach out through it).
pub fn enable_forwarding() -> Result<()> {
    let knob = "/proc/sys/net/ipv4/ip_forward";
    let was = std::fs::read_to_string(knob).map_err(NetError::io(format!("read {knob}")))?;
    if was.trim() != "1" {
        std::fs::write(knob, "1").map_err(NetError::io(format!("write {knob}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ruleset {
        Ruleset {
            bridges: vec![
                BridgeRules {
                    bridge: "berth0".into(),
                    subnet: "172.17.0.1/16".parse().unwrap(),
                    subnet6: None,
                    internal: false,
                    masquerade: true,
                },
                BridgeRules {
                    bridge: "br-1".into(),
                    subnet: "10.9.0.0/24".parse().unwrap(),
                    subnet6: None,
                    internal: true,
                    masquerade: true,
                },
            ],
            ports: vec![
                PortRule {
                    proto: Proto::Tcp,
                    host_ip: Ipv4Addr::UNSPECIFIED.into(),
                    host_port: 8080,
                    container_ip: "172.17.0.2".parse().unwrap(),
                    container_ip6: None,
                    container_port: 80,
                },
                PortRule {
                    proto: Proto::Udp,
                    host_ip: Ipv4Addr::LOCALHOST.into(),
                    host_port: 5353,
                    container_ip: "172.17.0.3".parse().unwrap(),
                    container_ip6: None,
                    container_port: 53,
                },
            ],
        }
    }

    #[test]
    fn renders_dockerds_rules() {
        let s = sample().render("berth");
        assert!(s.starts_with("table ip berth\ndelete table ip berth\n"));
        assert!(
            s.contains("elements = { tcp . 8080 : 172.17.0.2 . 80 }"),
            "{s}"
        );
        assert!(s.contains("elements = { 127.0.0.1 . udp . 5353 : 172.17.0.3 . 53 }"));
        assert!(s.contains("dnat to ip daddr . meta l4proto . th dport map @ports_at"));
        assert!(s.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"));
        assert!(
            !s.contains("ip saddr 10.9.0.0/24 oifname != \"br-1\" masquerade"),
            "internal: no NAT out"
        );
        assert!(s.contains("iifname \"br-1\" oifname != \"br-1\" drop"));
        assert!(s.contains(
            "iifname \"berth0\" oifname != \"berth0\" oifname { \"berth0\", \"br-1\" } drop"
        ));
        assert_eq!(
            Proto::parse("sctp").unwrap_err().to_string(),
            "invalid proto \"sctp\": want tcp or udp"
        );
        assert!(
            s.ends_with("table ip6 berth\ndelete table ip6 berth\n"),
            "no IPv6 network, no ip6 table"
        );
    }

    #[test]
    fn renders_ipv6_rules_beside() {
        let mut set = sample();
        set.bridges[0].subnet6 = Some("fd00:9::/64".parse().unwrap());
        set.ports[0].container_ip6 = Some("fd00:9::2".parse().unwrap());
        let mut any6 = set.ports[0].clone();
        any6.host_ip = Ipv6Addr::UNSPECIFIED.into();
        set.ports.push(any6);
        set.ports.push(PortRule {
            proto: Proto::Tcp,
            host_ip: "fd00:9::1".parse().unwrap(),
            host_port: 8443,
            container_ip: "172.17.0.4".parse().unwrap(),
            container_ip6: Some("fd00:9::4".parse().unwrap()),
            container_port: 443,
        });
        let s = set.render("berth");
        let (v4, v6) = s.split_once("table ip6 berth\n").unwrap();
        assert!(v4.contains("tcp . 8080 : 172.17.0.2 . 80"));
        assert_eq!(v4.matches(". 8080 :").count(), 1, "{v4}");
        assert!(
            !v4.contains("8443"),
            "an IPv6 host address has no IPv4 rule"
        );
        assert!(
            v6.contains("elements = { tcp . 8080 : fd00:9::2 . 80 }"),
            "{v6}"
        );
        assert!(v6.contains("elements = { fd00:9::1 . tcp . 8443 : fd00:9::4 . 443 }"));
        assert!(
            !v6.contains("5353"),
            "a container without IPv6 has no IPv6 rule"
        );
        assert!(v6.contains("ip6 saddr fd00:9::/64 oifname != \"berth0\" masquerade"));
        assert!(
            !v6.contains("br-1"),
            "a network without IPv6 has no IPv6 rules"
        );
        assert!(!v6.contains("127.0.0.0"));
    }

    #[test]
    fn the_kernel_takes_the_rules_and_they_go_away() {
        /// The tables go also when an assertion fails half-way.
        struct Gone(String);
        impl Drop for Gone {
            fn drop(&mut self) {
                let _ = delete_table(&self.0);
            }
        }
        let table = format!("berth_t{}", std::process::id());
        let _gone = Gone(table.clone());
        let mut set = sample();
        set.bridges[0].subnet6 = Some("fd00:9::/64".parse().unwrap());
        set.ports[0].container_ip6 = Some("fd00:9::2".parse().unwrap());
        let mut any6 = set.ports[0].clone();
        any6.host_ip = Ipv6Addr::UNSPECIFIED.into();
        set.ports.push(any6);
        set.apply(&table).unwrap();
        let listed = list_table("ip", &table).expect("table exists");
        assert!(listed.contains("tcp . 8080 : 172.17.0.2 . 80"), "{listed}");
        let listed = list_table("ip6", &table).expect("ip6 table exists");
        assert!(listed.contains("tcp . 8080 : fd00:9::2 . 80"), "{listed}");
        // One container's ports come and go without the others'.
        let extra = PortRule {
            proto: Proto::Tcp,
            host_ip: Ipv4Addr::UNSPECIFIED.into(),
            host_port: 9090,
            container_ip: "172.17.0.9".parse().unwrap(),
            container_ip6: Some("fd00:9::9".parse().unwrap()),
            container_port: 90,
        };
        let mut extra6 = extra.clone();
        extra6.host_ip = Ipv6Addr::UNSPECIFIED.into();
        let both = [extra.clone(), extra6.clone()];
        change_ports(&table, &both, &[], true).unwrap();
        let listed = list_table("ip", &table).unwrap();
        assert!(listed.contains("tcp . 9090 : 172.17.0.9 . 90"), "{listed}");
        assert!(listed.contains("tcp . 8080"), "the others stay: {listed}");
        assert!(list_table("ip6", &table)
            .unwrap()
            .contains("tcp . 9090 : fd00:9::9 . 90"));
        // The same elements again change nothing; deleting what is not there fails.
        change_ports(&table, &both, &[], true).unwrap();
        change_ports(&table, &[], &both, true).unwrap();
        assert!(!list_table("ip", &table).unwrap().contains("9090"));
        assert!(!list_table("ip6", &table).unwrap().contains("9090"));
        assert!(change_ports(&table, &[], &both, true).is_err());
        assert!(list_table("ip", &table).unwrap().contains("tcp . 8080"));
        // Replacing is atomic and idempotent; the ip6 table goes with the last IPv6 network.
        Ruleset::default().apply(&table).unwrap();
        assert!(!list_table("ip", &table).unwrap().contains("elements"));
        assert!(list_table("ip6", &table).is_none());
        delete_table(&table).unwrap();
        assert!(list_table("ip", &table).is_none());
        delete_table(&table).unwrap();
        // A bad rule set changes nothing.
        let mut bad = sample();
        bad.bridges[0].bridge = "x\" ; flush ruleset ; \"".into();
        assert!(bad.apply(&table).is_err());
        assert!(list_table("ip", &table).is_none());
    }
}
