//! What moto cannot do, with SDK responses mocked by aws-smithy-mocks: a stack that
//! rolls back (the failed resource and its reason reach the error), ECS's circuit
//! breaker failing a deployment (FAILED, and rolled back), Cloud Map instance health and
//! an INACTIVE VPC link in `status`, and the outputs with the endpoint first.

use std::time::{Duration, SystemTime};

use albless_aws::locate::{Deployed, Resource};
use albless_aws::{Clients, Console, DeployOptions, Error};
use aws_sdk_cloudformation::operation::describe_stack_events::{
    DescribeStackEventsError, DescribeStackEventsOutput,
};
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, Output, ResourceChange, ResourceStatus, Stack,
    StackEvent, StackResourceSummary, StackStatus,
};
use aws_sdk_ecs::types::{
    Deployment, DeploymentRolloutState, Service, ServiceEvent, ServiceRegistry,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_types::error::ErrorMetadata;

/// A client of SDK crate `$krate` answering only from `$rules`.
macro_rules! mocked {
    ($krate:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new("us-east-1"))
                .credentials_provider($krate::config::Credentials::new("a", "b", None, None, "t"))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }};
}

struct Rules {
    cfn: Vec<Rule>,
    ecs: Vec<Rule>,
    sd: Vec<Rule>,
    apigw: Vec<Rule>,
}

fn clients(r: &Rules) -> Clients {
    let none: Vec<Rule> = Vec::new();
    Clients {
        cfn: mocked!(aws_sdk_cloudformation, &r.cfn),
        ecs: mocked!(aws_sdk_ecs, &r.ecs),
        sd: mocked!(aws_sdk_servicediscovery, &r.sd),
        apigw: mocked!(aws_sdk_apigatewayv2, &r.apigw),
        ecr: mocked!(aws_sdk_ecr, &none),
        logs: mocked!(aws_sdk_cloudwatchlogs, &none),
        s3: mocked!(aws_sdk_s3, &none),
        sts: mocked!(aws_sdk_sts, &none),
        region: "us-east-1".into(),
    }
}

fn missing() -> ErrorMetadata {
    ErrorMetadata::builder()
        .code("ValidationError")
        .message("Stack with id hello does not exist")
        .build()
}

fn event(id: &str, logical: &str, kind: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    StackEvent::builder()
        .event_id(id)
        .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/hello/1")
        .stack_name("hello")
        .logical_resource_id(logical)
        .resource_type(kind)
        .resource_status(status)
        .resource_status_reason(reason)
        .timestamp(aws_smithy_types::DateTime::from(SystemTime::now()))
        .build()
}

fn stack(status: StackStatus) -> DescribeStacksOutput {
    DescribeStacksOutput::builder()
        .stacks(
            Stack::builder()
                .stack_name("hello")
                .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/hello/1")
                .stack_status(status)
                .outputs(
                    Output::builder()
                        .output_key("ClusterName")
                        .output_value("hello")
                        .build(),
                )
                .outputs(
                    Output::builder()
                        .output_key("ApiEndpoint")
                        .output_value("https://abc.execute-api.us-east-1.amazonaws.com")
                        .build(),
                )
                .creation_time(aws_smithy_types::DateTime::from_secs(0))
                .build(),
        )
        .build()
}

fn stack_file() -> (tempfile::TempDir, albless_spec::Stack) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("albless.toml");
    std::fs::write(
        &path,
        "version = 1\n[stack]\nname = \"hello\"\nregion = \"us-east-1\"\n\
         [api.routes]\n\"$default\" = { service = \"backend\" }\n\
         [services.backend]\ncommand = [\"x\"]\nimage = \"nginx:1\"\nport = 80\n",
    )
    .unwrap();
    let stack = albless_spec::load(&path).map_err(|e| e.render()).unwrap();
    (dir, stack)
}

fn template() -> serde_json::Value {
    serde_json::json!({
        "Parameters": {"BackendImage": {"Type": "String"}},
        "Resources": {
            "Cluster": {"Type": "AWS::ECS::Cluster"},
            "BackendTaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "ContainerDefinitions": [{"Name": "backend", "Image": {"Ref": "BackendImage"}}]}},
            "BackendService": {"Type": "AWS::ECS::Service"}
        }
    })
}

fn fast(name: &str) -> DeployOptions {
    DeployOptions {
        poll: Duration::from_millis(1),
        timeout: Duration::from_secs(10),
        ..DeployOptions::new(name)
    }
}

#[tokio::test]
async fn a_rollback_fails_the_deploy_naming_the_resource_and_reason() {
    let reason = "Resource handler returned message: \"Error occurred during operation \
                  'ECS Deployment Circuit Breaker was triggered'.\"";
    let r = Rules {
        cfn: vec![
            mock!(aws_sdk_cloudformation::Client::describe_stacks)
                .sequence()
                .error(|| DescribeStacksError::generic(missing()))
                .output(|| stack(StackStatus::CreateInProgress))
                .output(|| stack(StackStatus::RollbackComplete))
                .repeatedly()
                .build(),
            mock!(aws_sdk_cloudformation::Client::create_change_set)
                .then_output(|| {
                    aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput::builder()
                        .id("cs")
                        .build()
                }),
            mock!(aws_sdk_cloudformation::Client::describe_change_set).then_output(|| {
                aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput::builder()
                    .status(ChangeSetStatus::CreateComplete)
                    .changes(
                        Change::builder()
                            .resource_change(
                                ResourceChange::builder()
                                    .action(ChangeAction::Add)
                                    .logical_resource_id("BackendService")
                                    .resource_type("AWS::ECS::Service")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            }),
            mock!(aws_sdk_cloudformation::Client::execute_change_set).then_output(|| {
                aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput::builder().build()
            }),
            mock!(aws_sdk_cloudformation::Client::describe_stack_events)
                .sequence()
                .error(|| DescribeStackEventsError::generic(missing()))
                .output(move || {
                    // Newest first, as CloudFormation lists them.
                    DescribeStackEventsOutput::builder()
                        .stack_events(event("5", "hello", "AWS::CloudFormation::Stack", ResourceStatus::RollbackComplete, ""))
                        .stack_events(event("4", "Cluster", "AWS::ECS::Cluster", ResourceStatus::DeleteComplete, ""))
                        .stack_events(event("3", "Cluster", "AWS::ECS::Cluster", ResourceStatus::CreateFailed, "Resource creation cancelled"))
                        .stack_events(event("2", "BackendService", "AWS::ECS::Service", ResourceStatus::CreateFailed, reason))
                        .stack_events(event("1", "hello", "AWS::CloudFormation::Stack", ResourceStatus::CreateInProgress, "User Initiated"))
                        .build()
                })
                .repeatedly()
                .build(),
        ],
        ecs: vec![],
        sd: vec![],
        apigw: vec![],
    };
    let clients = clients(&r);
    let (_dir, file) = stack_file();
    let err = albless_aws::deploy(
        &clients,
        &file,
        &template(),
        &fast("hello"),
        &Console::new(true),
    )
    .await
    .unwrap_err();
    match &err {
        Error::Rollback {
            status,
            resource,
            reason: why,
            ..
        } => {
            assert_eq!(status, "ROLLBACK_COMPLETE");
            assert_eq!(
                resource, "BackendService",
                "the cause, not the cancelled cluster"
            );
            assert!(why.contains("Circuit Breaker"), "{why}");
        }
        other => panic!("expected a rollback, got {other}"),
    }
    assert!(err.to_string().contains("BackendService"), "{err}");
}

fn deployed() -> Deployed {
    Deployed {
        name: "hello".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/hello/1".into(),
        status: "UPDATE_COMPLETE".into(),
        outputs: vec![(
            "ApiEndpoint".into(),
            "https://abc.execute-api.us-east-1.amazonaws.com".into(),
        )],
        resources: vec![
            Resource {
                logical_id: "Cluster".into(),
                physical_id: "hello".into(),
                kind: "AWS::ECS::Cluster".into(),
                status: "CREATE_COMPLETE".into(),
            },
            Resource {
                logical_id: "BackendService".into(),
                physical_id: "arn:aws:ecs:us-east-1:123456789012:service/hello/backend".into(),
                kind: "AWS::ECS::Service".into(),
                status: "UPDATE_COMPLETE".into(),
            },
        ],
        ..Deployed::default()
    }
}

fn service(deployment: Deployment, events: Vec<ServiceEvent>) -> Service {
    Service::builder()
        .service_name("backend")
        .service_arn("arn:aws:ecs:us-east-1:123456789012:service/hello/backend")
        .desired_count(1)
        .running_count(1)
        .deployments(deployment)
        .set_events(Some(events))
        .service_registries(
            ServiceRegistry::builder()
                .registry_arn("arn:aws:servicediscovery:us-east-1:123456789012:service/srv-1")
                .build(),
        )
        .build()
}

fn ecs_answering(svc: Service) -> Vec<Rule> {
    vec![
        mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
            aws_sdk_ecs::operation::describe_services::DescribeServicesOutput::builder()
                .services(svc.clone())
                .build()
        }),
    ]
}

#[tokio::test]
async fn a_failed_rollout_is_a_failure() {
    let failed = Deployment::builder()
        .id("ecs-svc/2")
        .status("PRIMARY")
        .rollout_state(DeploymentRolloutState::Failed)
        .rollout_state_reason("ECS deployment circuit breaker: tasks failed to start.")
        .build();
    let r = Rules {
        cfn: vec![],
        ecs: ecs_answering(service(failed, vec![])),
        sd: vec![],
        apigw: vec![],
    };
    let err = albless_aws::rollout::wait(
        &clients(&r),
        &deployed(),
        &Console::new(true),
        Duration::from_millis(1),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    match err {
        Error::RolloutFailed {
            service,
            deployment,
            reason,
        } => {
            assert_eq!(service, "backend");
            assert_eq!(deployment, "ecs-svc/2");
            assert!(reason.contains("circuit breaker"), "{reason}");
        }
        other => panic!("expected a failed rollout, got {other}"),
    }
}

#[tokio::test]
async fn a_rolled_back_rollout_is_a_failure_even_when_the_rollback_completed() {
    // After a rollback ECS shows only the old deployment, COMPLETED; the events tell.
    let rolled_back = Deployment::builder()
        .id("ecs-svc/1")
        .status("PRIMARY")
        .rollout_state(DeploymentRolloutState::Completed)
        .build();
    let event = ServiceEvent::builder()
        .message("(service backend) (deployment ecs-svc/2) deployment failed: tasks failed to start. rolling back to deployment ecs-svc/1.")
        .created_at(aws_smithy_types::DateTime::from(SystemTime::now()))
        .build();
    let r = Rules {
        cfn: vec![],
        ecs: ecs_answering(service(rolled_back, vec![event])),
        sd: vec![],
        apigw: vec![],
    };
    let err = albless_aws::rollout::wait(
        &clients(&r),
        &deployed(),
        &Console::new(true),
        Duration::from_millis(1),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::RolloutFailed { .. }), "{err}");
    assert!(err.to_string().contains("rolling back"), "{err}");
}

#[tokio::test]
async fn status_shows_cloud_map_health_and_warns_of_an_inactive_vpc_link() {
    let completed = Deployment::builder()
        .id("ecs-svc/1")
        .status("PRIMARY")
        .rollout_state(DeploymentRolloutState::Completed)
        .build();
    let r = Rules {
        cfn: vec![
            mock!(aws_sdk_cloudformation::Client::describe_stacks)
                .then_output(|| stack(StackStatus::UpdateComplete)),
            mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_output(|| {
                let summary = |logical: &str, physical: &str, kind: &str| {
                    StackResourceSummary::builder()
                        .logical_resource_id(logical)
                        .physical_resource_id(physical)
                        .resource_type(kind)
                        .resource_status(ResourceStatus::CreateComplete)
                        .last_updated_timestamp(aws_smithy_types::DateTime::from_secs(0))
                        .build()
                };
                aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput::builder()
                    .stack_resource_summaries(summary("Cluster", "hello", "AWS::ECS::Cluster"))
                    .stack_resource_summaries(summary(
                        "BackendService",
                        "arn:aws:ecs:us-east-1:123456789012:service/hello/backend",
                        "AWS::ECS::Service",
                    ))
                    .stack_resource_summaries(summary("VpcLink", "vl-1", "AWS::ApiGatewayV2::VpcLink"))
                    .build()
            }),
        ],
        ecs: ecs_answering(service(completed, vec![])),
        sd: vec![
            mock!(aws_sdk_servicediscovery::Client::get_instances_health_status)
                .match_requests(|r| r.service_id() == Some("srv-1"))
                .then_output(|| {
                    use aws_sdk_servicediscovery::types::HealthStatus;
                    aws_sdk_servicediscovery::operation::get_instances_health_status::GetInstancesHealthStatusOutput::builder()
                        .status("task-b", HealthStatus::Unhealthy)
                        .status("task-a", HealthStatus::Healthy)
                        .build()
                }),
        ],
        apigw: vec![mock!(aws_sdk_apigatewayv2::Client::get_vpc_link).then_output(|| {
            aws_sdk_apigatewayv2::operation::get_vpc_link::GetVpcLinkOutput::builder()
                .vpc_link_id("vl-1")
                .vpc_link_status(aws_sdk_apigatewayv2::types::VpcLinkStatus::Inactive)
                .vpc_link_status_message("VPC link is inactive after 60 days without traffic")
                .build()
        })],
    };
    let report = albless_aws::ops::status(&clients(&r), "hello")
        .await
        .expect("status");
    assert_eq!(
        report.endpoint.as_deref(),
        Some("https://abc.execute-api.us-east-1.amazonaws.com")
    );
    let health: Vec<(&str, &str)> = report.services[0]
        .instances
        .iter()
        .map(|i| (i.id.as_str(), i.health.as_str()))
        .collect();
    assert_eq!(health, [("task-a", "HEALTHY"), ("task-b", "UNHEALTHY")]);
    assert_eq!(report.vpc_links[0].status, "INACTIVE");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("vl-1") && w.contains("INACTIVE")),
        "{:?}",
        report.warnings
    );
}

#[tokio::test]
async fn outputs_put_the_endpoint_first() {
    let r = Rules {
        cfn: vec![
            mock!(aws_sdk_cloudformation::Client::describe_stacks)
                .then_output(|| stack(StackStatus::CreateComplete)),
            mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_output(|| {
                aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput::builder().build()
            }),
        ],
        ecs: vec![],
        sd: vec![],
        apigw: vec![],
    };
    let d = albless_aws::locate::require(&clients(&r), "hello")
        .await
        .unwrap();
    assert_eq!(d.outputs[0].0, "ApiEndpoint");
    assert_eq!(d.account(), Some("123456789012"));
}

#[tokio::test]
async fn a_stack_left_in_review_by_a_declined_deploy_is_created_by_the_next() {
    // A first deploy that was declined (or failed before execution) leaves the stack in
    // REVIEW_IN_PROGRESS with no resources. It never leaves that state by itself and takes
    // no UPDATE change set: the next deploy must make a CREATE one. The create rule
    // matches CREATE only, so an UPDATE finds no answer and fails the deploy.
    use aws_sdk_cloudformation::operation as op;
    let r = Rules {
        cfn: vec![
            mock!(aws_sdk_cloudformation::Client::describe_stacks)
                .sequence()
                .output(|| stack(StackStatus::ReviewInProgress))
                .output(|| stack(StackStatus::CreateComplete))
                .repeatedly()
                .build(),
            mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_output(|| {
                op::list_stack_resources::ListStackResourcesOutput::builder().build()
            }),
            mock!(aws_sdk_cloudformation::Client::create_change_set)
                .match_requests(|r| {
                    r.change_set_type()
                        == Some(&aws_sdk_cloudformation::types::ChangeSetType::Create)
                })
                .then_output(|| {
                    op::create_change_set::CreateChangeSetOutput::builder()
                        .id("cs")
                        .build()
                }),
            mock!(aws_sdk_cloudformation::Client::describe_change_set).then_output(|| {
                op::describe_change_set::DescribeChangeSetOutput::builder()
                    .status(ChangeSetStatus::CreateComplete)
                    .build()
            }),
            mock!(aws_sdk_cloudformation::Client::execute_change_set)
                .then_output(|| op::execute_change_set::ExecuteChangeSetOutput::builder().build()),
            mock!(aws_sdk_cloudformation::Client::describe_stack_events)
                .then_output(|| DescribeStackEventsOutput::builder().build()),
        ],
        ecs: vec![],
        sd: vec![],
        apigw: vec![],
    };
    let (_dir, file) = stack_file();
    let report = albless_aws::deploy(
        &clients(&r),
        &file,
        &template(),
        &fast("hello"),
        &Console::new(true),
    )
    .await
    .expect("deploy creates the stack left in review");
    assert!(report.changed);
}

#[tokio::test]
async fn a_destroy_retried_after_a_failed_deletion_skips_repositories_already_gone() {
    // DELETE_FAILED: CloudFormation deleted the ECR repository but not everything else;
    // the repository is still listed among the stack's resources. The retry must not
    // stop at ECR's RepositoryNotFoundException.
    use aws_sdk_cloudformation::operation as op;
    let r = Rules {
        cfn: vec![
            mock!(aws_sdk_cloudformation::Client::describe_stacks)
                .sequence()
                .output(|| stack(StackStatus::DeleteFailed))
                .error(|| DescribeStacksError::generic(missing()))
                .repeatedly()
                .build(),
            mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_output(|| {
                op::list_stack_resources::ListStackResourcesOutput::builder()
                    .stack_resource_summaries(
                        StackResourceSummary::builder()
                            .logical_resource_id("BackendRepository")
                            .physical_resource_id("hello-backend")
                            .resource_type("AWS::ECR::Repository")
                            .resource_status(ResourceStatus::DeleteComplete)
                            .last_updated_timestamp(aws_smithy_types::DateTime::from_secs(0))
                            .build(),
                    )
                    .build()
            }),
            mock!(aws_sdk_cloudformation::Client::describe_stack_events)
                .then_output(|| DescribeStackEventsOutput::builder().build()),
            mock!(aws_sdk_cloudformation::Client::delete_stack)
                .then_output(|| op::delete_stack::DeleteStackOutput::builder().build()),
        ],
        ecs: vec![],
        sd: vec![],
        apigw: vec![],
    };
    let mut clients = clients(&r);
    clients.ecr = mocked!(
        aws_sdk_ecr,
        &[mock!(aws_sdk_ecr::Client::list_images).then_error(|| {
            aws_sdk_ecr::operation::list_images::ListImagesError::generic(
                ErrorMetadata::builder()
                    .code("RepositoryNotFoundException")
                    .message("The repository with name 'hello-backend' does not exist")
                    .build(),
            )
        })]
    );
    // No S3 permission: the uploaded templates stay, which destroy reports and gets past.
    clients.sts = mocked!(
        aws_sdk_sts,
        &[
            mock!(aws_sdk_sts::Client::get_caller_identity).then_error(|| {
                aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError::generic(
                    ErrorMetadata::builder().code("AccessDenied").build(),
                )
            })
        ]
    );
    let waits = albless_aws::ops::Waits {
        poll: Duration::from_millis(1),
        timeout: Duration::from_secs(10),
    };
    albless_aws::ops::destroy(&clients, "hello", waits, &Console::new(true))
        .await
        .expect("the retry deletes the stack");
}

#[tokio::test]
async fn a_burst_of_events_longer_than_a_page_is_followed_to_its_first_failure() {
    // Between two polls the stack wrote more events than one DescribeStackEvents page
    // holds. The first failure is on the second page (events come newest first), just
    // before the events seen before the operation; the first page holds only the
    // cancellations that followed it, which are never the cause.
    let page_one = || {
        let mut out = DescribeStackEventsOutput::builder().next_token("page-2");
        for i in 0..100 {
            out = out.stack_events(event(
                &format!("new-{i}"),
                &format!("Resource{i}"),
                "AWS::SQS::Queue",
                ResourceStatus::CreateFailed,
                "Resource creation cancelled",
            ));
        }
        out.build()
    };
    let page_two = || {
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                "cause",
                "Topic",
                "AWS::SNS::Topic",
                ResourceStatus::CreateFailed,
                "Topic name already taken",
            ))
            .stack_events(event(
                "old",
                "hello",
                "AWS::CloudFormation::Stack",
                ResourceStatus::UpdateComplete,
                "",
            ))
            .next_token("page-3")
            .build()
    };
    let r = Rules {
        cfn: vec![
            mock!(aws_sdk_cloudformation::Client::describe_stack_events)
                .match_requests(|r| r.next_token().is_none())
                .then_output(page_one),
            mock!(aws_sdk_cloudformation::Client::describe_stack_events)
                .match_requests(|r| r.next_token() == Some("page-2"))
                .then_output(page_two),
            mock!(aws_sdk_cloudformation::Client::describe_stacks)
                .then_output(|| stack(StackStatus::UpdateRollbackComplete)),
        ],
        ecs: vec![],
        sd: vec![],
        apigw: vec![],
    };
    let seen = std::collections::HashSet::from(["old".to_string()]);
    let end = albless_aws::events::follow(
        &clients(&r),
        "hello",
        seen,
        &Console::new(true),
        Duration::from_millis(1),
        Duration::from_secs(5),
    )
    .await
    .expect("the operation is followed to its end");
    assert_eq!(end.status, "UPDATE_ROLLBACK_COMPLETE");
    let failure = end
        .failure
        .expect("the failure on the second page is found");
    assert_eq!(failure.resource, "Topic");
    assert_eq!(failure.reason, "Topic name already taken");
}
