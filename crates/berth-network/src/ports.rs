//! Host ports held for published container ports. The traffic itself goes by
//! DNAT in the kernel; holding a bound socket makes a port in use by anyone
//! else a clear error up front (as dockerd's port allocator does), lets the
//! kernel pick an ephemeral port for `-p 80`, and keeps other programs from
//! taking the port while the container runs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    bind, getsockname, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType,
    SockaddrStorage,
};

use crate::nft::Proto;
use crate::{NetError, Result};

/// A bound socket holding one host port.
#[derive(Debug)]
pub struct Reservation {
    _socket: OwnedFd,
    pub port: u16,
}

/// Binds `ip:port` (`port` 0: an ephemeral one) without listening. An IPv6
/// address holds the IPv6 port only (`IPV6_V6ONLY`), as dockerd binds `::`
/// beside `0.0.0.0`.
pub fn reserve(proto: Proto, ip: Option<IpAddr>, port: u16) -> Result<Reservation> {
    let ty = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let family = match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(family, ty, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| NetError::io("socket")(e.into()))?;
    if ip.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)
            .map_err(|e| NetError::io("IPV6_V6ONLY")(e.into()))?;
    }
    let addr = SockaddrStorage::from(SocketAddr::new(ip, port));
    if let Err(e) = bind(fd.as_raw_fd(), &addr) {
        let shown = SocketAddr::new(ip, port);
        return Err(NetError::Conflict(format!(
            "failed to bind host port {shown}/{}: {}",
            proto.as_str(),
            std::io::Error::from(e)
        )));
    }
    let bound: SockaddrStorage =
        getsockname(fd.as_raw_fd()).map_err(|e| NetError::io("getsockname")(e.into()))?;
    let port = bound
        .as_sockaddr_in()
        .map(|a| a.port())
        .or_else(|| bound.as_sockaddr_in6().map(|a| a.port()))
        .unwrap_or(port);
    Ok(Reservation { _socket: fd, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_ports_and_reports_conflicts() {
        let lo = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let a = reserve(Proto::Tcp, lo, 0).unwrap();
        assert!(a.port > 0);
        let e = reserve(Proto::Tcp, lo, a.port).unwrap_err();
        assert!(e.to_string().contains("Address already in use"), "{e}");
        // Every address overlaps the loopback one.
        assert!(reserve(Proto::Tcp, None, a.port).is_err());
        // TCP and UDP ports are separate.
        let u = reserve(Proto::Udp, lo, a.port).unwrap();
        assert_eq!(u.port, a.port);
        // The IPv6 port is another port: both families can be held.
        let any6 = Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
        let six = reserve(Proto::Tcp, any6, a.port).unwrap();
        assert_eq!(six.port, a.port);
        assert!(reserve(Proto::Tcp, any6, a.port).is_err());
        drop(a);
        // Free again — once a child that a parallel test forked at that moment
        // (`nft`) has exec'd and so closed its copy of the socket.
        let again = (0..200).any(|_| {
            let free = reserve(Proto::Tcp, lo, u.port).is_ok();
            if !free {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            free
        });
        assert!(again, "the port is free once its reservation is dropped");
        // A program's listener is a conflict too.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(matches!(
            reserve(Proto::Tcp, None, port),
            Err(NetError::Conflict(_))
        ));
    }
}
