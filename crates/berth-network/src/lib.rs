//! Container networking on the host's kernel: address management, bridges
//! and veth pairs (rtnetlink), network namespaces made without forking,
//! NAT, isolation and published ports in Berth's own nftables table, and the
//! embedded DNS server containers on user networks ask at 127.0.0.11.
//!
//! Nothing here knows about containers or images; `berth-engine` decides
//! what to wire and calls these pieces.

pub mod dns;
pub mod ipam;
pub mod link;
pub mod netns;
pub mod nft;
pub mod ports;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("netlink: {0}")]
    Netlink(String),
    #[error("nft: {0}")]
    Nft(String),
}

impl NetError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetError {
        let what = what.into();
        move |source| NetError::Io { what, source }
    }
}

impl From<rtnetlink::Error> for NetError {
    fn from(e: rtnetlink::Error) -> Self {
        NetError::Netlink(e.to_string())
    }
}

pub type Result<T, E = NetError> = std::result::Result<T, E>;
