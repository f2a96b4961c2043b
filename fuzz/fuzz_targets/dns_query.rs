//! The embedded DNS server's parser: any bytes a container sends to
//! 127.0.0.11 get an answer or nothing, never a crash; an answer is a DNS
//! message with the question's ID, and names of ours get only their own
//! family's records.
#![no_main]
use std::net::{IpAddr, SocketAddr};

use berth_network::dns::{answer_locally, Names};
use libfuzzer_sys::fuzz_target;

struct Fixed;
impl Names for Fixed {
    fn lookup(&self, name: &str) -> Option<Vec<IpAddr>> {
        (name == "web").then(|| vec!["10.1.0.2".parse().unwrap(), "fd00::2".parse().unwrap()])
    }
    fn upstream(&self) -> Vec<SocketAddr> {
        Vec::new()
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(reply) = answer_locally(data, &Fixed) {
        if !reply.is_empty() {
            assert!(reply.len() >= 12, "a reply has a header");
            assert_eq!(reply[..2], data[..2], "a reply carries the question's ID");
        }
    }
});
