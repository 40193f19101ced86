use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{MAX_RECORDS, SOA_TTL, resolve};
use crate::{ATTR_IPV4, ATTR_PORT, HealthStatus, Registry, ServiceConfig};

const SRV_ONLY: ServiceConfig = ServiceConfig {
    srv: true,
    a: false,
    ttl: 10,
    custom_health: true,
};

fn attrs(ip: &str, port: u16) -> BTreeMap<String, String> {
    BTreeMap::from([
        (ATTR_IPV4.to_string(), ip.to_string()),
        (ATTR_PORT.to_string(), port.to_string()),
    ])
}

/// `ecs.local` with service `backend` configured as `config` and `n` instances
/// `t1..tn` at 10.0.0.1..n, port 8080.
fn registry(config: ServiceConfig, n: u8) -> Registry {
    let r = Registry::new();
    r.create_namespace("ecs.local").unwrap();
    r.create_service("ecs.local", "backend", config).unwrap();
    for i in 1..=n {
        r.register_instance(
            "ecs.local",
            "backend",
            &format!("t{i}"),
            attrs(&format!("10.0.0.{i}"), 8080),
        )
        .unwrap();
    }
    r
}

fn ask(r: &Registry, name: &str, qtype: RecordType) -> super::Answer {
    resolve(
        &r.snapshot(),
        &Name::from_ascii(name).unwrap(),
        qtype,
        &mut rand::rng(),
    )
}

fn ips(records: &[Record]) -> BTreeSet<Ipv4Addr> {
    records
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => a.0,
            other => panic!("not an A record: {other:?}"),
        })
        .collect()
}

fn assert_soa_authority(answer: &super::Answer) {
    assert_eq!(answer.authorities.len(), 1, "{answer:?}");
    let soa = &answer.authorities[0];
    assert_eq!(soa.name, Name::from_ascii("ecs.local.").unwrap());
    assert_eq!(soa.ttl, SOA_TTL);
    let RData::SOA(data) = &soa.data else {
        panic!("not a SOA: {soa:?}")
    };
    assert_eq!(data.mname, Name::from_ascii("ns.ecs.local.").unwrap());
    assert_eq!(
        data.rname,
        Name::from_ascii("hostmaster.ecs.local.").unwrap()
    );
    assert_eq!(data.minimum, SOA_TTL);
}

#[test]
fn srv_lists_each_instance_with_its_target_address() {
    let r = registry(SRV_ONLY, 2);
    let answer = ask(&r, "backend.ecs.local.", RecordType::SRV);
    assert_eq!(answer.rcode, ResponseCode::NoError);
    assert!(answer.authoritative);
    let mut targets = BTreeSet::new();
    for record in &answer.answers {
        assert_eq!(record.ttl, 10);
        let RData::SRV(srv) = &record.data else {
            panic!("not an SRV: {record:?}")
        };
        assert_eq!((srv.priority, srv.weight, srv.port), (1, 1, 8080));
        targets.insert(srv.target.to_ascii());
    }
    let expected = ["t1.backend.ecs.local.", "t2.backend.ecs.local."];
    assert_eq!(targets, expected.map(String::from).into());
    let glue: BTreeSet<_> = answer
        .additionals
        .iter()
        .map(|r| r.name.to_ascii())
        .collect();
    assert_eq!(glue, targets);
    assert_eq!(
        ips(&answer.additionals),
        ["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()].into()
    );
}

#[test]
fn names_match_whatever_their_case() {
    let r = registry(SRV_ONLY, 1);
    let answer = ask(&r, "BackEnd.ECS.local.", RecordType::A);
    assert_eq!(ips(&answer.answers), ["10.0.0.1".parse().unwrap()].into());
    // The owner is the name as asked, so the reply matches the question.
    assert_eq!(answer.answers[0].name.to_ascii(), "BackEnd.ECS.local.");
    assert_eq!(
        ask(&r, "T1.backend.ecs.LOCAL", RecordType::A).answers.len(),
        1
    );
}

#[test]
fn instance_name_answers_its_own_address_even_unhealthy() {
    let r = registry(SRV_ONLY, 2);
    r.set_health("ecs.local", "backend", "t2", HealthStatus::Unhealthy)
        .unwrap();
    let answer = ask(&r, "t2.backend.ecs.local.", RecordType::A);
    assert_eq!(ips(&answer.answers), ["10.0.0.2".parse().unwrap()].into());
    assert_eq!(answer.answers[0].ttl, 10);
    // The name exists, so other types are NODATA, not NXDOMAIN.
    let srv = ask(&r, "t2.backend.ecs.local.", RecordType::SRV);
    assert_eq!(srv.rcode, ResponseCode::NoError);
    assert!(srv.answers.is_empty());
    assert_soa_authority(&srv);
}

#[test]
fn a_only_service_has_no_srv_and_no_instance_names() {
    let config = ServiceConfig {
        srv: false,
        a: true,
        ..SRV_ONLY
    };
    let r = registry(config, 2);
    assert_eq!(
        ask(&r, "backend.ecs.local.", RecordType::A).answers.len(),
        2
    );
    let srv = ask(&r, "backend.ecs.local.", RecordType::SRV);
    assert_eq!((srv.rcode, srv.answers.len()), (ResponseCode::NoError, 0));
    assert_soa_authority(&srv);
    let instance = ask(&r, "t1.backend.ecs.local.", RecordType::A);
    assert_eq!(instance.rcode, ResponseCode::NXDomain);
}

#[test]
fn unhealthy_instances_are_left_out_until_all_are() {
    let r = registry(SRV_ONLY, 3);
    r.set_health("ecs.local", "backend", "t1", HealthStatus::Unhealthy)
        .unwrap();
    let answer = ask(&r, "backend.ecs.local.", RecordType::A);
    assert_eq!(
        ips(&answer.answers),
        ["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()].into()
    );

    // Fail-open: with none healthy, the unhealthy ones are returned (§3.6).
    for id in ["t2", "t3"] {
        r.set_health("ecs.local", "backend", id, HealthStatus::Unhealthy)
            .unwrap();
    }
    assert_eq!(
        ask(&r, "backend.ecs.local.", RecordType::A).answers.len(),
        3
    );
    assert_eq!(
        ask(&r, "backend.ecs.local.", RecordType::SRV).answers.len(),
        3
    );
}

#[test]
fn multivalue_returns_eight_random_records() {
    let r = registry(SRV_ONLY, 20);
    let mut seen = BTreeSet::new();
    for _ in 0..50 {
        let answer = ask(&r, "backend.ecs.local.", RecordType::A);
        let picked = ips(&answer.answers);
        assert_eq!(picked.len(), MAX_RECORDS, "eight distinct records");
        seen.extend(picked);
        let srv = ask(&r, "backend.ecs.local.", RecordType::SRV);
        assert_eq!(
            (srv.answers.len(), srv.additionals.len()),
            (MAX_RECORDS, MAX_RECORDS)
        );
    }
    // Fifty draws of 8 out of 20 leave a given instance out with odds of (12/20)^50.
    assert_eq!(seen.len(), 20, "every instance gets picked sometimes");
}

#[test]
fn apex_answers_soa_and_ns() {
    let r = registry(SRV_ONLY, 1);
    let soa = ask(&r, "ecs.local.", RecordType::SOA);
    assert_eq!(soa.answers.len(), 1);
    assert!(matches!(soa.answers[0].data, RData::SOA(_)));
    assert!(soa.authorities.is_empty());
    let ns = ask(&r, "ecs.local.", RecordType::NS);
    let RData::NS(target) = &ns.answers[0].data else {
        panic!("not NS: {ns:?}")
    };
    assert_eq!(target.0.to_ascii(), "ns.ecs.local.");
    let a = ask(&r, "ecs.local.", RecordType::A);
    assert_eq!((a.rcode, a.answers.len()), (ResponseCode::NoError, 0));
    assert_soa_authority(&a);
}

#[test]
fn soa_serial_follows_the_registry_version() {
    let r = registry(SRV_ONLY, 1);
    let serial = |r: &Registry| match &ask(r, "ecs.local.", RecordType::SOA).answers[0].data {
        RData::SOA(soa) => soa.serial,
        _ => unreachable!(),
    };
    let before = serial(&r);
    r.deregister_instance("ecs.local", "backend", "t1").unwrap();
    assert_eq!(serial(&r), before + 1);
}

#[test]
fn unknown_names_are_nxdomain_with_the_namespace_soa() {
    let r = registry(SRV_ONLY, 1);
    for name in [
        "nope.ecs.local.",
        "t9.backend.ecs.local.",
        "a.t1.backend.ecs.local.",
    ] {
        let answer = ask(&r, name, RecordType::A);
        assert_eq!(answer.rcode, ResponseCode::NXDomain, "{name}");
        assert!(answer.authoritative);
        assert_soa_authority(&answer);
    }
    // A service without instances has no records yet, like a Route 53 record set.
    r.create_service("ecs.local", "empty", SRV_ONLY).unwrap();
    assert_eq!(
        ask(&r, "empty.ecs.local.", RecordType::SRV).rcode,
        ResponseCode::NXDomain
    );
}

#[test]
fn names_outside_every_namespace_are_refused() {
    let r = registry(SRV_ONLY, 1);
    for name in [
        "example.com.",
        "local.",
        "xecs.local.",
        "backend.ecs.local.example.",
    ] {
        let answer = ask(&r, name, RecordType::A);
        assert_eq!(answer.rcode, ResponseCode::Refused, "{name}");
        assert!(!answer.authoritative);
        assert!(answer.authorities.is_empty());
    }
}

#[test]
fn aaaa_is_nodata() {
    let r = registry(SRV_ONLY, 1);
    for name in ["backend.ecs.local.", "t1.backend.ecs.local."] {
        let answer = ask(&r, name, RecordType::AAAA);
        assert_eq!(
            (answer.rcode, answer.answers.len()),
            (ResponseCode::NoError, 0)
        );
        assert_soa_authority(&answer);
    }
}

#[test]
fn dotted_instance_ids_make_empty_non_terminals() {
    let r = registry(SRV_ONLY, 0);
    r.register_instance("ecs.local", "backend", "a.b", attrs("10.0.0.7", 80))
        .unwrap();
    assert_eq!(
        ask(&r, "a.b.backend.ecs.local.", RecordType::A)
            .answers
            .len(),
        1
    );
    let middle = ask(&r, "b.backend.ecs.local.", RecordType::A);
    assert_eq!(
        (middle.rcode, middle.answers.len()),
        (ResponseCode::NoError, 0)
    );
}

#[test]
fn the_deepest_namespace_owns_a_name() {
    let r = registry(SRV_ONLY, 1);
    r.create_namespace("local").unwrap();
    r.create_namespace("deep.ecs.local").unwrap();
    let answer = ask(&r, "x.deep.ecs.local.", RecordType::A);
    assert_eq!(answer.authorities[0].name.to_ascii(), "deep.ecs.local.");
    assert_eq!(
        ask(&r, "backend.ecs.local.", RecordType::A).answers.len(),
        1
    );
}

#[test]
fn instances_without_a_port_have_no_srv_record() {
    let r = registry(SRV_ONLY, 1);
    let no_port = BTreeMap::from([(ATTR_IPV4.to_string(), "10.0.0.9".to_string())]);
    r.register_instance("ecs.local", "backend", "np", no_port)
        .unwrap();
    assert_eq!(
        ask(&r, "backend.ecs.local.", RecordType::SRV).answers.len(),
        1
    );
    assert_eq!(
        ask(&r, "backend.ecs.local.", RecordType::A).answers.len(),
        2
    );
}

#[test]
fn aaaa_answers_for_instances_with_an_ipv6_address() {
    let r = registry(SRV_ONLY, 1);
    let mut a = attrs("10.0.0.9", 8080);
    a.insert(crate::ATTR_IPV6.into(), "fd00::9".into());
    r.register_instance("ecs.local", "backend", "v6", a)
        .unwrap();
    let answer = ask(&r, "backend.ecs.local.", RecordType::AAAA);
    let ips: Vec<_> = answer
        .answers
        .iter()
        .map(|rec| match &rec.data {
            RData::AAAA(a) => a.0,
            other => panic!("not AAAA: {other:?}"),
        })
        .collect();
    assert_eq!(ips, ["fd00::9".parse::<std::net::Ipv6Addr>().unwrap()]);
    let answer = ask(&r, "v6.backend.ecs.local.", RecordType::AAAA);
    assert_eq!(answer.answers.len(), 1);
    let srv = ask(&r, "backend.ecs.local.", RecordType::SRV);
    assert!(
        srv.additionals
            .iter()
            .any(|rec| matches!(rec.data, RData::AAAA(_)))
    );
}

#[test]
fn http_namespaces_have_no_dns_names() {
    let r = Registry::new();
    r.create_namespace_with(crate::NamespaceSpec {
        name: "apps".into(),
        kind: crate::NamespaceKind::Http,
        description: None,
        vpc: None,
        soa_ttl: None,
        creator_request_id: None,
    })
    .unwrap();
    assert_eq!(
        ask(&r, "apps.", RecordType::SOA).rcode,
        ResponseCode::Refused
    );
}
