use albless_registry::Registry;
use http::StatusCode;
use serde_json::{Value, json};

use super::handle;

fn call(r: &Registry, op: &str, body: Value) -> Result<Value, (StatusCode, &'static str, String)> {
    handle(r, op, body.to_string().as_bytes()).map_err(|e| (e.status, e.kind, e.message))
}

fn check_error(r: &Registry, op: &str, body: Value, status: u16, kind: &str) {
    match call(r, op, body.clone()) {
        Err((s, k, _)) => assert_eq!((s.as_u16(), k), (status, kind), "{op} {body}"),
        Ok(v) => panic!("{op} {body} succeeded: {v}"),
    }
}

#[test]
fn validation_and_error_types_follow_the_model() {
    let r = Registry::new();
    let ns = call(&r, "CreateHttpNamespace", json!({"Name": "apps"})).unwrap();
    let op = call(
        &r,
        "GetOperation",
        json!({"OperationId": ns["OperationId"]}),
    )
    .unwrap();
    let ns_id = op["Operation"]["Targets"]["NAMESPACE"]
        .as_str()
        .unwrap()
        .to_string();
    let svc = call(
        &r,
        "CreateService",
        json!({"Name": "web", "NamespaceId": ns_id}),
    )
    .unwrap();
    let svc_id = svc["Service"]["Id"].as_str().unwrap().to_string();

    let cases = [
        ("CreateHttpNamespace", json!({}), 400, "InvalidInput"),
        (
            "CreateHttpNamespace",
            json!({"Name": "apps"}),
            400,
            "NamespaceAlreadyExists",
        ),
        (
            "CreatePrivateDnsNamespace",
            json!({"Name": "x.local"}),
            400,
            "InvalidInput",
        ),
        (
            "CreateService",
            json!({"Name": "web", "NamespaceId": ns_id}),
            400,
            "ServiceAlreadyExists",
        ),
        (
            "CreateService",
            json!({"Name": "-bad", "NamespaceId": ns_id}),
            400,
            "InvalidInput",
        ),
        (
            "CreateService",
            json!({"Name": "s", "NamespaceId": "ns-none"}),
            404,
            "NamespaceNotFound",
        ),
        (
            "CreateService",
            json!({"Name": "d", "NamespaceId": ns_id,
                   "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 10}]}}),
            400,
            "InvalidInput",
        ),
        (
            "GetService",
            json!({"Id": "srv-none"}),
            404,
            "ServiceNotFound",
        ),
        (
            "GetNamespace",
            json!({"Id": "ns-none"}),
            404,
            "NamespaceNotFound",
        ),
        (
            "GetOperation",
            json!({"OperationId": "nope"}),
            404,
            "OperationNotFound",
        ),
        (
            "GetInstance",
            json!({"ServiceId": svc_id, "InstanceId": "i"}),
            404,
            "InstanceNotFound",
        ),
        (
            "RegisterInstance",
            json!({"ServiceId": svc_id, "InstanceId": "i"}),
            400,
            "InvalidInput",
        ),
        (
            "RegisterInstance",
            json!({"ServiceId": svc_id, "InstanceId": "a b", "Attributes": {}}),
            400,
            "InvalidInput",
        ),
        (
            "UpdateInstanceCustomHealthStatus",
            json!({"ServiceId": svc_id, "InstanceId": "i", "Status": "HEALTHY"}),
            404,
            "CustomHealthNotFound",
        ),
        (
            "DiscoverInstances",
            json!({"NamespaceName": "none", "ServiceName": "web"}),
            400,
            "NamespaceNotFound",
        ),
        (
            "DiscoverInstances",
            json!({"NamespaceName": "apps", "ServiceName": "web", "MaxResults": 1001}),
            400,
            "InvalidInput",
        ),
        (
            "ListOperations",
            json!({"Filters": [{"Name": "STATUS", "Values": ["X"]}]}),
            400,
            "InvalidInput",
        ),
        (
            "ListInstances",
            json!({"ServiceId": svc_id, "MaxResults": 101}),
            400,
            "InvalidInput",
        ),
        (
            "CreatePublicDnsNamespace",
            json!({"Name": "x.com"}),
            400,
            "UnknownOperationException",
        ),
    ];
    for (op, body, status, kind) in cases {
        check_error(&r, op, body, status, kind);
    }
    let err = handle(&r, "ListServices", b"not json").unwrap_err();
    assert_eq!(err.kind, "SerializationException");

    call(
        &r,
        "RegisterInstance",
        json!({"ServiceId": svc_id, "InstanceId": "i", "Attributes": {"k": "v"}}),
    )
    .unwrap();
    check_error(
        &r,
        "DeleteService",
        json!({"Id": svc_id}),
        409,
        "ResourceInUse",
    );
    check_error(
        &r,
        "DeleteNamespace",
        json!({"Id": ns_id}),
        409,
        "ResourceInUse",
    );
}

#[test]
fn list_calls_page_with_next_token() {
    let r = Registry::new();
    for i in 0..5 {
        call(&r, "CreateHttpNamespace", json!({"Name": format!("n{i}")})).unwrap();
    }
    let first = call(&r, "ListNamespaces", json!({"MaxResults": 2})).unwrap();
    assert_eq!(first["Namespaces"].as_array().unwrap().len(), 2);
    let mut names = Vec::new();
    let mut token = first["NextToken"].clone();
    names.extend(
        first["Namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["Name"].clone()),
    );
    while !token.is_null() {
        let page = call(
            &r,
            "ListNamespaces",
            json!({"MaxResults": 2, "NextToken": token}),
        )
        .unwrap();
        names.extend(
            page["Namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["Name"].clone()),
        );
        token = page["NextToken"].clone();
    }
    assert_eq!(names, ["n0", "n1", "n2", "n3", "n4"]);
    let filtered = call(
        &r,
        "ListNamespaces",
        json!({"Filters": [{"Name": "NAME", "Values": ["n3"], "Condition": "EQ"}]}),
    )
    .unwrap();
    assert_eq!(filtered["Namespaces"][0]["Name"], "n3");
    assert_eq!(filtered["Namespaces"][0]["Type"], "HTTP");
}
