//! Address management: subnets from pools as dockerd picks them, and
//! addresses within a subnet.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use crate::{NetError, Result};

/// dockerd's default address pools: 172.17–31.0.0/16, then 192.168.0.0/16 in /20s.
pub fn default_pools() -> Vec<(Ipv4Net, u8)> {
    (17..=31)
        .map(|b| (Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).unwrap(), 16))
        .chain([(Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).unwrap(), 20)])
        .collect()
}

/// Parses `a.b.c.d/n`, keeping the host bits (as `--bip` wants them).
pub fn parse_net(s: &str) -> Result<Ipv4Net> {
    s.parse()
        .map_err(|_| NetError::Invalid(format!("invalid subnet {s:?}: want an IPv4 CIDR")))
}

pub fn parse_ip(s: &str) -> Result<Ipv4Addr> {
    s.parse()
        .map_err(|_| NetError::Invalid(format!("invalid IPv4 address {s:?}")))
}

/// The first subnet of the pools that overlaps none of `taken`.
pub fn pick_subnet(pools: &[(Ipv4Net, u8)], taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    pools.iter().find_map(|(pool, size)| {
        pool.subnets(*size)
            .ok()?
            .find(|s| !taken.iter().any(|t| overlaps(s, t)))
    })
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// IPv4 routes of the host's main table (`/proc/net/route`), so that a new
/// bridge never shadows a network the host already reaches.
pub fn host_routes() -> Vec<Ipv4Net> {
    parse_routes(&std::fs::read_to_string("/proc/net/route").unwrap_or_default())
}

fn parse_routes(text: &str) -> Vec<Ipv4Net> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None; // the default route overlaps everything
            }
            // The kernel prints both in memory order.
            let prefix = mask.count_ones() as u8;
            Ipv4Net::new(Ipv4Addr::from(dest.to_ne_bytes()), prefix).ok()
        })
        .collect()
}

/// The lowest free address in `range` (or the whole subnet), skipping the
/// network and broadcast addresses, the gateway and `used`.
pub fn allocate(
    subnet: &Ipv4Net,
    range: Option<&Ipv4Net>,
    gateway: Ipv4Addr,
    used: &HashSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let within = range.unwrap_or(subnet);
    let (first, last) = (u32::from(within.network()), u32::from(within.broadcast()));
    (first..=last).map(Ipv4Addr::from).find(|ip| {
        *ip != gateway && *ip != subnet.network() && *ip != subnet.broadcast() && !used.contains(ip)
    })
}

/// The gateway dockerd picks: the subnet's first host address.
pub fn default_gateway(subnet: &Ipv4Net) -> Ipv4Addr {
    subnet.hosts().next().unwrap_or(subnet.network())
}

/// dockerd's MAC for an address: 02:42 followed by the four address bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || NetError::Invalid(format!("invalid MAC address {s:?}"));
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *m = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        return Err(NetError::Invalid(format!(
            "invalid MAC address {s:?}: a multicast address"
        )));
    }
    Ok(mac)
}

/// Parses an IPv6 `prefix/len`, keeping the host bits.
pub fn parse_net6(s: &str) -> Result<Ipv6Net> {
    s.parse()
        .map_err(|_| NetError::Invalid(format!("invalid subnet {s:?}: want an IPv6 CIDR")))
}

pub fn parse_ip6(s: &str) -> Result<Ipv6Addr> {
    s.parse()
        .map_err(|_| NetError::Invalid(format!("invalid IPv6 address {s:?}")))
}

pub fn overlaps6(a: &Ipv6Net, b: &Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The gateway of an IPv6 subnet: its first address after the
/// subnet-router anycast address, as dockerd picks it.
pub fn default_gateway6(subnet: &Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(subnet.network()).saturating_add(1))
}

/// How far into a subnet (or range) the allocator looks. A /64 has 2^64
/// addresses; a daemon never has more containers than this on one network.
const SCAN6: u128 = 1 << 20;

/// The lowest free address in `range` (or the whole subnet), skipping the
/// subnet-router anycast address, the gateway and `used`.
pub fn allocate6(
    subnet: &Ipv6Net,
    range: Option<&Ipv6Net>,
    gateway: Ipv6Addr,
    used: &HashSet<Ipv6Addr>,
) -> Option<Ipv6Addr> {
    let within = range.unwrap_or(subnet);
    let first = u128::from(within.network());
    let last = u128::from(within.broadcast()).min(first.saturating_add(SCAN6));
    (first..=last)
        .map(Ipv6Addr::from)
        .find(|ip| *ip != gateway && *ip != subnet.network() && !used.contains(ip))
}

/// A unique local /64 (RFC 4193: `fd` and a 40-bit global ID) for a network
/// that asked for IPv6 without naming a subnet; the global ID comes from the
/// network's random ID, so two networks (or two daemons) do not share one.
pub fn ula_subnet(network_id: &[u8]) -> Ipv6Net {
    let mut b = [0u8; 16];
    b[0] = 0xfd;
    for (i, byte) in network_id.iter().take(5).enumerate() {
        b[1 + i] = *byte;
    }
    Ipv6Net::new(Ipv6Addr::from(b), 64).expect("64 is a valid prefix length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn picks_first_free_pool_like_dockerd() {
        let pools = default_pools();
        assert_eq!(pick_subnet(&pools, &[]), Some(net("172.17.0.0/16")));
        // A host with Docker has docker0 on 172.17.0.0/16.
        let taken = [net("172.17.0.0/16"), net("172.18.5.0/24")];
        assert_eq!(pick_subnet(&pools, &taken), Some(net("172.19.0.0/16")));
        let all: Vec<Ipv4Net> = net("172.16.0.0/12").subnets(16).unwrap().collect();
        assert_eq!(pick_subnet(&pools, &all), Some(net("192.168.0.0/20")));
        let everything = [net("0.0.0.0/1"), net("128.0.0.0/1")];
        assert_eq!(pick_subnet(&pools, &everything), None);
    }

    #[test]
    fn allocates_lowest_free_within_range() {
        let s = net("10.5.0.0/24");
        let gw = default_gateway(&s);
        assert_eq!(gw, parse_ip("10.5.0.1").unwrap());
        let mut used = HashSet::new();
        let a = allocate(&s, None, gw, &used).unwrap();
        assert_eq!(a, parse_ip("10.5.0.2").unwrap());
        used.insert(a);
        assert_eq!(
            allocate(&s, None, gw, &used),
            Some(parse_ip("10.5.0.3").unwrap())
        );
        let r = net("10.5.0.128/25");
        assert_eq!(
            allocate(&s, Some(&r), gw, &used),
            Some(parse_ip("10.5.0.128").unwrap())
        );
        let tiny = net("10.6.0.0/30");
        let gw = default_gateway(&tiny);
        let mut used = HashSet::new();
        used.insert(allocate(&tiny, None, gw, &used).unwrap());
        assert_eq!(
            allocate(&tiny, None, gw, &used),
            None,
            "a /30 has one address after the gateway"
        );
    }

    #[test]
    fn ipv6_pools() {
        let s: Ipv6Net = "fd00:1:2:3::/64".parse().unwrap();
        let gw = default_gateway6(&s);
        assert_eq!(gw, parse_ip6("fd00:1:2:3::1").unwrap());
        let mut used = HashSet::new();
        let a = allocate6(&s, None, gw, &used).unwrap();
        assert_eq!(a, parse_ip6("fd00:1:2:3::2").unwrap());
        used.insert(a);
        assert_eq!(
            allocate6(&s, None, gw, &used),
            parse_ip6("fd00:1:2:3::3").ok()
        );
        let r: Ipv6Net = "fd00:1:2:3::100/120".parse().unwrap();
        assert_eq!(
            allocate6(&s, Some(&r), gw, &used),
            parse_ip6("fd00:1:2:3::100").ok()
        );
        let tiny: Ipv6Net = "fd00::/127".parse().unwrap();
        assert_eq!(
            allocate6(&tiny, None, default_gateway6(&tiny), &HashSet::new()),
            None
        );
        assert!(overlaps6(&s, &"fd00:1:2::/48".parse().unwrap()));
        assert!(!overlaps6(&s, &"fd00:1:2:4::/64".parse().unwrap()));
        let u = ula_subnet(&[0xab, 0xcd, 0xef, 0x01, 0x23, 0x45]);
        assert_eq!(u.to_string(), "fdab:cdef:123::/64");
        for bad in ["", "fd00::", "fd00::/129", "10.0.0.0/8", "fd00::/64/1"] {
            assert!(parse_net6(bad).is_err(), "{bad}");
        }
        assert!(parse_ip6("10.0.0.1").is_err());
    }

    #[test]
    fn macs_and_bad_input() {
        let ip = parse_ip("172.17.0.2").unwrap();
        assert_eq!(format_mac(&mac_for(ip)), "02:42:ac:11:00:02");
        assert_eq!(parse_mac("02:42:ac:11:00:02").unwrap(), mac_for(ip));
        for bad in [
            "",
            "02:42:ac:11:00",
            "zz:42:ac:11:00:02",
            "01:00:5e:00:00:01",
            "2:42:ac:11:00:02",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
        for bad in ["", "10.0.0.0", "10.0.0.0/33", "300.0.0.0/8", "fd00::/64"] {
            assert!(parse_net(bad).is_err(), "{bad}");
        }
        assert!(parse_ip("10.0.0.256").is_err());
    }

    #[test]
    fn reads_proc_net_route() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
garbage line\n";
        assert_eq!(parse_routes(text), vec![net("192.0.2.0/24")]);
    }
}
