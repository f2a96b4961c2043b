//! The embedded DNS server of containers on user networks, as dockerd's:
//! it listens at 127.0.0.11:53 inside the container's namespace (UDP and
//! TCP), answers the names of the containers on its networks, and forwards
//! every other question to the upstream resolvers from the host's namespace
//! (so a host resolver on 127.0.0.53 works, which it cannot from inside).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{
    rdata::{A, AAAA},
    RData, Record, RecordType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Where the server listens inside the container.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const TTL: u32 = 600;
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// The names one container may ask about.
pub trait Names: Send + Sync + 'static {
    /// Addresses of `name` (lower case, no trailing dot) if it is a container
    /// name, alias or short ID on one of the asking container's networks.
    fn lookup(&self, name: &str) -> Option<Vec<IpAddr>>;
    /// Where to forward other questions.
    fn upstream(&self) -> Vec<SocketAddr>;
}

/// The answer to `query` if it is about one of our names; `None` means forward it.
/// A message that does not parse gets FORMERR when its ID can be read.
pub fn answer_locally(query: &[u8], names: &dyn Names) -> Option<Vec<u8>> {
    let msg = match Message::from_vec(query) {
        Ok(m) => m,
        Err(_) if query.len() >= 2 => {
            let id = u16::from_be_bytes([query[0], query[1]]);
            return Message::error_msg(id, OpCode::Query, ResponseCode::FormErr)
                .to_vec()
                .ok();
        }
        Err(_) => return Some(Vec::new()),
    };
    if msg.metadata.message_type != MessageType::Query || msg.queries.len() != 1 {
        return Message::error_msg(msg.metadata.id, msg.metadata.op_code, ResponseCode::NotImp)
            .to_vec()
            .ok();
    }
    let q = &msg.queries[0];
    let name = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let addrs = names.lookup(&name)?;
    let mut reply = Message::response(msg.metadata.id, OpCode::Query);
    reply.metadata.recursion_desired = msg.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    reply.add_query(q.clone());
    // A name of ours with no record of the asked type: NOERROR and no answers,
    // so the resolver does not go on to ask elsewhere.
    for ip in addrs {
        let rdata = match (q.query_type(), ip) {
            (RecordType::A, IpAddr::V4(v4)) => RData::A(A(v4)),
            (RecordType::AAAA, IpAddr::V6(v6)) => RData::AAAA(AAAA(v6)),
            _ => continue,
        };
        reply.add_answer(Record::from_rdata(q.name().clone(), TTL, rdata));
    }
    reply.to_vec().ok()
}

async fn forward(query: &[u8], upstream: &[SocketAddr]) -> Option<Vec<u8>> {
    for server in upstream {
        let bind: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let Ok(sock) = UdpSocket::bind(bind).await else {
            continue;
        };
        if sock.connect(server).await.is_err() || sock.send(query).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(UPSTREAM_TIMEOUT, sock.recv(&mut buf)).await {
            // Only the reply to this question's ID counts.
            if n >= 2 && buf[..2] == query[..2] {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    None
}

async fn respond(query: &[u8], names: &dyn Names) -> Option<Vec<u8>> {
    if let Some(r) = answer_locally(query, names) {
        return (!r.is_empty()).then_some(r);
    }
    match forward(query, &names.upstream()).await {
        Some(r) => Some(r),
        None => {
            let id = u16::from_be_bytes([query[0], query[1]]);
            Message::error_msg(id, OpCode::Query, ResponseCode::ServFail)
                .to_vec()
                .ok()
        }
    }
}

/// Serves DNS on these sockets (made inside the container's namespace) until dropped.
pub async fn serve(udp: UdpSocket, tcp: TcpListener, names: Arc<dyn Names>) {
    let udp = Arc::new(udp);
    let udp_names = names.clone();
    let udp_loop = async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                continue;
            };
            let (sock, names, query) = (udp.clone(), udp_names.clone(), buf[..n].to_vec());
            tokio::spawn(async move {
                if let Some(r) = respond(&query, names.as_ref()).await {
                    let _ = sock.send_to(&r, from).await;
                }
            });
        }
    };
    let tcp_loop = async move {
        loop {
            let Ok((mut conn, _)) = tcp.accept().await else {
                continue;
            };
            let names = names.clone();
            tokio::spawn(async move {
                // Length-prefixed messages until the client closes (RFC 7766).
                loop {
                    let mut len = [0u8; 2];
                    if conn.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
                    if conn.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    let Some(r) = respond(&query, names.as_ref()).await else {
                        return;
                    };
                    let mut out = (r.len() as u16).to_be_bytes().to_vec();
                    out.extend(r);
                    if conn.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    };
    tokio::join!(udp_loop, tcp_loop);
}

/// Binds the server's sockets; call inside the container's namespace.
pub fn bind() -> std::io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let udp = std::net::UdpSocket::bind((ADDRESS, 53))?;
    let tcp = std::net::TcpListener::bind((ADDRESS, 53))?;
    udp.set_nonblocking(true)?;
    tcp.set_nonblocking(true)?;
    Ok((udp, tcp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    struct Fixed(Vec<SocketAddr>);
    impl Names for Fixed {
        fn lookup(&self, name: &str) -> Option<Vec<IpAddr>> {
            (name == "web" || name == "web.alias").then(|| {
                vec![
                    Ipv4Addr::new(10, 1, 0, 2).into(),
                    "fd00:1::2".parse::<std::net::Ipv6Addr>().unwrap().into(),
                ]
            })
        }
        fn upstream(&self) -> Vec<SocketAddr> {
            self.0.clone()
        }
    }

    fn ask(name: &str, ty: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 4242;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), ty));
        m.to_vec().unwrap()
    }

    #[test]
    fn answers_our_names_and_not_others() {
        let names = Fixed(vec![]);
        let r = Message::from_vec(&answer_locally(&ask("WEB.", RecordType::A), &names).unwrap())
            .unwrap();
        assert_eq!(r.metadata.id, 4242);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(10, 1, 0, 2))));
        let r = Message::from_vec(&answer_locally(&ask("web", RecordType::AAAA), &names).unwrap())
            .unwrap();
        assert_eq!(r.answers.len(), 1, "the IPv6 address alone");
        assert_eq!(
            r.answers[0].data,
            RData::AAAA(AAAA("fd00:1::2".parse().unwrap()))
        );
        let r = Message::from_vec(&answer_locally(&ask("web", RecordType::MX), &names).unwrap())
            .unwrap();
        assert!(r.answers.is_empty() && r.metadata.response_code == ResponseCode::NoError);
        assert!(answer_locally(&ask("example.org", RecordType::A), &names).is_none());
    }

    #[test]
    fn hostile_input_gets_an_error_not_a_crash() {
        let names = Fixed(vec![]);
        // Truncated after the header.
        let q = ask("web", RecordType::A);
        let r = Message::from_vec(&answer_locally(&q[..14], &names).unwrap()).unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
        assert_eq!(
            answer_locally(&[7], &names),
            Some(vec![]),
            "no ID: no answer"
        );
        let mut garbage = vec![0xAB, 0xCD];
        garbage.extend([0xFF; 40]);
        assert!(answer_locally(&garbage, &names).is_some());
        // A response sent to us is not a question.
        let mut m = Message::from_vec(&q).unwrap();
        m.metadata.message_type = MessageType::Response;
        let r = Message::from_vec(&answer_locally(&m.to_vec().unwrap(), &names).unwrap()).unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::NotImp);
    }

    #[tokio::test]
    async fn forwards_other_names_upstream_over_udp_and_tcp() {
        // A stand-in upstream resolver on loopback answers everything with 192.0.2.7.
        let up = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let up_addr = up.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 512];
            while let Ok((n, from)) = up.recv_from(&mut buf).await {
                let q = Message::from_vec(&buf[..n]).unwrap();
                let mut r = Message::response(q.metadata.id, OpCode::Query);
                r.add_query(q.queries[0].clone());
                r.add_answer(Record::from_rdata(
                    q.queries[0].name().clone(),
                    5,
                    RData::A(A(Ipv4Addr::new(192, 0, 2, 7))),
                ));
                up.send_to(&r.to_vec().unwrap(), from).await.unwrap();
            }
        });
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (uaddr, taddr) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
        let server = tokio::spawn(serve(udp, tcp, Arc::new(Fixed(vec![up_addr]))));

        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client
            .send_to(&ask("example.org", RecordType::A), uaddr)
            .await
            .unwrap();
        let mut buf = vec![0u8; 512];
        let n = client.recv(&mut buf).await.unwrap();
        let r = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(192, 0, 2, 7))));

        let mut conn = tokio::net::TcpStream::connect(taddr).await.unwrap();
        let q = ask("web", RecordType::A);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend(&q);
        conn.write_all(&framed).await.unwrap();
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
        conn.read_exact(&mut body).await.unwrap();
        let r = Message::from_vec(&body).unwrap();
        assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(10, 1, 0, 2))));
        server.abort();
    }

    #[tokio::test]
    async fn no_upstream_answers_servfail() {
        let r = respond(&ask("example.org", RecordType::A), &Fixed(vec![]))
            .await
            .unwrap();
        assert_eq!(
            Message::from_vec(&r).unwrap().metadata.response_code,
            ResponseCode::ServFail
        );
    }
}
