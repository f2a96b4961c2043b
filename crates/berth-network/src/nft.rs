//! Berth's nftables table: outbound NAT, isolation between networks, and
//! published ports. The whole table is rendered from the daemon's state and
//! replaced in one atomic `nft -f` transaction, so a restart or a crash in the
//! middle never leaves half a rule set, and no other table is ever touched.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;

use crate::{NetError, Result};

/// One bridge network's part of the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: Ipv4Net,
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
    /// `None` for every address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ruleset {
    pub bridges: Vec<BridgeRules>,
    pub ports: Vec<PortRule>,
}

impl Ruleset {
    /// The `nft -f` script that replaces `table ip <table>` with this rule set.
    pub fn render(&self, table: &str) -> String {
        let mut s = format!("table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n");
        let all_bridges = set_of(self.bridges.iter().map(|b| b.bridge.as_str()));
        s.push_str("  chain ports {\n");
        for p in &self.ports {
            let daddr = p
                .host_ip
                .map(|ip| format!("ip daddr {ip} "))
                .unwrap_or_default();
            s.push_str(&format!(
                "    {daddr}{proto} dport {hp} dnat to {cip}:{cp}\n",
                proto = p.proto.as_str(),
                hp = p.host_port,
                cip = p.container_ip,
                cp = p.container_port
            ));
        }
        s.push_str("  }\n");
        s.push_str(
            "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    fib daddr type local jump ports\n  }\n",
        );
        s.push_str(
            "  chain output {\n    type nat hook output priority -100; policy accept;\n    fib daddr type local jump ports\n  }\n",
        );
        s.push_str("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for b in &self.bridges {
            let (br, net) = (&b.bridge, &b.subnet.trunc());
            // Published ports reached at 127.0.0.1 and from the bridge itself (hairpin).
            s.push_str(&format!(
                "    oifname \"{br}\" ip saddr 127.0.0.0/8 masquerade\n"
            ));
            s.push_str(&format!(
                "    oifname \"{br}\" ct status dnat ip saddr {net} masquerade\n"
            ));
            if b.masquerade && !b.internal {
                s.push_str(&format!(
                    "    ip saddr {net} oifname != \"{br}\" masquerade\n"
                ));
            }
        }
        s.push_str("  }\n");
        s.push_str(
            "  chain forward {\n    type filter hook forward priority filter; policy accept;\n",
        );
        for b in &self.bridges {
            let br = &b.bridge;
            if b.internal {
                s.push_str(&format!("    iifname \"{br}\" oifname != \"{br}\" drop\n"));
                s.push_str(&format!("    oifname \"{br}\" iifname != \"{br}\" drop\n"));
            } else if self.bridges.len() > 1 {
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

fn set_of<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = names.map(|n| format!("\"{n}\"")).collect();
    format!("{{ {} }}", v.join(", "))
}

/// Removes Berth's table; a missing table is fine.
pub fn delete_table(table: &str) -> Result<()> {
    nft(&format!("table ip {table}\ndelete table ip {table}\n"))
}

/// The table as `nft list` prints it, or `None` if it does not exist.
pub fn list_table(table: &str) -> Option<String> {
    let out = Command::new("nft")
        .args(["list", "table", "ip", table])
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
                    internal: false,
                    masquerade: true,
                },
                BridgeRules {
                    bridge: "br-1".into(),
                    subnet: "10.9.0.0/24".parse().unwrap(),
                    internal: true,
                    masquerade: true,
                },
            ],
            ports: vec![
                PortRule {
                    proto: Proto::Tcp,
                    host_ip: None,
                    host_port: 8080,
                    container_ip: "172.17.0.2".parse().unwrap(),
                    container_port: 80,
                },
                PortRule {
                    proto: Proto::Udp,
                    host_ip: Some(Ipv4Addr::LOCALHOST),
                    host_port: 5353,
                    container_ip: "172.17.0.3".parse().unwrap(),
                    container_port: 53,
                },
            ],
        }
    }

    #[test]
    fn renders_dockerds_rules() {
        let s = sample().render("berth");
        assert!(s.starts_with("table ip berth\ndelete table ip berth\n"));
        assert!(s.contains("    tcp dport 8080 dnat to 172.17.0.2:80\n"));
        assert!(s.contains("    ip daddr 127.0.0.1 udp dport 5353 dnat to 172.17.0.3:53\n"));
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
    }

    #[test]
    fn the_kernel_takes_the_rules_and_they_go_away() {
        let table = format!("berth_t{}", std::process::id());
        sample().apply(&table).unwrap();
        let listed = list_table(&table).expect("table exists");
        assert!(listed.contains("dnat to 172.17.0.2:80"), "{listed}");
        // Replacing is atomic and idempotent.
        Ruleset::default().apply(&table).unwrap();
        assert!(!list_table(&table).unwrap().contains("dnat"));
        delete_table(&table).unwrap();
        assert!(list_table(&table).is_none());
        delete_table(&table).unwrap();
        // A bad rule set changes nothing.
        let mut bad = sample();
        bad.bridges[0].bridge = "x\" ; flush ruleset ; \"".into();
        assert!(bad.apply(&table).is_err());
        assert!(list_table(&table).is_none());
    }
}
