//! A bridge, a namespace and a veth pair on the real kernel: the host reaches
//! a socket inside the namespace, and everything is gone afterwards.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use berth_network::link::{self, Endpoint, Netlink};
use berth_network::{ipam, netns};

/// Removes what the test made, also when it fails.
struct Cleanup {
    links: Vec<String>,
    ns: std::path::PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for l in &self.links {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", l])
                .status();
        }
        netns::remove(&self.ns);
    }
}

fn free_subnet() -> ipnet::Ipv4Net {
    let pool = [("10.213.0.0/16".parse().unwrap(), 24)];
    let mut taken = ipam::host_routes();
    // Parallel test binaries pick at random within the pool.
    let skip: u8 = rand::random();
    taken.extend((0..skip).map(|i| {
        format!("10.213.{i}.0/24")
            .parse::<ipnet::Ipv4Net>()
            .unwrap()
    }));
    ipam::pick_subnet(&pool, &taken)
        .or_else(|| ipam::pick_subnet(&pool, &ipam::host_routes()))
        .unwrap()
}

/// A listener at `addr` inside the namespace answers `msg` to the host,
/// which reads it; the address the host came from.
fn fetch_from_namespace(
    ns: &std::path::Path,
    addr: std::net::IpAddr,
    msg: &'static str,
) -> std::net::IpAddr {
    let listener = netns::run_in(ns, move || {
        TcpListener::bind(SocketAddr::from((addr, 0)))
            .map_err(|e| berth_network::NetError::Invalid(e.to_string()))
    })
    .unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        s.write_all(msg.as_bytes()).unwrap();
        peer
    });
    let mut got = String::new();
    TcpStream::connect((addr, port))
        .unwrap()
        .read_to_string(&mut got)
        .unwrap();
    assert_eq!(got, msg);
    server.join().unwrap().ip()
}

#[tokio::test]
async fn host_reaches_socket_in_namespace_through_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = link::random_name("bt");
    let host_end = link::random_name("vt");
    let _c = Cleanup {
        links: vec![bridge.clone(), host_end.clone()],
        ns: dir.path().join("ns"),
    };
    let subnet = free_subnet();
    let gw = ipam::default_gateway(&subnet);
    // A unique local /64 of this run's own (addresses that exist only here).
    let subnet6 = ipam::ula_subnet(&rand::random::<[u8; 5]>());
    let gw6 = ipam::default_gateway6(&subnet6);
    let gw6_cidr = ipnet::Ipv6Net::new(gw6, 64).unwrap();
    let nl = Netlink::connect().unwrap();
    let gw_cidr = ipnet::Ipv4Net::new(gw, subnet.prefix_len()).unwrap();
    nl.ensure_bridge(&bridge, gw_cidr, Some(gw6_cidr), 0)
        .await
        .unwrap();
    // Twice is fine: a restarted daemon finds its bridge.
    nl.ensure_bridge(&bridge, gw_cidr, Some(gw6_cidr), 0)
        .await
        .unwrap();
    let ns = dir.path().join("ns");
    netns::create(&ns).unwrap();
    let ip = ipam::allocate(&subnet, None, gw, &Default::default()).unwrap();
    nl.add_veth(&host_end, &bridge, &ns, "eth0", ipam::mac_for(ip), 0)
        .await
        .unwrap();
    let ip6 = ipam::allocate6(&subnet6, None, gw6, &Default::default()).unwrap();
    let ep = Endpoint {
        ifname: "eth0".into(),
        address: ipnet::Ipv4Net::new(ip, subnet.prefix_len()).unwrap(),
        gateway: Some(gw),
        address6: Some(ipnet::Ipv6Net::new(ip6, 64).unwrap()),
        gateway6: Some(gw6),
    };
    let ns2 = ns.clone();
    tokio::task::spawn_blocking(move || link::configure_endpoint(&ns2, ep))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        fetch_from_namespace(&ns, ip.into(), "hello from the namespace"),
        std::net::IpAddr::V4(gw),
        "the host came from the bridge"
    );
    // The same over IPv6, at once: no duplicate address detection to wait for.
    assert_eq!(
        fetch_from_namespace(&ns, ip6.into(), "hello over IPv6"),
        std::net::IpAddr::V6(gw6)
    );
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .args(["ip", "-6", "route", "show", "default"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("default via {gw6} dev eth0")),
        "{text}"
    );
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .args(["ip", "-br", "link"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("eth0@") && text.contains("02:42"), "{text}");

    // Deleting the namespace takes the pair with it; the bridge is ours to delete.
    link::remove_endpoint(&ns, "eth0").unwrap();
    assert!(nl.index_of(&host_end).await.unwrap().is_none());
    netns::remove(&ns);
    nl.delete(&bridge).await.unwrap();
    assert!(nl.index_of(&bridge).await.unwrap().is_none());
    nl.delete(&bridge).await.unwrap();
}
