//! The DNS server seen from outside: a real server on 127.0.0.1, port 0, asked over UDP
//! and TCP with wire-format queries built by hickory-proto (and by `dig` when installed).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use albless_registry::dns::DnsServer;
use albless_registry::{ATTR_IPV4, ATTR_PORT, HealthStatus, Registry, ServiceConfig};
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

/// Generous bound on one round trip, so a broken server fails the test instead of
/// hanging it.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

fn attrs(ip: &str, port: u16) -> BTreeMap<String, String> {
    BTreeMap::from([
        (ATTR_IPV4.to_string(), ip.to_string()),
        (ATTR_PORT.to_string(), port.to_string()),
    ])
}

/// Namespace `ecs.local`, service `backend` (SRV, TTL 10, custom health check) with
/// instances `t1..tn` at 10.0.0.1..n, port 8080.
fn registry(n: u8) -> Registry {
    let r = Registry::new();
    r.create_namespace("ecs.local").unwrap();
    let config = ServiceConfig {
        srv: true,
        a: false,
        ttl: 10,
        custom_health: true,
    };
    r.create_service("ecs.local", "backend", config).unwrap();
    for i in 1..=n {
        register(&r, &format!("t{i}"), &format!("10.0.0.{i}"));
    }
    r
}

fn register(r: &Registry, id: &str, ip: &str) {
    r.register_instance("ecs.local", "backend", id, attrs(ip, 8080))
        .unwrap();
}

async fn start(registry: Registry) -> SocketAddr {
    let server = DnsServer::bind(registry, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    tokio::spawn(server.run());
    addr
}

/// A query for `name`/`qtype`; with `edns`, an OPT record advertising that UDP size.
fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut msg = Message::query();
    msg.metadata.id = rand::random();
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut opt = Edns::new();
        opt.set_max_payload(size);
        msg.set_edns(opt);
    }
    msg
}

async fn udp_with(addr: SocketAddr, msg: Message) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(&msg.to_vec().unwrap(), addr).await.unwrap();
    let mut buf = vec![0; 65_535];
    let (len, _) = timeout(REPLY_TIMEOUT, socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let reply = Message::from_vec(&buf[..len]).unwrap();
    assert_eq!(reply.metadata.id, msg.metadata.id);
    reply
}

async fn udp(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    udp_with(addr, query(name, qtype, None)).await
}

/// One query over TCP, framed with its two-byte length (RFC 1035 §4.2.2).
async fn tcp(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let msg = query(name, qtype, None);
    let bytes = msg.to_vec().unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_u16(bytes.len() as u16).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let reply = timeout(REPLY_TIMEOUT, async {
        let len = stream.read_u16().await.unwrap();
        let mut buf = vec![0; usize::from(len)];
        stream.read_exact(&mut buf).await.unwrap();
        buf
    })
    .await
    .unwrap();
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.id, msg.metadata.id);
    reply
}

fn a_addresses(records: &[hickory_proto::rr::Record]) -> BTreeSet<Ipv4Addr> {
    records
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => a.0,
            other => panic!("not an A record: {other:?}"),
        })
        .collect()
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, last)
}

fn assert_soa_in_authority(reply: &Message) {
    assert_eq!(reply.authorities.len(), 1, "{reply:?}");
    let soa = &reply.authorities[0];
    assert_eq!(soa.name.to_ascii(), "ecs.local.");
    let RData::SOA(data) = &soa.data else {
        panic!("not a SOA: {soa:?}")
    };
    assert_eq!(data.rname.to_ascii(), "hostmaster.ecs.local.");
    assert_eq!(data.minimum, 300);
}

#[tokio::test]
async fn srv_answers_healthy_instances_with_their_addresses() {
    let r = registry(3);
    r.set_health("ecs.local", "backend", "t3", HealthStatus::Unhealthy)
        .unwrap();
    let addr = start(r).await;

    let reply = udp(addr, "backend.ecs.local.", RecordType::SRV).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.authoritative);
    assert!(!reply.metadata.truncation);
    let mut targets = BTreeSet::new();
    for record in &reply.answers {
        assert_eq!(record.name.to_ascii(), "backend.ecs.local.");
        assert_eq!(record.ttl, 10);
        let RData::SRV(srv) = &record.data else {
            panic!("not an SRV: {record:?}")
        };
        assert_eq!((srv.priority, srv.weight, srv.port), (1, 1, 8080));
        targets.insert(srv.target.to_ascii());
    }
    let expected = ["t1.backend.ecs.local.", "t2.backend.ecs.local."];
    assert_eq!(
        targets,
        expected.map(String::from).into(),
        "t3 is unhealthy"
    );
    let glue: BTreeSet<_> = reply
        .additionals
        .iter()
        .map(|r| r.name.to_ascii())
        .collect();
    assert_eq!(glue, targets);
    assert_eq!(a_addresses(&reply.additionals), [ip(1), ip(2)].into());
}

#[tokio::test]
async fn a_answers_for_the_service_and_for_an_instance() {
    let addr = start(registry(2)).await;

    let service = udp(addr, "backend.ecs.local.", RecordType::A).await;
    assert_eq!(a_addresses(&service.answers), [ip(1), ip(2)].into());
    assert!(service.answers.iter().all(|r| r.ttl == 10));

    let instance = udp(addr, "T2.Backend.ECS.local.", RecordType::A).await;
    assert_eq!(a_addresses(&instance.answers), [ip(2)].into());
    assert!(instance.metadata.authoritative);
}

#[tokio::test]
async fn all_unhealthy_fails_open() {
    let r = registry(2);
    for id in ["t1", "t2"] {
        r.set_health("ecs.local", "backend", id, HealthStatus::Unhealthy)
            .unwrap();
    }
    let addr = start(r).await;
    let reply = udp(addr, "backend.ecs.local.", RecordType::A).await;
    assert_eq!(a_addresses(&reply.answers), [ip(1), ip(2)].into());
}

#[tokio::test]
async fn more_than_eight_instances_give_eight_records() {
    let addr = start(registry(12)).await;
    let reply = udp_with(
        addr,
        query("backend.ecs.local.", RecordType::SRV, Some(4096)),
    )
    .await;
    assert_eq!(reply.answers.len(), 8);
    assert_eq!(
        reply.additionals.len(),
        8,
        "one A per target (OPT is not a record here)"
    );
    assert_eq!(
        udp(addr, "backend.ecs.local.", RecordType::A)
            .await
            .answers
            .len(),
        8
    );
}

#[tokio::test]
async fn negative_answers_carry_the_soa() {
    let addr = start(registry(1)).await;

    let missing = udp(addr, "nope.ecs.local.", RecordType::A).await;
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    assert!(missing.metadata.authoritative);
    assert!(missing.answers.is_empty());
    assert_soa_in_authority(&missing);

    let aaaa = udp(addr, "backend.ecs.local.", RecordType::AAAA).await;
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(aaaa.answers.is_empty());
    assert_soa_in_authority(&aaaa);

    let outside = udp(addr, "example.com.", RecordType::A).await;
    assert_eq!(outside.metadata.response_code, ResponseCode::Refused);
    assert!(outside.answers.is_empty() && outside.authorities.is_empty());
}

#[tokio::test]
async fn apex_answers_soa() {
    let addr = start(registry(1)).await;
    let reply = udp(addr, "ecs.local.", RecordType::SOA).await;
    assert_eq!(reply.answers.len(), 1);
    assert!(matches!(reply.answers[0].data, RData::SOA(_)));
}

#[tokio::test]
async fn tcp_answers_too() {
    let addr = start(registry(2)).await;
    let reply = tcp(addr, "backend.ecs.local.", RecordType::SRV).await;
    assert_eq!(reply.answers.len(), 2);
    assert_eq!(a_addresses(&reply.additionals), [ip(1), ip(2)].into());
}

#[tokio::test]
async fn big_udp_answer_is_truncated_and_tcp_gets_it_whole() {
    let r = registry(0);
    // Eight SRV records with 63-byte targets need about 700 bytes: more than the 512 a
    // query without EDNS allows over UDP (RFC 1035 §4.2.1).
    for i in 0..10u8 {
        register(
            &r,
            &format!("{i:x}{}", "f".repeat(62)),
            &format!("10.0.1.{i}"),
        );
    }
    let addr = start(r).await;

    let small = udp(addr, "backend.ecs.local.", RecordType::SRV).await;
    assert!(
        small.metadata.truncation,
        "TC set when the answer does not fit"
    );
    assert!(small.answers.len() < 8);

    let whole = tcp(addr, "backend.ecs.local.", RecordType::SRV).await;
    assert!(!whole.metadata.truncation);
    assert_eq!((whole.answers.len(), whole.additionals.len()), (8, 8));

    // With EDNS the client's larger buffer is honoured.
    let edns = udp_with(
        addr,
        query("backend.ecs.local.", RecordType::SRV, Some(4096)),
    )
    .await;
    assert!(!edns.metadata.truncation);
    assert_eq!(edns.answers.len(), 8);
    assert!(
        edns.edns.is_some(),
        "an OPT query gets an OPT reply (RFC 6891 §6.1.1)"
    );
}

#[tokio::test]
async fn registry_changes_show_on_the_next_query() {
    let r = registry(1);
    let addr = start(r.clone()).await;
    assert_eq!(
        a_addresses(&udp(addr, "backend.ecs.local.", RecordType::A).await.answers),
        [ip(1)].into()
    );

    register(&r, "t2", "10.0.0.2");
    r.set_health("ecs.local", "backend", "t1", HealthStatus::Unhealthy)
        .unwrap();
    let reply = udp(addr, "backend.ecs.local.", RecordType::A).await;
    assert_eq!(a_addresses(&reply.answers), [ip(2)].into());

    r.deregister_instance("ecs.local", "backend", "t2").unwrap();
    r.deregister_instance("ecs.local", "backend", "t1").unwrap();
    let gone = udp(addr, "backend.ecs.local.", RecordType::A).await;
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test]
async fn a_taken_port_is_an_error() {
    let first = DnsServer::bind(Registry::new(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let again = DnsServer::bind(Registry::new(), first.local_addr()).await;
    assert_eq!(
        again.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::AddrInUse)
    );
}

#[tokio::test]
async fn dig_reads_the_srv_records() {
    if std::process::Command::new("dig")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("note: dig is not installed; skipping the dig test (CI installs it)");
        return;
    }
    let addr = start(registry(2)).await;
    let out = tokio::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", &addr.port().to_string()])
        .args(["backend.ecs.local", "SRV", "+short", "+tries=1", "+time=5"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "dig failed: {out:?}");
    let lines: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let expected = [
        "1 1 8080 t1.backend.ecs.local.",
        "1 1 8080 t2.backend.ecs.local.",
    ];
    assert_eq!(lines, expected.map(String::from).into());
}
