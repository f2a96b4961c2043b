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
    let nl = Netlink::connect().unwrap();
    nl.ensure_bridge(
        &bridge,
        ipnet::Ipv4Net::new(gw, subnet.prefix_len()).unwrap(),
        0,
    )
    .await
    .unwrap();
    // Twice is fine: a restarted daemon finds its bridge.
    nl.ensure_bridge(
        &bridge,
        ipnet::Ipv4Net::new(gw, subnet.prefix_len()).unwrap(),
        0,
    )
    .await
    .unwrap();
    let ns = dir.path().join("ns");
    netns::create(&ns).unwrap();
    let ip = ipam::allocate(&subnet, None, gw, &Default::default()).unwrap();
    nl.add_veth(&host_end, &bridge, &ns, "eth0", ipam::mac_for(ip), 0)
        .await
        .unwrap();
    let ep = Endpoint {
        ifname: "eth0".into(),
        address: ipnet::Ipv4Net::new(ip, subnet.prefix_len()).unwrap(),
        gateway: Some(gw),
    };
    let ns2 = ns.clone();
    tokio::task::spawn_blocking(move || link::configure_endpoint(&ns2, ep))
        .await
        .unwrap()
        .unwrap();

    let listener = netns::run_in(&ns, move || {
        TcpListener::bind(SocketAddr::from((ip, 0)))
            .map_err(|e| berth_network::NetError::Invalid(e.to_string()))
    })
    .unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        s.write_all(b"hello from the namespace").unwrap();
        peer
    });
    let mut got = String::new();
    TcpStream::connect((ip, port))
        .unwrap()
        .read_to_string(&mut got)
        .unwrap();
    assert_eq!(got, "hello from the namespace");
    assert_eq!(
        server.join().unwrap().ip(),
        std::net::IpAddr::V4(gw),
        "the host came from the bridge"
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
