//! `albless aws deploy`: images, then a CloudFormation change set (create or update),
//! its summary, a question, the stack's events live with the elapsed time, and the
//! outputs with the API endpoint first.
//!
//! Failure is never reported as success: a stack that rolls back ends the deploy with
//! the first resource that failed and CloudFormation's reason ([`Error::Rollback`]); an
//! ECS deployment that the circuit breaker failed, rolled back or not, ends it with
//! [`Error::RolloutFailed`] even when CloudFormation itself completed (aws-behavior.md
//! section 4.4).
//!
//! The template goes inline (`TemplateBody`) when it is at most 51,200 bytes, and
//! through albless's S3 bucket (`TemplateURL`) when it is larger ([`crate::bucket`]).
//!
//! Known limits: a stack left in `ROLLBACK_COMPLETE` by a failed creation must be
//! destroyed before the next deploy, as CloudFormation requires.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use albless_spec::Stack;
use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, Tag,
};
use serde_json::Value;

use crate::bucket::TemplateSource;
use crate::locate::{self, Deployed};
use crate::rollout;
use crate::template::{self, ImageSlot};
use crate::{Clients, Console, Error};

/// How a deploy runs.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// The CloudFormation stack name.
    pub stack_name: String,
    /// Build images from `build` folders when a Docker engine answers (default true).
    pub build: bool,
    /// Time between two polls of CloudFormation and ECS.
    pub poll: Duration,
    /// Longest wait for the stack and then for the ECS rollouts.
    pub timeout: Duration,
}

impl DeployOptions {
    /// Defaults for `stack_name`: build when possible, poll every 5 s, wait 30 minutes.
    pub fn new(stack_name: impl Into<String>) -> DeployOptions {
        DeployOptions {
            stack_name: stack_name.into(),
            build: true,
            poll: Duration::from_secs(5),
            timeout: Duration::from_secs(1800),
        }
    }
}

/// What a successful deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployReport {
    /// Whether the stack changed (false: the change set had no changes).
    pub changed: bool,
    /// The stack's outputs, the API endpoint first.
    pub outputs: Vec<(String, String)>,
    /// The image given to each service (`service` -> URI).
    pub images: BTreeMap<String, String>,
}

/// One line of a change set's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    /// `Add`, `Modify`, `Remove`, ...
    pub action: String,
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub kind: String,
    /// `True`, `Conditional` or `False` when modified; empty otherwise.
    pub replacement: String,
}

/// Deploys `template` (the synthesized template of `stack`). See the module doc.
pub async fn deploy(
    clients: &Clients,
    stack: &Stack,
    template: &Value,
    options: &DeployOptions,
    console: &Console,
) -> Result<DeployReport, Error> {
    let name = options.stack_name.as_str();
    let mut existing = locate::describe(clients, name)
        .await?
        .filter(Deployed::is_created);
    if let Some(d) = &existing {
        check_usable(stack, d)?;
    }

    // Images first: a service built here needs its repository, which the stack owns;
    // on the first deploy the repositories are created alone, before anything runs.
    let slots = template::image_slots(template);
    let engine = if options.build && stack.services.values().any(|s| s.build.is_some()) {
        albless_docker::Engine::connect().await.ok()
    } else {
        None
    };
    let needs_repos = engine.is_some()
        && slots.iter().any(|s| {
            s.repository.is_some()
                && stack
                    .services
                    .get(&s.container)
                    .is_some_and(|svc| svc.build.is_some())
        });
    // An existing stack that lacks a repository gets it from this deploy; its image is
    // then pushed by the next one (until then the file's `image` is used).
    if needs_repos
        && existing.is_none()
        && let Some(boot) = template::bootstrap(template)
    {
        console.line(format!(
            "stack {name}: creating the image repositories first"
        ));
        apply(clients, name, &boot, &[], stack, false, options, console).await?;
        existing = locate::describe(clients, name).await?;
    }
    let images = resolve_images(
        clients,
        stack,
        &slots,
        existing.as_ref(),
        engine.as_ref(),
        console,
    )
    .await?;

    // The change set for the whole stack.
    let parameters: Vec<(String, String)> = slots
        .iter()
        .filter_map(|s| {
            images
                .get(&s.container)
                .map(|i| (s.parameter.clone(), i.clone()))
        })
        .collect();
    let required = template::required_parameters(template);
    if let Some(p) = required
        .iter()
        .find(|p| !parameters.iter().any(|(k, _)| k == *p))
    {
        return Err(Error::Template(format!(
            "parameter {p} has no value: give its service an `image`, or a `build` folder with Docker running"
        )));
    }
    let changed = apply(
        clients,
        name,
        template,
        &parameters,
        stack,
        existing.is_some(),
        options,
        console,
    )
    .await?;

    // The stack is done; ECS may still be rolling out, or may have failed and rolled back.
    let deployed = locate::require(clients, name).await?;
    rollout::wait(clients, &deployed, console, options.poll, options.timeout).await?;
    console.stop();
    Ok(DeployReport {
        changed,
        outputs: deployed.outputs,
        images,
    })
}

/// Refuses a stack that cannot take a change set, or one in another account.
fn check_usable(stack: &Stack, d: &Deployed) -> Result<(), Error> {
    if let (Some(expected), Some(actual)) = (&stack.aws.account_id, d.account())
        && expected != actual
    {
        return Err(Error::WrongAccount {
            expected: expected.clone(),
            actual: actual.to_string(),
        });
    }
    if d.status == "ROLLBACK_COMPLETE" || d.status.ends_with("_IN_PROGRESS") {
        return Err(Error::ChangeSet {
            name: d.name.clone(),
            reason: format!(
                "stack is {}{}",
                d.status,
                if d.status == "ROLLBACK_COMPLETE" {
                    " after a failed creation: run `albless aws destroy`, then deploy again"
                } else {
                    ": wait for it to finish"
                }
            ),
        });
    }
    Ok(())
}

/// The image of each service with an image slot: built and pushed, or from the file.
async fn resolve_images(
    clients: &Clients,
    stack: &Stack,
    slots: &[ImageSlot],
    deployed: Option<&Deployed>,
    engine: Option<&albless_docker::Engine>,
    console: &Console,
) -> Result<BTreeMap<String, String>, Error> {
    let mut images = BTreeMap::new();
    for slot in slots {
        let Some(service) = stack.services.get(&slot.container) else {
            continue;
        };
        let repository = slot.repository.as_deref().and_then(|logical| {
            deployed?
                .resources
                .iter()
                .find(|r| r.logical_id == logical)
                .map(|r| r.physical_id.clone())
        });
        let image = match (&service.build, engine, repository) {
            (Some(dir), Some(engine), Some(repo)) => {
                let uri = repository_uri(clients, &repo).await?;
                let dir = stack.dir.join(dir);
                crate::image::build_and_push(engine, clients, service, &dir, &uri, console).await?
            }
            _ => match &service.image {
                Some(image) => image.clone(),
                None => continue,
            },
        };
        images.insert(slot.container.clone(), image);
    }
    Ok(images)
}

/// The URI of ECR repository `name`.
async fn repository_uri(clients: &Clients, name: &str) -> Result<String, Error> {
    let out = clients
        .ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .map_err(|e| Error::api("ecr", "DescribeRepositories", e))?;
    out.repositories()
        .first()
        .and_then(|r| r.repository_uri())
        .map(str::to_string)
        .ok_or_else(|| Error::Template(format!("ECR repository {name} has no URI")))
}

/// Makes a change set of `template`, shows it, asks, executes it and follows the stack
/// to its end. `Ok(false)` when there was nothing to change.
#[allow(clippy::too_many_arguments)]
async fn apply(
    clients: &Clients,
    name: &str,
    template: &Value,
    parameters: &[(String, String)],
    stack: &Stack,
    exists: bool,
    options: &DeployOptions,
    console: &Console,
) -> Result<bool, Error> {
    let change_set = format!(
        "albless-{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    );
    let kind = if exists {
        ChangeSetType::Update
    } else {
        ChangeSetType::Create
    };
    let mut tags: Vec<Tag> = stack
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    tags.push(
        Tag::builder()
            .key("albless:stack")
            .value(&stack.name)
            .build(),
    );
    let body = serde_json::to_string(template).map_err(|e| Error::Template(e.to_string()))?;
    let request = match crate::bucket::stage(clients, name, body, console).await? {
        TemplateSource::Body(body) => clients.cfn.create_change_set().template_body(body),
        TemplateSource::Url(url) => clients.cfn.create_change_set().template_url(url),
    };
    let created = request
        .stack_name(name)
        .change_set_name(&change_set)
        .change_set_type(kind.clone())
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        ))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .set_tags(Some(tags))
        .send()
        .await;
    match created {
        Ok(_) => {}
        // CloudFormation itself accepts a change set that changes nothing and fails it
        // later (below); an emulator such as moto refuses it at once with UpdateStack's
        // message. Either way nothing changed, which is no error.
        Err(e)
            if e.as_service_error()
                .and_then(|e| e.message())
                .is_some_and(|m| m.contains("No updates are to be performed")) =>
        {
            console.line(format!("stack {name}: no changes"));
            return Ok(false);
        }
        Err(e) => return Err(Error::api("cloudformation", "CreateChangeSet", e)),
    }
    tracing::info!(stack = name, change_set = %change_set, kind = kind.as_str(), "change set created");

    // Wait for the change set to be computed.
    console.spin(format!("computing change set {change_set}"));
    let started = tokio::time::Instant::now();
    let changes = loop {
        let out = clients
            .cfn
            .describe_change_set()
            .stack_name(name)
            .change_set_name(&change_set)
            .send()
            .await
            .map_err(|e| Error::api("cloudformation", "DescribeChangeSet", e))?;
        match out.status() {
            Some(ChangeSetStatus::CreateComplete) => break summarize(&out),
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or_default().to_string();
                // CloudFormation fails a change set that changes nothing; that is no error.
                if reason.contains("didn't contain changes") || reason.contains("No updates") {
                    let _ = clients
                        .cfn
                        .delete_change_set()
                        .stack_name(name)
                        .change_set_name(&change_set)
                        .send()
                        .await;
                    console.line(format!("stack {name}: no changes"));
                    return Ok(false);
                }
                return Err(Error::ChangeSet {
                    name: change_set,
                    reason,
                });
            }
            _ => {}
        }
        if started.elapsed() > options.timeout {
            return Err(Error::TimedOut {
                what: format!("change set {change_set}"),
                elapsed: started.elapsed(),
            });
        }
        tokio::time::sleep(options.poll).await;
    };

    // Show it and ask.
    console.stop();
    console.line(format!(
        "change set {change_set} for stack {name} ({} change(s)):",
        changes.len()
    ));
    for c in &changes {
        let replace = match c.replacement.as_str() {
            "True" => "  (replaced)",
            "Conditional" => "  (may be replaced)",
            _ => "",
        };
        console.line(format!(
            "  {:<8} {:<40} {}{replace}",
            c.action, c.logical_id, c.kind
        ));
    }
    if let Err(e) = console.confirm("deploy", &format!("Apply these changes to stack {name}?")) {
        // A CREATE change set made the stack, empty, in REVIEW_IN_PROGRESS; left there,
        // the operating commands would find a stack with nothing in it. Deleting it (and
        // its change sets with it) leaves the account as it was.
        let cleaned = if exists {
            clients
                .cfn
                .delete_change_set()
                .stack_name(name)
                .change_set_name(&change_set)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::api("cloudformation", "DeleteChangeSet", e))
        } else {
            clients
                .cfn
                .delete_stack()
                .stack_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::api("cloudformation", "DeleteStack", e))
        };
        if let Err(cleanup) = cleaned {
            tracing::warn!(stack = name, change_set = %change_set, error = %cleanup, "declined change set not cleaned up");
        }
        return Err(e);
    }

    // Execute and follow the events to the end.
    let baseline = crate::events::seen(clients, name).await?;
    clients
        .cfn
        .execute_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .send()
        .await
        .map_err(|e| Error::api("cloudformation", "ExecuteChangeSet", e))?;
    let end = crate::events::follow(
        clients,
        name,
        baseline,
        console,
        options.poll,
        options.timeout,
    )
    .await?;
    end.into_result(name, &["CREATE_COMPLETE", "UPDATE_COMPLETE"])?;
    Ok(true)
}

/// The change set's resource changes.
fn summarize(
    out: &aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput,
) -> Vec<PlannedChange> {
    out.changes()
        .iter()
        .filter_map(|c| c.resource_change())
        .map(|r| PlannedChange {
            action: r
                .action()
                .map(ChangeAction::as_str)
                .unwrap_or("?")
                .to_string(),
            logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
            kind: r.resource_type().unwrap_or_default().to_string(),
            replacement: r
                .replacement()
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
        })
        .collect()
}
