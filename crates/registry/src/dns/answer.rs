//! Turns one DNS question into an answer, from one registry [`Snapshot`].
//!
//! This is the whole of the DNS behaviour of Cloud Map as albless emulates it
//! (aws-behavior.md §3.6); the server around it only moves bytes. It is pure apart from
//! the random pick of MULTIVALUE records, so it is tested without sockets.
//!
//! Known limits: names are matched as text, so an instance id holding a `.` is read as
//! several labels (which is also how Route 53 would spell its record); only class IN
//! exists; no wildcard, CNAME or DNSSEC records.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::{InstanceView, NamespaceView, ServiceView, Snapshot};

/// At most this many records per MULTIVALUE answer (aws-behavior.md §3.6).
pub(crate) const MAX_RECORDS: usize = 8;

/// TTL and SOA `minimum` of the namespace's SOA record, seconds: the negative-caching
/// time that the VPC resolver applies to a Cloud Map private namespace (aws-behavior.md
/// §3.6). Locally it bounds how long a caching resolver remembers "no such name".
pub(crate) const SOA_TTL: u32 = 300;

/// TTL of the apex NS record: Route 53's default for the NS record of a new hosted zone.
const NS_TTL: u32 = 172_800;

/// SOA timers (refresh, retry, expire): Route 53's defaults for a new hosted zone. Nothing
/// transfers this zone, so they are informational only.
const SOA_REFRESH: i32 = 7_200;
const SOA_RETRY: i32 = 900;
const SOA_EXPIRE: i32 = 1_209_600;

/// What the server sends back for one question.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    /// The response code; `Refused` means the name is outside every namespace.
    pub rcode: ResponseCode,
    /// Whether the name is inside a namespace this server is authoritative for.
    pub authoritative: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section (the namespace's SOA on negative answers).
    pub authorities: Vec<Record>,
    /// The additional section (A records of SRV targets).
    pub additionals: Vec<Record>,
}

/// Answers `qtype` questions about `qname` from `snapshot`.
///
/// `qname` is the name as the client spelled it: answer records carry it as their owner,
/// while matching ignores case (RFC 4343).
pub(crate) fn resolve(
    snapshot: &Snapshot,
    qname: &Name,
    qtype: RecordType,
    rng: &mut impl Rng,
) -> Answer {
    let lower = qname.to_lowercase().to_ascii();
    let lower = lower.trim_end_matches('.');

    // Names outside every namespace are not ours and this server does not recurse:
    // REFUSED (RFC 1035 §4.1.1), as authoritative-only servers answer for foreign zones.
    let Some(ns) = namespace_of(snapshot, lower) else {
        return Answer {
            rcode: ResponseCode::Refused,
            ..Answer::default()
        };
    };
    let soa = soa_record(ns, snapshot.version);
    let relative = if lower == ns.name {
        ""
    } else {
        &lower[..lower.len() - ns.name.len() - 1]
    };

    let mut answer = Answer {
        authoritative: true,
        ..Answer::default()
    };
    match find_owner(ns, relative) {
        Owner::Apex => {
            if matches!(qtype, RecordType::SOA | RecordType::ANY) {
                answer.answers.push(soa.clone());
            }
            if matches!(qtype, RecordType::NS | RecordType::ANY) {
                let ns_name = Name::from_ascii(format!("ns.{}.", ns.name)).ok();
                answer.answers.extend(
                    ns_name.map(|n| Record::from_rdata(apex_name(ns), NS_TTL, RData::NS(NS(n)))),
                );
            }
        }
        Owner::Service(svc) => service_records(svc, qname, qtype, rng, &mut answer),
        Owner::Instance(svc, inst) => {
            // The target name of one SRV record: Cloud Map creates its A record with the
            // instance (aws-behavior.md §3.6). One record is its own MULTIVALUE set, and
            // fail-open returns it even when unhealthy, so health is not checked here.
            let wants_a = matches!(qtype, RecordType::A | RecordType::ANY);
            if let Some(ip) = inst.ipv4.filter(|_| wants_a) {
                answer
                    .answers
                    .push(a_record(qname.clone(), svc.config.ttl, ip));
            }
            let wants_aaaa = matches!(qtype, RecordType::AAAA | RecordType::ANY);
            if let Some(ip) = inst.ipv6.filter(|_| wants_aaaa) {
                answer
                    .answers
                    .push(aaaa_record(qname.clone(), svc.config.ttl, ip));
            }
        }
        Owner::EmptyNonTerminal => {}
        Owner::Missing => answer.rcode = ResponseCode::NXDomain,
    }

    // RFC 2308 §3: negative answers (NXDOMAIN, or NOERROR with no data) carry the zone's
    // SOA in the authority section, so resolvers know how long to cache them.
    if answer.answers.is_empty() {
        answer.authorities.push(soa);
    }
    answer
}

/// The namespace that holds `name` (lower case, no trailing dot); with nested
/// namespaces, the deepest one, as DNS delegation would pick it.
fn namespace_of<'a>(snapshot: &'a Snapshot, name: &str) -> Option<&'a NamespaceView> {
    snapshot
        .namespaces
        .values()
        // HTTP namespaces have no DNS names (aws-behavior.md §3.2).
        .filter(|ns| ns.info.kind == crate::NamespaceKind::DnsPrivate)
        .filter(|ns| name == ns.name || is_below(name, &ns.name))
        .max_by_key(|ns| ns.name.len())
}

/// Whether `name` is a proper subdomain of `parent` (both lower case, no trailing dot).
fn is_below(name: &str, parent: &str) -> bool {
    name.len() > parent.len() + 1
        && name.ends_with(parent)
        && name.as_bytes()[name.len() - parent.len() - 1] == b'.'
}

/// What a name inside a namespace refers to.
enum Owner<'a> {
    /// The namespace itself.
    Apex,
    /// `<service>.<namespace>`, for a service with at least one instance.
    Service(&'a ServiceView),
    /// `<instance-id>.<service>.<namespace>`, for a service publishing SRV records.
    Instance(&'a ServiceView, &'a InstanceView),
    /// A name with no records of its own but with names below it (RFC 8020: it exists).
    EmptyNonTerminal,
    /// No such name.
    Missing,
}

/// Finds what `relative` (the name without `.<namespace>`, lower case) refers to.
///
/// Route 53 holds a record set only while records exist, and Cloud Map writes them when
/// an instance registers, so a service without instances has no name yet (NXDOMAIN);
/// instance names exist only for SRV services, whose SRV targets they are (§3.6).
fn find_owner<'a>(ns: &'a NamespaceView, relative: &str) -> Owner<'a> {
    if relative.is_empty() {
        return Owner::Apex;
    }
    let live = || ns.services.values().filter(|s| !s.instances.is_empty());

    // Exact names first, without allocating: this runs on every query, over every
    // instance of the namespace (bench/registry.sh measures it with 1,000).
    for svc in live() {
        if relative.eq_ignore_ascii_case(&svc.name) {
            return Owner::Service(svc);
        }
        if !svc.config.srv || relative.len() <= svc.name.len() + 1 {
            continue;
        }
        let (prefix, rest) = relative.split_at(relative.len() - svc.name.len() - 1);
        if rest.as_bytes()[0] != b'.' || !rest[1..].eq_ignore_ascii_case(&svc.name) {
            continue;
        }
        if let Some(inst) = svc
            .instances
            .iter()
            .find(|i| i.id.eq_ignore_ascii_case(prefix))
        {
            return Owner::Instance(svc, inst);
        }
    }

    // Then names that only have names below them (RFC 8020: they exist).
    let mut below = false;
    for svc in live() {
        let svc_name = svc.name.to_ascii_lowercase();
        below |= is_below(&svc_name, relative);
        if svc.config.srv {
            for inst in &svc.instances {
                let owner = format!("{}.{svc_name}", inst.id.to_ascii_lowercase());
                below |= is_below(&owner, relative);
            }
        }
    }
    if below {
        Owner::EmptyNonTerminal
    } else {
        Owner::Missing
    }
}

/// Adds the records of `<service>.<namespace>` for `qtype` to `answer`.
fn service_records(
    svc: &ServiceView,
    qname: &Name,
    qtype: RecordType,
    rng: &mut impl Rng,
    answer: &mut Answer,
) {
    let ttl = svc.config.ttl;
    let want = |t: RecordType| qtype == t || qtype == RecordType::ANY;

    if svc.config.srv && want(RecordType::SRV) {
        // Only instances with a port can have an SRV record, and only ids that make a
        // valid DNS name can be a target.
        // The names are built for the picked instances only: building one per instance
        // per query was the DNS server's main cost with 1,000 instances.
        let candidates = svc
            .instances
            .iter()
            .filter(|i| i.port.is_some() && can_be_target(svc, i))
            .map(|i| (i, ()))
            .collect();
        let picked = pick(candidates, svc, rng);
        let picked = picked
            .into_iter()
            .filter_map(|(i, ())| Some((i, target_name(svc, i)?)));
        for (inst, target) in picked {
            let port = inst.port.unwrap_or_default();
            // Priority and weight are fixed at 1 by Cloud Map (aws-behavior.md §3.6).
            let srv = SRV::new(1, 1, port, target.clone());
            answer
                .answers
                .push(Record::from_rdata(qname.clone(), ttl, RData::SRV(srv)));
            // The target's A record, so the client needs no second query (RFC 2782).
            if let Some(ip) = inst.ipv4 {
                answer.additionals.push(a_record(target.clone(), ttl, ip));
            }
            if let Some(ip) = inst.ipv6 {
                answer.additionals.push(aaaa_record(target, ttl, ip));
            }
        }
    }

    // Cloud Map publishes A records at the service name only with an A DnsRecord; with
    // SRV alone they sit at the target names. Locally the service name answers A for
    // either, so `dig A backend.ecs.local` lists the tasks' addresses as the demo
    // expects; the SRV answer is exactly what Cloud Map gives.
    if (svc.config.a || svc.config.srv) && want(RecordType::A) {
        let candidates = svc
            .instances
            .iter()
            .filter_map(|i| Some((i, i.ipv4?)))
            .collect();
        for (_, ip) in pick(candidates, svc, rng) {
            answer.answers.push(a_record(qname.clone(), ttl, ip));
        }
    }
    if want(RecordType::AAAA) {
        aaaa_records(svc, qname, rng, answer);
    }
}

/// AAAA at the service name: for a service with an AAAA DnsRecord, and (like A above)
/// for an SRV service, so the targets' IPv6 addresses are listed too.
fn aaaa_records(svc: &ServiceView, qname: &Name, rng: &mut impl Rng, answer: &mut Answer) {
    let has_aaaa = svc
        .info
        .dns
        .as_ref()
        .is_some_and(|d| d.records.iter().any(|r| r.kind == crate::RecordKind::Aaaa));
    if !(has_aaaa || svc.config.srv) {
        return;
    }
    let candidates = svc
        .instances
        .iter()
        .filter_map(|i| Some((i, i.ipv6?)))
        .collect();
    for (_, ip) in pick(candidates, svc, rng) {
        answer
            .answers
            .push(aaaa_record(qname.clone(), svc.config.ttl, ip));
    }
}

/// The MULTIVALUE rule (aws-behavior.md §3.6): up to [`MAX_RECORDS`] of the instances
/// that serve, picked at random; when none does, up to as many of the others
/// (fail-open). Without a custom health check every instance serves.
fn pick<'a, T>(
    candidates: Vec<(&'a InstanceView, T)>,
    svc: &ServiceView,
    rng: &mut impl Rng,
) -> Vec<(&'a InstanceView, T)> {
    let (mut serving, others): (Vec<_>, Vec<_>) = candidates
        .into_iter()
        .partition(|(i, _)| i.serves(&svc.config));
    if serving.is_empty() {
        serving = others;
    }
    // Shuffled even when all fit: Route 53 varies the order, and clients that take the
    // first record then spread their load.
    serving.shuffle(rng);
    serving.truncate(MAX_RECORDS);
    serving
}

/// Whether `<instance-id>.<service>.<namespace>.` can be a DNS name (labels of 1 to 63
/// bytes, 255 in all), checked without building it.
fn can_be_target(svc: &ServiceView, inst: &InstanceView) -> bool {
    inst.id.split('.').all(|l| !l.is_empty() && l.len() <= 63)
        && inst.id.len() + svc.name.len() + svc.namespace.len() + 4 <= 255
}

/// `<instance-id>.<service>.<namespace>.`, the target of an instance's SRV record; `None`
/// when the id cannot form a DNS name (e.g. a label longer than 63 bytes).
pub(crate) fn target_name(svc: &ServiceView, inst: &InstanceView) -> Option<Name> {
    let text = format!("{}.{}.{}.", inst.id, svc.name, svc.namespace).to_ascii_lowercase();
    Name::from_ascii(text).ok()
}

fn a_record(name: Name, ttl: u32, ip: std::net::Ipv4Addr) -> Record {
    Record::from_rdata(name, ttl, RData::A(A(ip)))
}

fn aaaa_record(name: Name, ttl: u32, ip: std::net::Ipv6Addr) -> Record {
    Record::from_rdata(name, ttl, RData::AAAA(AAAA(ip)))
}

fn apex_name(ns: &NamespaceView) -> Name {
    Name::from_ascii(format!("{}.", ns.name)).unwrap_or_else(|_| Name::root())
}

/// The namespace's SOA record.
///
/// A Route 53 private zone names AWS's servers (`ns-1536.awsdns-00.co.uk.`,
/// `awsdns-hostmaster.amazon.com.`); a local stand-in should not, so both names sit inside
/// the namespace. The serial is the snapshot version: it grows with every registry change,
/// as a zone serial grows with every edit.
fn soa_record(ns: &NamespaceView, version: u64) -> Record {
    let name = |prefix: &str| {
        Name::from_ascii(format!("{prefix}.{}.", ns.name)).unwrap_or_else(|_| Name::root())
    };
    let soa = SOA::new(
        name("ns"),
        name("hostmaster"),
        version as u32,
        SOA_REFRESH,
        SOA_RETRY,
        SOA_EXPIRE,
        SOA_TTL,
    );
    Record::from_rdata(apex_name(ns), SOA_TTL, RData::SOA(soa))
}

#[cfg(test)]
mod tests;
