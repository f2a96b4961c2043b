//! Links, addresses and routes over rtnetlink: the bridge on the host, and
//! each endpoint's veth pair, one end on the bridge and the other inside the
//! container's namespace.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use ipnet::{Ipv4Net, Ipv6Net};
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use crate::{netns, NetError, Result};

const EEXIST: i32 = libc::EEXIST;
const ENODEV: i32 = libc::ENODEV;

fn errno(e: &rtnetlink::Error) -> i32 {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.raw_code().abs(),
        _ => 0,
    }
}

/// A netlink connection in the namespace it was opened in.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens a connection served by a task on the current tokio runtime.
    pub fn connect() -> Result<Netlink> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(NetError::io("open netlink socket"))?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub async fn index_of(&self, name: &str) -> Result<Option<u32>> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(m)) => Ok(Some(m.header.index)),
            Ok(None) => Ok(None),
            Err(e) if errno(&e) == ENODEV => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn must_index(&self, name: &str) -> Result<u32> {
        self.index_of(name)
            .await?
            .ok_or_else(|| NetError::Netlink(format!("no link named {name}")))
    }

    /// Makes the bridge `name` with `gateway` (and `gateway6` on an IPv6
    /// network) on it and brings it up; an existing bridge is reused.
    pub async fn ensure_bridge(
        &self,
        name: &str,
        gateway: Ipv4Net,
        gateway6: Option<Ipv6Net>,
        mtu: u32,
    ) -> Result<()> {
        let mut b = LinkBridge::new(name);
        if mtu > 0 {
            b = b.mtu(mtu);
        }
        match self.handle.link().add(b.build()).execute().await {
            Err(e) if errno(&e) != EEXIST => return Err(e.into()),
            _ => {}
        }
        let index = self.must_index(name).await?;
        let mut addrs = vec![(IpAddr::V4(gateway.addr()), gateway.prefix_len())];
        if let Some(g6) = gateway6 {
            ipv6_on(name, true)?;
            addrs.push((IpAddr::V6(g6.addr()), g6.prefix_len()));
        }
        for &(ip, len) in &addrs {
            match self.handle.address().add(index, ip, len).execute().await {
                Err(e) if errno(&e) != EEXIST => return Err(e.into()),
                _ => {}
            }
        }
        // A bridge kept from an earlier configuration (another `bip`, IPv6
        // turned off) loses the addresses it no longer has; link-local
        // ones are the kernel's.
        let stale: Vec<_> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_filter(|m| {
                let address = m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                });
                let keep = address.is_none_or(|ip| {
                    addrs.contains(&(ip, m.header.prefix_len))
                        || matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local())
                });
                std::future::ready(!keep)
            })
            .try_collect()
            .await?;
        for m in stale {
            self.handle.address().del(m).execute().await?;
        }
        self.handle
            .link()
            .change(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await?;
        // Published ports answer on 127.0.0.1 by DNAT to the bridge; the kernel
        // routes such loopback-sourced packets only where this is set. It is the
        // bridge's own setting, not the host's.
        let knob = format!("/proc/sys/net/ipv4/conf/{name}/route_localnet");
        std::fs::write(&knob, "1").map_err(NetError::io(format!("write {knob}")))?;
        Ok(())
    }

    /// Deletes a link by name; a missing one is fine.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let Some(index) = self.index_of(name).await? else {
            return Ok(());
        };
        match self.handle.link().del(index).execute().await {
            Err(e) if errno(&e) != ENODEV => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Makes a veth pair: `host` up on `bridge`, and its peer created right
    /// inside the namespace at `netns_path` as `ifname` with `mac` (down, to be
    /// set up by [`configure_endpoint`]). Creating the peer there, rather than
    /// moving it, spares the ~20 ms the kernel takes to move a link.
    pub async fn add_veth(
        &self,
        host: &str,
        bridge: &str,
        netns_path: &Path,
        ifname: &str,
        mac: [u8; 6],
        mtu: u32,
    ) -> Result<()> {
        let bridge_index = self.must_index(bridge).await?;
        let ns = File::open(netns_path)
            .map_err(NetError::io(format!("open {}", netns_path.display())))?;
        let mut peer = LinkUnspec::new_with_name(ifname)
            .setns_by_fd(ns.as_raw_fd())
            .address(mac.to_vec());
        let mut v = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(host.to_string())
            .controller(bridge_index)
            .up();
        if mtu > 0 {
            peer = peer.mtu(mtu);
            v = v.mtu(mtu);
        }
        let v = v.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        self.handle.link().add(v.build()).execute().await?;
        Ok(())
    }
}

/// How an endpoint looks inside the container.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its name inside: eth0, eth1, … as `add_veth` made it.
    pub ifname: String,
    pub address: Ipv4Net,
    /// The default route goes through the first endpoint's gateway only.
    pub gateway: Option<Ipv4Addr>,
    /// On an IPv6 network: the address, and the gateway of the default route.
    pub address6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
}

/// Turns IPv6 on for an interface of ours (the bridge, or an endpoint in the
/// current namespace) without duplicate address detection: the addresses are
/// the allocator's, unique by construction, and DAD would leave them unusable
/// ("tentative") for a second after each start. On a bridge that routes
/// (`forward`), `force_forwarding` (Linux 6.17+) forwards what arrives on it
/// without turning on the host-wide `net.ipv6.conf.all.forwarding`, which
/// would stop the host's own interfaces from taking router advertisements.
fn ipv6_on(ifname: &str, forward: bool) -> Result<()> {
    let knobs = [
        ("disable_ipv6", "0"),
        ("accept_dad", "0"),
        ("accept_ra", "0"),
    ];
    for (knob, value) in knobs {
        let path = format!("/proc/sys/net/ipv6/conf/{ifname}/{knob}");
        std::fs::write(&path, value).map_err(NetError::io(format!("write {path}")))?;
    }
    let path = format!("/proc/sys/net/ipv6/conf/{ifname}/force_forwarding");
    if forward && Path::new(&path).exists() {
        std::fs::write(&path, "1").map_err(NetError::io(format!("write {path}")))?;
    }
    Ok(())
}

/// Inside the namespace at `netns_path`: loopback up; the interface given its
/// address and brought up; the default route.
pub fn configure_endpoint(netns_path: &Path, ep: Endpoint) -> Result<()> {
    in_netns(netns_path, move |nl| async move {
        let lo = nl.must_index("lo").await?;
        nl.handle
            .link()
            .change(LinkUnspec::new_with_index(lo).up().build())
            .execute()
            .await?;
        let index = nl.must_index(&ep.ifname).await?;
        nl.handle
            .link()
            .change(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await?;
        nl.handle
            .address()
            .add(
                index,
                IpAddr::V4(ep.address.addr()),
                ep.address.prefix_len(),
            )
            .execute()
            .await?;
        if let Some(gw) = ep.gateway {
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build();
            nl.handle.route().add(route).execute().await?;
        }
        if let Some(a6) = ep.address6 {
            // This thread is in the container's namespace: /proc/sys/net is its.
            ipv6_on(&ep.ifname, false)?;
            nl.handle
                .address()
                .add(index, IpAddr::V6(a6.addr()), a6.prefix_len())
                .execute()
                .await?;
            if let Some(gw) = ep.gateway6 {
                let route = RouteMessageBuilder::<Ipv6Addr>::new()
                    .gateway(gw)
                    .output_interface(index)
                    .build();
                nl.handle.route().add(route).execute().await?;
            }
        }
        Ok(())
    })
}

/// Deletes `ifname` inside the namespace, which deletes its veth pair.
pub fn remove_endpoint(netns_path: &Path, ifname: &str) -> Result<()> {
    let ifname = ifname.to_string();
    in_netns(
        netns_path,
        move |nl| async move { nl.delete(&ifname).await },
    )
}

/// Runs netlink work on a thread inside the namespace, on a runtime of its own.
fn in_netns<F, Fut>(netns_path: &Path, f: F) -> Result<()>
where
    F: FnOnce(Netlink) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<()>>,
{
    netns::run_in(netns_path, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(NetError::io("netlink runtime"))?;
        rt.block_on(async move { f(Netlink::connect()?).await })
    })
}

/// A fresh interface name: `prefix` and random hex, within IFNAMSIZ.
pub fn random_name(prefix: &str) -> String {
    let n: u32 = rand::random();
    format!("{prefix}{:07x}", n & 0x0fff_ffff)
}
