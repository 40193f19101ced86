//! Finding a deployed stack's parts: its status and outputs (DescribeStacks), and the
//! physical ids of its resources (ListStackResources): the ECS cluster and services, the
//! API and VPC link, the ECR repositories. The operating commands start here, so they
//! work on whatever the template named things.

use aws_sdk_cloudformation as cfn;

use crate::{Clients, Error};

/// A deployed stack, as CloudFormation describes it.
#[derive(Debug, Clone, Default)]
pub struct Deployed {
    /// The stack name.
    pub name: String,
    /// Its ARN (it holds the account id).
    pub stack_id: String,
    /// Its status (`CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, ...).
    pub status: String,
    /// Why it is in that status, when CloudFormation says.
    pub status_reason: Option<String>,
    /// Its outputs, the API endpoint first (see [`order_outputs`]).
    pub outputs: Vec<(String, String)>,
    /// Its resources.
    pub resources: Vec<Resource>,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// One resource of the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Logical id in the template.
    pub logical_id: String,
    /// Physical id (a cluster name, a service ARN, an API id, ...).
    pub physical_id: String,
    /// CloudFormation type (`AWS::ECS::Service`).
    pub kind: String,
    /// Its status.
    pub status: String,
}

impl Deployed {
    /// Physical ids of the resources of `kind`.
    pub fn physical_ids<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.kind == kind && !r.physical_id.is_empty())
            .map(|r| r.physical_id.as_str())
    }

    /// The ECS cluster's name.
    pub fn cluster(&self) -> Option<&str> {
        self.physical_ids("AWS::ECS::Cluster").next()
    }

    /// The API endpoint: the first output whose value is an `https://` URL.
    pub fn endpoint(&self) -> Option<&str> {
        self.outputs
            .iter()
            .find(|(k, v)| is_endpoint(k, v))
            .map(|(_, v)| v.as_str())
    }

    /// Whether CloudFormation ever executed a change set of the stack. A stack in
    /// `REVIEW_IN_PROGRESS` holds only change sets never executed (a first deploy that was
    /// declined, or failed before execution); it cannot take an UPDATE change set, and a
    /// CREATE one reuses it, so a deploy treats it as absent (as the AWS CLI's
    /// `cloudformation deploy` does).
    pub fn is_created(&self) -> bool {
        self.status != "REVIEW_IN_PROGRESS"
    }

    /// The account id, from the stack's ARN.
    pub fn account(&self) -> Option<&str> {
        self.stack_id.split(':').nth(4).filter(|a| !a.is_empty())
    }
}

/// Whether an output is the API endpoint.
fn is_endpoint(key: &str, value: &str) -> bool {
    key.contains("Endpoint") || value.starts_with("https://")
}

/// Outputs with the API endpoint first, the others in key order.
pub fn order_outputs(mut outputs: Vec<(String, String)>) -> Vec<(String, String)> {
    outputs.sort_by(|a, b| (!is_endpoint(&a.0, &a.1), &a.0).cmp(&(!is_endpoint(&b.0, &b.1), &b.0)));
    outputs
}

/// Describes stack `name`: `Ok(None)` when it does not exist.
pub async fn describe(clients: &Clients, name: &str) -> Result<Option<Deployed>, Error> {
    let out = match clients.cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(Error::api("cloudformation", "DescribeStacks", e)),
    };
    let Some(stack) = out.stacks().first() else {
        return Ok(None);
    };
    let mut deployed = Deployed {
        name: name.to_string(),
        stack_id: stack.stack_id().unwrap_or_default().to_string(),
        status: stack
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        status_reason: stack.stack_status_reason().map(str::to_string),
        outputs: order_outputs(
            stack
                .outputs()
                .iter()
                .map(|o| {
                    (
                        o.output_key().unwrap_or_default().to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        ),
        resources: Vec::new(),
        tags: stack
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    };
    if deployed.status == "DELETE_COMPLETE" {
        return Ok(None);
    }
    deployed.resources = resources(clients, name).await?;
    Ok(Some(deployed))
}

/// Describes stack `name`, failing with [`Error::NoStack`] when it does not exist.
pub async fn require(clients: &Clients, name: &str) -> Result<Deployed, Error> {
    describe(clients, name)
        .await?
        .ok_or_else(|| Error::NoStack(name.to_string()))
}

/// Every resource of the stack (all pages).
pub async fn resources(clients: &Clients, name: &str) -> Result<Vec<Resource>, Error> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let out = clients
            .cfn
            .list_stack_resources()
            .stack_name(name)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::api("cloudformation", "ListStackResources", e))?;
        all.extend(out.stack_resource_summaries().iter().map(|r| {
            Resource {
                logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                physical_id: r.physical_resource_id().unwrap_or_default().to_string(),
                kind: r.resource_type().unwrap_or_default().to_string(),
                status: r
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            }
        }));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(all);
        }
    }
}

/// Whether a DescribeStacks error says the stack does not exist (CloudFormation answers
/// `ValidationError` "Stack with id X does not exist").
pub(crate) fn is_missing<R: std::fmt::Debug>(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        cfn::operation::describe_stacks::DescribeStacksError,
        R,
    >,
) -> bool {
    let (code, message) = crate::error::sdk_parts(e);
    code == "ValidationError" && message.contains("does not exist")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_comes_first() {
        let o = order_outputs(vec![
            ("ClusterName".into(), "c".into()),
            ("ApiEndpoint".into(), "https://x.execute-api".into()),
            ("A".into(), "a".into()),
        ]);
        assert_eq!(o[0].0, "ApiEndpoint");
        assert_eq!(o[1].0, "A");
    }

    #[test]
    fn the_account_is_read_from_the_stack_arn() {
        let d = Deployed {
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/hello/abc".into(),
            ..Deployed::default()
        };
        assert_eq!(d.account(), Some("123456789012"));
    }
}
