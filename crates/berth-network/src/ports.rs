//! Host ports held for published container ports. The traffic itself goes by
//! DNAT in the kernel; holding a bound socket makes a port in use by anyone
//! else a clear error up front (as dockerd's port allocator does), lets the
//! kernel pick an ephemeral port for `-p 80`, and keeps other programs from
//! taking the port while the container runs.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;

use nix::sys::socket::{bind, socket, AddressFamily, SockFlag, SockType, SockaddrIn};

use crate::nft::Proto;
use crate::{NetError, Result};

/// A bound socket holding one host port.
#[derive(Debug)]
pub struct Reservation {
    _socket: OwnedFd,
    pub port: u16,
}

/// Binds `ip:port` (`port` 0: an ephemeral one) without listening.
pub fn reserve(proto: Proto, ip: Option<Ipv4Addr>, port: u16) -> Result<Reservation> {
    let ty = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let fd = socket(AddressFamily::Inet, ty, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| NetError::io("socket")(e.into()))?;
    let ip = ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let addr = SockaddrIn::from(std::net::SocketAddrV4::new(ip, port));
    if let Err(e) = bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr) {
        return Err(NetError::Conflict(format!(
            "failed to bind host port {ip}:{port}/{}: {}",
            proto.as_str(),
            std::io::Error::from(e)
        )));
    }
    let bound: SockaddrIn = nix::sys::socket::getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd))
        .map_err(|e| NetError::io("getsockname")(e.into()))?;
    let port = SocketAddr::from(std::net::SocketAddrV4::from(bound)).port();
    Ok(Reservation { _socket: fd, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_ports_and_reports_conflicts() {
        let a = reserve(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), 0).unwrap();
        assert!(a.port > 0);
        let e = reserve(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), a.port).unwrap_err();
        assert!(e.to_string().contains("Address already in use"), "{e}");
        // Every address overlaps the loopback one.
        assert!(reserve(Proto::Tcp, None, a.port).is_err());
        // TCP and UDP ports are separate.
        let u = reserve(Proto::Udp, Some(Ipv4Addr::LOCALHOST), a.port).unwrap();
        assert_eq!(u.port, a.port);
        drop(a);
        assert!(reserve(Proto::Tcp, Some(Ipv4Addr::LOCALHOST), u.port).is_ok());
        // A program's listener is a conflict too.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(matches!(
            reserve(Proto::Tcp, None, port),
            Err(NetError::Conflict(_))
        ));
    }
}
