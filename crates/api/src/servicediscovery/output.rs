//! Cloud Map response shapes built from registry views (API reference: Namespace,
//! NamespaceSummary, Service, ServiceSummary, Operation). Dates are epoch seconds, as
//! AWS JSON 1.1 sends timestamps.

use std::time::SystemTime;

use albless_registry::{NamespaceKind, NamespaceView, Operation, ServiceView};
use serde_json::{Value, json};

/// Epoch seconds with milliseconds.
pub(crate) fn date(t: SystemTime) -> f64 {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// `Namespace` (with `full`: also CreatorRequestId) or `NamespaceSummary`.
pub(crate) fn namespace(ns: &NamespaceView, full: bool) -> Value {
    let info = &ns.info;
    let mut properties = json!({ "HttpProperties": { "HttpName": info.http_name } });
    if info.kind == NamespaceKind::DnsPrivate {
        // The hosted zone Route 53 would create; locally the DNS server is the zone.
        let mut dns = json!({ "HostedZoneId": format!("Z{}", info.id[3..].to_ascii_uppercase()) });
        if let Some(ttl) = info.soa_ttl {
            dns["SOA"] = json!({ "TTL": ttl });
        }
        properties["DnsProperties"] = dns;
    }
    let mut out = json!({
        "Id": info.id,
        "Arn": info.arn,
        "Name": info.name,
        "Type": info.kind.as_str(),
        "ServiceCount": ns.services.len(),
        "Properties": properties,
        "CreateDate": date(info.created),
    });
    if let Some(d) = &info.description {
        out["Description"] = json!(d);
    }
    if full && let Some(token) = &info.creator_request_id {
        out["CreatorRequestId"] = json!(token);
    }
    out
}

/// `Service` (with `full`: also NamespaceId and CreatorRequestId) or `ServiceSummary`.
pub(crate) fn service(svc: &ServiceView, full: bool) -> Value {
    let info = &svc.info;
    let mut out = json!({
        "Id": info.id,
        "Arn": info.arn,
        "Name": info.name,
        "Type": info.service_type(),
        "InstanceCount": svc.instances.len(),
        "CreateDate": date(info.created),
    });
    if let Some(d) = &info.description {
        out["Description"] = json!(d);
    }
    if let Some(dns) = &info.dns {
        let records: Vec<Value> = dns
            .records
            .iter()
            .map(|r| json!({ "Type": r.kind.as_str(), "TTL": r.ttl }))
            .collect();
        out["DnsConfig"] = json!({
            "NamespaceId": info.namespace_id,
            "RoutingPolicy": dns.routing_policy.as_str(),
            "DnsRecords": records,
        });
    }
    if let Some(hc) = &info.health_check {
        let mut check = json!({ "Type": hc.kind });
        if let Some(p) = &hc.resource_path {
            check["ResourcePath"] = json!(p);
        }
        if let Some(t) = hc.failure_threshold {
            check["FailureThreshold"] = json!(t);
        }
        out["HealthCheckConfig"] = check;
    }
    if info.custom_health {
        out["HealthCheckCustomConfig"] = match info.custom_failure_threshold {
            Some(t) => json!({ "FailureThreshold": t }),
            None => json!({}),
        };
    }
    if full {
        out["NamespaceId"] = json!(info.namespace_id);
        if let Some(token) = &info.creator_request_id {
            out["CreatorRequestId"] = json!(token);
        }
    }
    out
}

/// `Operation`.
pub(crate) fn operation(op: &Operation) -> Value {
    let mut out = json!({
        "Id": op.id,
        "Type": op.kind.as_str(),
        "Status": op.status.as_str(),
        "CreateDate": date(op.created),
        "UpdateDate": date(op.updated),
        "Targets": op.targets,
    });
    if let Some(m) = &op.error_message {
        out["ErrorMessage"] = json!(m);
    }
    if let Some(c) = &op.error_code {
        out["ErrorCode"] = json!(c);
    }
    out
}
