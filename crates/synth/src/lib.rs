//! `albless synth`: the CloudFormation template that deploys an `albless.toml` on AWS:
//! API Gateway HTTP API → VPC link → Cloud Map → ECS Fargate, with no load balancer.
//!
//! [`synthesize`] is pure: the same [`Stack`] gives the same bytes, with logical ids
//! derived from names (see `ids.rs`), each service's image a template parameter, and
//! resources in a fixed order (network, cluster, discovery, services, API). It builds at
//! least what the original CDK stack builds (`../shared/reference/seed-stack.template.json`)
//! and avoids its traps (see [`albless_spec::lint`]):
//! - every Cloud Map service has SRV records and a custom health check, whatever
//!   `[discovery]` says (aws-behavior.md sections 2.1, 3.2);
//! - a service with `min_healthy_percent = 0` and running tasks deploys with 100 % (and a
//!   maximum leaving room for one more task), so a deployment never stops the last task
//!   (section 4.4);
//! - every integration's URI is the ARN of a Cloud Map service of the stack, the only
//!   target a VPC link integration accepts besides a load balancer (section 2.1).
//!
//! Beyond the original stack: several services and routes, an existing VPC, Spot and
//! on-demand mixes, x86, scheduled scaling, log groups, an ECR repository per built image,
//! least-privilege roles, per-service security groups, route throttling, access logs, tags.
//!
//! Known limits: a schedule that leaves the API without traffic for 60 days is reported by
//! the linter but kept (overriding it would override the point of the schedule); the
//! circuit breaker's `threshold`, `drain_ms`, `healthy_after`, `scale_to_zero`, the
//! outlier and retry settings have no CloudFormation property and stay local; the access
//! log's `file` is local, on AWS lines go to a log group kept forever.

mod api;
mod ecs;
mod ids;
mod network;
mod node;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use albless_spec::Stack;

use node::{Node, Obj};

/// A synthesized CloudFormation template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    root: Node,
}

/// How a template is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// JSON, two-space indented, with a final newline.
    #[default]
    Json,
    /// YAML, with intrinsic functions in their long `Fn::` form (valid CloudFormation YAML).
    Yaml,
}

/// Why a template could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The JSON serializer failed (not expected: the tree holds only JSON values).
    #[error("cannot write the template as JSON")]
    Json(#[source] serde_json::Error),
    /// The YAML serializer failed (not expected: the tree holds only JSON values).
    #[error("cannot write the template as YAML")]
    Yaml(#[source] serde_yaml_ng::Error),
}

impl Template {
    /// The template as text in `format`.
    pub fn render(&self, format: Format) -> Result<String, SynthError> {
        match format {
            Format::Json => {
                let mut text =
                    serde_json::to_string_pretty(&self.root).map_err(SynthError::Json)?;
                text.push('\n');
                Ok(text)
            }
            Format::Yaml => serde_yaml_ng::to_string(&self.root).map_err(SynthError::Yaml),
        }
    }

    /// The template as a JSON value (objects sorted by key unless serde_json's
    /// `preserve_order` is on), for inspection.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.root).expect("a tree of JSON values converts")
    }
}

/// The CloudFormation template for `stack`. Never fails: every value the model holds has
/// passed validation.
pub fn synthesize(stack: &Stack) -> Template {
    let mut t = Builder::new(stack);
    let net = network::build(&mut t, stack);
    ecs::cluster(&mut t, stack, &net);
    let services: Vec<ecs::Built> = stack
        .services
        .values()
        .map(|service| ecs::service(&mut t, stack, &net, service))
        .collect();
    api::build(&mut t, stack, &services);
    t.finish()
}

/// The template being built: sections in insertion order.
pub(crate) struct Builder {
    parameters: Obj,
    resources: Obj,
    outputs: Obj,
    ids: BTreeSet<String>,
    /// `[stack] tags`, in key order.
    pub(crate) tags: Vec<(String, String)>,
    description: String,
}

impl Builder {
    fn new(stack: &Stack) -> Builder {
        Builder {
            parameters: Obj::new(),
            resources: Obj::new(),
            outputs: Obj::new(),
            ids: BTreeSet::new(),
            tags: stack
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            description: format!(
                "albless stack {}: API Gateway HTTP API -> VPC link -> Cloud Map -> ECS \
                 Fargate, without a load balancer",
                stack.name
            ),
        }
    }

    /// Adds a resource. Panics on a duplicate id: `ids.rs` makes that impossible.
    pub(crate) fn resource(
        &mut self,
        id: &str,
        kind: &str,
        properties: Obj,
        depends_on: &[String],
    ) {
        assert!(self.ids.insert(id.to_owned()), "duplicate logical id {id}");
        let mut r = Obj::new().set("Type", kind);
        if !properties.is_empty() {
            r.push("Properties", properties);
        }
        if !depends_on.is_empty() {
            r.push("DependsOn", depends_on.to_vec());
        }
        self.resources.push(id, r);
    }

    /// Whether a resource or parameter has id `id`.
    pub(crate) fn has(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Adds a `String` parameter.
    pub(crate) fn parameter(&mut self, id: &str, description: &str, default: Option<&str>) {
        assert!(self.ids.insert(id.to_owned()), "duplicate logical id {id}");
        let p = Obj::new()
            .set("Type", "String")
            .set("Description", description)
            .opt("Default", default);
        self.parameters.push(id, p);
    }

    /// Adds an output.
    pub(crate) fn output(&mut self, id: &str, description: &str, value: Node) {
        let o = Obj::new()
            .set("Description", description)
            .set("Value", value);
        self.outputs.push(id, o);
    }

    fn finish(self) -> Template {
        let mut root = Obj::new()
            .set("AWSTemplateFormatVersion", "2010-09-09")
            .set("Description", self.description);
        if !self.parameters.is_empty() {
            root.push("Parameters", self.parameters);
        }
        root.push("Resources", self.resources);
        root.push("Outputs", self.outputs);
        Template { root: root.into() }
    }
}
