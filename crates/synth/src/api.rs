//! The HTTP API: CORS, one private integration per service over the VPC link, routes,
//! the stage with auto-deploy, throttling and access log; then the outputs.
//!
//! Request and response parameter mappings and timeouts belong to an integration, not a
//! route, in API Gateway v2. So routes that set none share their service's integration,
//! and a route that sets any gets an integration of its own, to the same Cloud Map
//! service. Every integration's URI is a Cloud Map service ARN (aws-behavior.md section
//! 2.1): routes can only name services of the file, and each service gets one.
//!
//! Known limits: the access log group keeps lines forever (the file has no retention for
//! it); routes carry no authorizer (`NONE`), as the file has none.

use albless_spec::{ParamAction, ParamMapping, ParamTarget, Route, Stack, Stage};

use crate::Builder;
use crate::ecs::{Built, CLUSTER, NAMESPACE};
use crate::ids;
use crate::network::LINK;
use crate::node::{Obj, get_att, join, reference, tag_list, tag_map};

/// Id of the HTTP API.
const API: &str = "HttpApi";
/// Id of its stage.
const STAGE: &str = "HttpApiStage";
/// Id of its access log group.
const ACCESS_LOGS: &str = "HttpApiAccessLogs";

/// Adds the API, integrations, routes, stage and outputs.
pub(crate) fn build(t: &mut Builder, stack: &Stack, services: &[Built]) {
    let api = &stack.api;
    let cors = api.cors.as_ref().map(|c| {
        let list = |items: &[String]| (!items.is_empty()).then(|| items.to_vec());
        Obj::new()
            .set("AllowCredentials", c.allow_credentials)
            .opt("AllowHeaders", list(&c.allow_headers))
            .opt("AllowMethods", list(&c.allow_methods))
            .opt("AllowOrigins", list(&c.allow_origins))
            .opt("ExposeHeaders", list(&c.expose_headers))
            .opt("MaxAge", c.max_age)
    });
    let props = Obj::new()
        .opt("CorsConfiguration", cors)
        .set("Description", format!("albless stack {}", stack.name))
        .set("Name", stack.name.as_str())
        .set("ProtocolType", "HTTP")
        .opt("Tags", tag_map(&t.tags));
    t.resource(API, "AWS::ApiGatewayV2::Api", props, &[]);

    // One shared integration per service that a plain route uses.
    let timeout = api.integration_timeout.as_millis() as u64;
    for service in services {
        let plain = api
            .routes
            .iter()
            .any(|r| r.service == service.name && !has_own_integration(r));
        if plain {
            let props = integration(service, timeout, None);
            t.resource(
                &integration_id(service),
                "AWS::ApiGatewayV2::Integration",
                props,
                &[],
            );
        }
    }

    let mut routes = Vec::new();
    for route in &api.routes {
        let service = services
            .iter()
            .find(|s| s.name == route.service)
            .expect("the parser rejects a route to an unknown service");
        let stem = ids::route(&route.key);
        let target = if has_own_integration(route) {
            let id = stem.replacen("Route", "RouteIntegration", 1);
            let own = route.timeout.unwrap_or(api.integration_timeout).as_millis() as u64;
            let props = integration(service, own, Some(route));
            t.resource(&id, "AWS::ApiGatewayV2::Integration", props, &[]);
            id
        } else {
            integration_id(service)
        };
        let props = Obj::new()
            .set("ApiId", reference(API))
            .set("AuthorizationType", "NONE")
            .set("RouteKey", route.key.to_string())
            .set(
                "Target",
                join("", vec!["integrations/".into(), reference(&target)]),
            );
        t.resource(&stem, "AWS::ApiGatewayV2::Route", props, &[]);
        routes.push(stem);
    }

    stage(t, stack, &routes);
    outputs(t, stack, services);
}

/// Whether a route needs an integration of its own: mappings and timeouts are
/// integration properties.
fn has_own_integration(route: &Route) -> bool {
    !route.request_parameters.is_empty()
        || !route.response_parameters.is_empty()
        || route.timeout.is_some()
}

/// Id of a service's shared integration.
fn integration_id(service: &Built) -> String {
    format!("{}Integration", service.id)
}

/// An HTTP_PROXY integration over the VPC link to the service's Cloud Map service
/// (section 5: the shape CDK's `HttpServiceDiscoveryIntegration` emits).
fn integration(service: &Built, timeout_ms: u64, route: Option<&Route>) -> Obj {
    let request = route.and_then(|r| mappings(&r.request_parameters));
    let response = route.and_then(|r| {
        let by_status = r
            .response_parameters
            .iter()
            .filter(|(_, list)| !list.is_empty())
            .fold(Obj::new(), |o, (status, list)| {
                o.set(&status.to_string(), response_mappings(list))
            });
        (!by_status.is_empty()).then_some(by_status)
    });
    Obj::new()
        .set("ApiId", reference(API))
        .set("ConnectionId", reference(LINK))
        .set("ConnectionType", "VPC_LINK")
        .set(
            "Description",
            format!("Cloud Map service {} over the VPC link", service.name),
        )
        .set("IntegrationMethod", "ANY")
        .set("IntegrationType", "HTTP_PROXY")
        .set("IntegrationUri", get_att(&service.discovery(), "Arn"))
        .set("PayloadFormatVersion", "1.0")
        .opt("RequestParameters", request)
        .opt("ResponseParameters", response)
        .set("TimeoutInMillis", timeout_ms)
}

/// `{"ACTION:TARGET": value}` in file order; `None` when empty.
fn mappings(list: &[ParamMapping]) -> Option<Obj> {
    let obj = list.iter().fold(Obj::new(), |o, m| {
        let (key, value) = mapping(m);
        o.set(&key, value)
    });
    (!obj.is_empty()).then_some(obj)
}

/// Response mappings of one status code. CloudFormation's shape differs from the API's
/// map: `{"ResponseParameters": [{"Destination": "ACTION:TARGET", "Source": value}]}`.
fn response_mappings(list: &[ParamMapping]) -> Obj {
    let items: Vec<Obj> = list
        .iter()
        .map(|m| {
            let (destination, source) = mapping(m);
            Obj::new()
                .set("Destination", destination)
                .set("Source", source)
        })
        .collect();
    Obj::new().set("ResponseParameters", items)
}

/// A mapping's `ACTION:TARGET` key and its value. `remove` takes the empty string written
/// as `''`, as in the AWS documentation's example.
fn mapping(m: &ParamMapping) -> (String, String) {
    let action = match m.action {
        ParamAction::Append => "append",
        ParamAction::Overwrite => "overwrite",
        ParamAction::Remove => "remove",
    };
    let target = match &m.target {
        ParamTarget::Path => "path".to_owned(),
        ParamTarget::Header(h) => format!("header.{h}"),
        ParamTarget::QueryString(q) => format!("querystring.{q}"),
        ParamTarget::StatusCode => "statuscode".to_owned(),
    };
    let value = match m.action {
        ParamAction::Remove => "''".to_owned(),
        _ => m.value.clone(),
    };
    (format!("{action}:{target}"), value)
}

/// The stage: auto-deploy, throttling, access log. It waits for the routes, as route
/// settings name route keys that must exist.
fn stage(t: &mut Builder, stack: &Stack, routes: &[String]) {
    let api = &stack.api;
    let throttle = |th: albless_spec::Throttle| {
        Obj::new()
            .set("ThrottlingBurstLimit", th.burst)
            .set("ThrottlingRateLimit", th.rate)
    };
    let route_settings = api
        .routes
        .iter()
        .filter_map(|r| Some((r.key.to_string(), throttle(r.throttle?))))
        .fold(Obj::new(), |o, (key, s)| o.set(&key, s));
    let access_log = api.access_log.as_ref().map(|log| {
        let group = Obj::new().opt("Tags", tag_list(&t.tags));
        t.resource(ACCESS_LOGS, "AWS::Logs::LogGroup", group, &[]);
        Obj::new()
            .set("DestinationArn", get_att(ACCESS_LOGS, "Arn"))
            .set("Format", log.format.as_str())
    });
    let props = Obj::new()
        .opt("AccessLogSettings", access_log)
        .set("ApiId", reference(API))
        .set("AutoDeploy", true)
        .opt("DefaultRouteSettings", api.throttle.map(throttle))
        .opt(
            "RouteSettings",
            (!route_settings.is_empty()).then_some(route_settings),
        )
        .set("StageName", api.stage.name())
        .opt("Tags", tag_map(&t.tags));
    t.resource(STAGE, "AWS::ApiGatewayV2::Stage", props, routes);
}

/// The endpoint first (with the stage's path for a named stage), then ids a deploy or an
/// operator needs.
fn outputs(t: &mut Builder, stack: &Stack, services: &[Built]) {
    let endpoint = match &stack.api.stage {
        Stage::Default => get_att(API, "ApiEndpoint"),
        Stage::Named(name) => join(
            "",
            vec![get_att(API, "ApiEndpoint"), format!("/{name}").into()],
        ),
    };
    t.output("ApiEndpoint", "URL of the HTTP API", endpoint);
    t.output("ApiId", "Id of the HTTP API", reference(API));
    t.output("VpcLinkId", "Id of the VPC link", reference(LINK));
    t.output("ClusterName", "Name of the ECS cluster", reference(CLUSTER));
    t.output(
        "NamespaceId",
        "Id of the Cloud Map namespace",
        get_att(NAMESPACE, "Id"),
    );
    for service in services {
        t.output(
            &format!("{}EcsServiceName", service.id),
            &format!("Name of ECS service {}", service.name),
            get_att(&format!("{}EcsService", service.id), "Name"),
        );
        t.output(
            &format!("{}DiscoveryServiceArn", service.id),
            &format!("ARN of Cloud Map service {}", service.name),
            get_att(&service.discovery(), "Arn"),
        );
        let repository = format!("{}Repository", service.id);
        if t.has(&repository) {
            t.output(
                &format!("{}RepositoryUri", service.id),
                &format!("ECR repository of service {}", service.name),
                get_att(&repository, "RepositoryUri"),
            );
        }
    }
}
