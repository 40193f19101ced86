//! The cluster, the Cloud Map namespace, and per service: image parameter, ECR repository,
//! log group, roles, task definition, Cloud Map service, security group and its rules,
//! ECS service, and scheduled scaling.
//!
//! Known limits: the execution role can pull only from the ECR repository the file names
//! (`build`, or an ECR `image`); an image parameter overridden at deploy time to another
//! private repository needs a wider policy. The HTTP health check assumes the image has
//! `wget` (busybox, Alpine, Debian) or `curl`: see [`health_check`].

use albless_spec::{
    Arch, HealthCheck, HealthCheckKind, ScheduleExpr, ScheduledAction, Service, Stack,
};

use crate::Builder;
use crate::ids;
use crate::network::{LINK_SG, Net, named};
use crate::node::{Node, Obj, get_att, join, reference, sub, tag_list};

/// Id of the cluster.
pub(crate) const CLUSTER: &str = "Cluster";
/// Id of the capacity provider association.
const CLUSTER_PROVIDERS: &str = "ClusterCapacityProviders";
/// Id of the Cloud Map namespace.
pub(crate) const NAMESPACE: &str = "Namespace";

/// What the API needs from a service.
pub(crate) struct Built {
    /// The service name.
    pub(crate) name: String,
    /// Its id stem.
    pub(crate) id: String,
}

impl Built {
    /// Id of its Cloud Map service.
    pub(crate) fn discovery(&self) -> String {
        format!("{}DiscoveryService", self.id)
    }
}

/// Cluster with both Fargate providers (section 4.6: a strategy can only name providers
/// associated with the cluster), and the private DNS namespace.
pub(crate) fn cluster(t: &mut Builder, stack: &Stack, net: &Net) {
    let cluster = Obj::new()
        .set("ClusterName", stack.name.as_str())
        .opt("Tags", tag_list(&t.tags));
    t.resource(CLUSTER, "AWS::ECS::Cluster", cluster, &[]);
    let providers = Obj::new()
        .set("CapacityProviders", vec!["FARGATE", "FARGATE_SPOT"])
        .set("Cluster", reference(CLUSTER))
        .set(
            "DefaultCapacityProviderStrategy",
            vec![
                Obj::new()
                    .set("CapacityProvider", "FARGATE")
                    .set("Weight", 1u32),
            ],
        );
    t.resource(
        CLUSTER_PROVIDERS,
        "AWS::ECS::ClusterCapacityProviderAssociations",
        providers,
        &[],
    );
    let namespace = Obj::new()
        .set(
            "Description",
            format!("service discovery of stack {}", stack.name),
        )
        .set("Name", stack.discovery.namespace.as_str())
        .set("Vpc", net.vpc.clone())
        .opt("Tags", tag_list(&t.tags));
    t.resource(
        NAMESPACE,
        "AWS::ServiceDiscovery::PrivateDnsNamespace",
        namespace,
        &[],
    );
}

/// Every resource of one service.
pub(crate) fn service(t: &mut Builder, stack: &Stack, net: &Net, service: &Service) -> Built {
    let id = ids::service(&service.name);
    let name = &service.name;
    let tags = t.tags.clone();

    // The image, a parameter so a deploy can pass a new tag without editing the template.
    let image = format!("{id}Image");
    t.parameter(
        &image,
        &format!("Container image of service {name}"),
        service.image.as_deref(),
    );

    // What the execution role must allow: pulling from ECR, writing logs.
    let mut exec_statements: Vec<Node> = Vec::new();
    let repository = format!("{id}Repository");
    let ecr_arn = if service.build.is_some() {
        t.resource(
            &repository,
            "AWS::ECR::Repository",
            repository_props(stack, service, &tags),
            &[],
        );
        Some(get_att(&repository, "Arn"))
    } else {
        service.image.as_deref().and_then(ecr_repository_arn)
    };
    if let Some(arn) = ecr_arn {
        exec_statements.push(
            Obj::new()
                .set("Action", "ecr:GetAuthorizationToken")
                .set("Effect", "Allow")
                .set("Resource", "*")
                .into(),
        );
        exec_statements.push(
            Obj::new()
                .set(
                    "Action",
                    vec![
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                )
                .set("Effect", "Allow")
                .set("Resource", arn)
                .into(),
        );
    }
    let log_group = format!("{id}LogGroup");
    if let Some(logging) = &service.logging {
        let group = Obj::new()
            .set("RetentionInDays", logging.retention_days)
            .opt("Tags", tag_list(&tags));
        t.resource(&log_group, "AWS::Logs::LogGroup", group, &[]);
        exec_statements.push(
            Obj::new()
                .set("Action", vec!["logs:CreateLogStream", "logs:PutLogEvents"])
                .set("Effect", "Allow")
                .set("Resource", get_att(&log_group, "Arn"))
                .into(),
        );
    }

    // Roles: the task role has no permission (the app gets what it is granted later); the
    // execution role exists only when ECS needs one, and allows only what it uses.
    let task_role = format!("{id}TaskRole");
    t.resource(&task_role, "AWS::IAM::Role", role_props(&tags), &[]);
    let exec_role = format!("{id}ExecutionRole");
    let exec_policy = format!("{id}ExecutionPolicy");
    let has_exec = !exec_statements.is_empty();
    if has_exec {
        t.resource(&exec_role, "AWS::IAM::Role", role_props(&tags), &[]);
        let policy = Obj::new()
            .set(
                "PolicyDocument",
                Obj::new()
                    .set("Statement", exec_statements)
                    .set("Version", "2012-10-17"),
            )
            .set("PolicyName", exec_policy.as_str())
            .set("Roles", vec![reference(&exec_role)]);
        t.resource(&exec_policy, "AWS::IAM::Policy", policy, &[]);
    }

    // The task definition: one container, named after the service.
    let container = Obj::new()
        .set("Essential", true)
        .set("Image", reference(&image))
        .set("Name", name.as_str())
        .set(
            "PortMappings",
            vec![
                Obj::new()
                    .set("ContainerPort", service.port)
                    .set("Protocol", "tcp"),
            ],
        )
        .opt(
            "Environment",
            (!service.environment.is_empty()).then(|| {
                service
                    .environment
                    .iter()
                    .map(|(k, v)| Obj::new().set("Name", k).set("Value", v))
                    .collect::<Vec<_>>()
            }),
        )
        .opt(
            "HealthCheck",
            service
                .health_check
                .as_ref()
                .map(|h| health_check(h, service.port)),
        )
        .opt(
            "LogConfiguration",
            service.logging.as_ref().map(|_| {
                Obj::new().set("LogDriver", "awslogs").set(
                    "Options",
                    Obj::new()
                        .set("awslogs-group", reference(&log_group))
                        .set("awslogs-region", reference("AWS::Region"))
                        .set("awslogs-stream-prefix", name.as_str()),
                )
            }),
        )
        .set("StopTimeout", service.stop_timeout.as_secs());
    let task_def_id = format!("{id}TaskDefinition");
    let task_def = Obj::new()
        .set("ContainerDefinitions", vec![container])
        .set("Cpu", service.cpu.to_string())
        .opt(
            "ExecutionRoleArn",
            has_exec.then(|| get_att(&exec_role, "Arn")),
        )
        .set("Family", format!("{}-{name}", stack.name))
        .set("Memory", service.memory.to_string())
        .set("NetworkMode", "awsvpc")
        .set("RequiresCompatibilities", vec!["FARGATE"])
        .set(
            "RuntimePlatform",
            Obj::new()
                .set(
                    "CpuArchitecture",
                    match service.arch {
                        Arch::Arm64 => "ARM64",
                        Arch::X86_64 => "X86_64",
                    },
                )
                .set("OperatingSystemFamily", "LINUX"),
        )
        .set("TaskRoleArn", get_att(&task_role, "Arn"))
        .opt("Tags", tag_list(&tags));
    t.resource(&task_def_id, "AWS::ECS::TaskDefinition", task_def, &[]);

    // Cloud Map: always SRV and a custom health check, whatever `[discovery]` asks for
    // locally (sections 2.1, 3.2; `albless validate` warns). Cloud Map adds an A record
    // for each SRV target itself, so `SRV+A` needs nothing more.
    let built = Built {
        name: name.clone(),
        id: id.clone(),
    };
    let discovery = Obj::new()
        .set(
            "Description",
            format!("ECS service {name} of stack {}", stack.name),
        )
        .set(
            "DnsConfig",
            Obj::new()
                .set(
                    "DnsRecords",
                    vec![
                        Obj::new()
                            .set("TTL", stack.discovery.ttl)
                            .set("Type", "SRV"),
                    ],
                )
                .set("RoutingPolicy", "MULTIVALUE"),
        )
        .set(
            "HealthCheckCustomConfig",
            Obj::new().set("FailureThreshold", 1u32),
        )
        .set("Name", name.as_str())
        .set("NamespaceId", get_att(NAMESPACE, "Id"))
        .opt("Tags", tag_list(&tags));
    t.resource(
        &built.discovery(),
        "AWS::ServiceDiscovery::Service",
        discovery,
        &[],
    );

    // The tasks' group admits the VPC link's group on the container port, nothing else;
    // the link's group may reach this group on that port only.
    let task_sg = format!("{id}TaskSecurityGroup");
    let sg = Obj::new()
        .set(
            "GroupDescription",
            format!(
                "{}: tasks of {name}; ingress only from the VPC link",
                stack.name
            ),
        )
        .set(
            "SecurityGroupEgress",
            vec![
                Obj::new()
                    .set("CidrIp", "0.0.0.0/0")
                    .set("Description", "Image pulls and whatever the service calls")
                    .set("IpProtocol", "-1"),
            ],
        )
        .set("VpcId", net.vpc.clone())
        .opt(
            "Tags",
            tag_list(&named(&tags, &format!("{}/{name}", stack.name))),
        );
    t.resource(&task_sg, "AWS::EC2::SecurityGroup", sg, &[]);
    let ingress = Obj::new()
        .set(
            "Description",
            format!("from the VPC link to {name}:{}", service.port),
        )
        .set("FromPort", service.port)
        .set("GroupId", get_att(&task_sg, "GroupId"))
        .set("IpProtocol", "tcp")
        .set("SourceSecurityGroupId", get_att(LINK_SG, "GroupId"))
        .set("ToPort", service.port);
    t.resource(
        &format!("{id}IngressFromVpcLink"),
        "AWS::EC2::SecurityGroupIngress",
        ingress,
        &[],
    );
    let egress = Obj::new()
        .set("Description", format!("to {name}:{}", service.port))
        .set("DestinationSecurityGroupId", get_att(&task_sg, "GroupId"))
        .set("FromPort", service.port)
        .set("GroupId", get_att(LINK_SG, "GroupId"))
        .set("IpProtocol", "tcp")
        .set("ToPort", service.port);
    t.resource(
        &format!("{id}VpcLinkEgress"),
        "AWS::EC2::SecurityGroupEgress",
        egress,
        &[],
    );

    // The ECS service.
    let (min_healthy, max_percent) = deployment_bounds(service);
    let strategy: Vec<Node> = service
        .capacity
        .iter()
        .map(|item| {
            Obj::new()
                .opt("Base", (item.base > 0).then_some(item.base))
                .set("CapacityProvider", item.provider.name())
                .set("Weight", item.weight)
                .into()
        })
        .collect();
    let ecs_service_id = format!("{id}EcsService");
    let ecs_service = Obj::new()
        .set("CapacityProviderStrategy", strategy)
        .set("Cluster", reference(CLUSTER))
        .set(
            "DeploymentConfiguration",
            Obj::new()
                .set(
                    "DeploymentCircuitBreaker",
                    Obj::new()
                        .set("Enable", service.circuit_breaker.enable)
                        .set(
                            "Rollback",
                            service.circuit_breaker.enable && service.circuit_breaker.rollback,
                        ),
                )
                .set("MaximumPercent", max_percent)
                .set("MinimumHealthyPercent", min_healthy),
        )
        .set("DeploymentController", Obj::new().set("Type", "ECS"))
        .set("DesiredCount", service.desired_count)
        .set("EnableECSManagedTags", true)
        .set(
            "NetworkConfiguration",
            Obj::new().set(
                "AwsvpcConfiguration",
                Obj::new()
                    .set(
                        "AssignPublicIp",
                        if stack.network.assign_public_ip {
                            "ENABLED"
                        } else {
                            "DISABLED"
                        },
                    )
                    .set("SecurityGroups", vec![get_att(&task_sg, "GroupId")])
                    .set("Subnets", net.subnets.clone()),
            ),
        )
        .set("PropagateTags", "SERVICE")
        .set("ServiceName", name.as_str())
        .set(
            "ServiceRegistries",
            vec![
                Obj::new()
                    .set("ContainerName", name.as_str())
                    .set("ContainerPort", service.port)
                    .set("RegistryArn", get_att(&built.discovery(), "Arn")),
            ],
        )
        .opt("Tags", tag_list(&tags))
        .set("TaskDefinition", reference(&task_def_id));
    // A strategy may only name providers already associated with the cluster; the
    // execution role's policy must exist before the first task pulls its image.
    let mut after = vec![CLUSTER_PROVIDERS.to_owned()];
    if has_exec {
        after.push(exec_policy);
    }
    t.resource(&ecs_service_id, "AWS::ECS::Service", ecs_service, &after);

    if !service.schedule.is_empty() {
        scaling(t, service, &id, &ecs_service_id);
    }
    built
}

/// Application Auto Scaling target with the scheduled actions (section 4.7). The target's
/// own bounds span the desired count and every action's bounds, so registering it clamps
/// nothing; the actions then move them.
fn scaling(t: &mut Builder, service: &Service, id: &str, ecs_service: &str) {
    let desired = service.desired_count;
    let max = service
        .schedule
        .iter()
        .flat_map(|a| [a.min_capacity, a.max_capacity])
        .flatten()
        .fold(desired, u32::max);
    let min = service
        .schedule
        .iter()
        .flat_map(|a| [a.min_capacity, a.max_capacity])
        .flatten()
        .fold(desired, u32::min);
    let actions: Vec<Node> = service.schedule.iter().map(scheduled_action).collect();
    let target = Obj::new()
        .set("MaxCapacity", max)
        .set("MinCapacity", min)
        .set(
            "ResourceId",
            join(
                "/",
                vec![
                    "service".into(),
                    reference(CLUSTER),
                    get_att(ecs_service, "Name"),
                ],
            ),
        )
        .set("ScalableDimension", "ecs:service:DesiredCount")
        .set("ScheduledActions", actions)
        .set("ServiceNamespace", "ecs");
    t.resource(
        &format!("{id}ScalableTarget"),
        "AWS::ApplicationAutoScaling::ScalableTarget",
        target,
        &[],
    );
}

/// One scheduled action, its schedule in Application Auto Scaling's syntax.
fn scheduled_action(action: &ScheduledAction) -> Node {
    let bounds = Obj::new()
        .opt("MaxCapacity", action.max_capacity)
        .opt("MinCapacity", action.min_capacity);
    Obj::new()
        .set("ScalableTargetAction", bounds)
        .set("Schedule", schedule_text(&action.schedule))
        .set("ScheduledActionName", action.name.as_str())
        // The zone applies to `at` and `cron` only (section 4.7); a rate has none.
        .opt(
            "Timezone",
            (!matches!(action.schedule, ScheduleExpr::Rate(_))).then(|| action.timezone.name()),
        )
        .into()
}

/// `cron(...)`, `at(yyyy-mm-ddThh:mm:ss)` or `rate(N unit)`, in the largest whole unit.
pub(crate) fn schedule_text(expr: &ScheduleExpr) -> String {
    match expr {
        ScheduleExpr::Cron(cron) => cron.to_string(),
        ScheduleExpr::At(at) => format!("at({})", at.format("%Y-%m-%dT%H:%M:%S")),
        ScheduleExpr::Rate(every) => {
            let minutes = (every.as_secs() / 60).max(1);
            let (n, unit) = if minutes % 1440 == 0 {
                (minutes / 1440, "day")
            } else if minutes % 60 == 0 {
                (minutes / 60, "hour")
            } else {
                (minutes, "minute")
            };
            let plural = if n == 1 { "" } else { "s" };
            format!("rate({n} {unit}{plural})")
        }
    }
}

/// The deployment bounds sent to ECS. `min_healthy_percent = 0` with running tasks would
/// let ECS stop every task before a replacement is healthy (section 4.4), so it becomes
/// 100, with a maximum that leaves room for at least one extra task.
pub(crate) fn deployment_bounds(service: &Service) -> (u32, u32) {
    let desired = service.desired_count;
    if service.min_healthy_percent > 0 || desired == 0 {
        return (service.min_healthy_percent, service.max_percent);
    }
    // floor(desired * max / 100) must exceed desired.
    let room = desired * service.max_percent / 100 > desired;
    (100, if room { service.max_percent } else { 200 })
}

/// The container health check. An HTTP check becomes a shell command: `wget` (present in
/// busybox, so in Alpine and most slim images) or else `curl`, against 127.0.0.1 (not
/// `localhost`, which may resolve to `::1` where the app listens on IPv4 only). Both fail
/// on a 4xx or 5xx status, as the local check does.
pub(crate) fn health_check(check: &HealthCheck, port: u16) -> Node {
    let command: Vec<String> = match &check.kind {
        HealthCheckKind::Http { path } => {
            let url = format!("http://127.0.0.1:{port}{path}");
            vec![
                "CMD-SHELL".to_owned(),
                format!("wget -q -O /dev/null '{url}' || curl -fsS -o /dev/null '{url}' || exit 1"),
            ]
        }
        HealthCheckKind::Command(argv) => std::iter::once("CMD".to_owned())
            .chain(argv.iter().cloned())
            .collect(),
    };
    Obj::new()
        .set("Command", command)
        .set("Interval", check.interval.as_secs())
        .set("Retries", check.retries)
        .set("StartPeriod", check.start_period.as_secs())
        .set("Timeout", check.timeout.as_secs())
        .into()
}

/// Assume-role policy for ECS tasks, limited to this account (confused-deputy guard).
fn role_props(tags: &[(String, String)]) -> Obj {
    let statement = Obj::new()
        .set("Action", "sts:AssumeRole")
        .set(
            "Condition",
            Obj::new().set(
                "StringEquals",
                Obj::new().set("aws:SourceAccount", reference("AWS::AccountId")),
            ),
        )
        .set("Effect", "Allow")
        .set(
            "Principal",
            Obj::new().set("Service", "ecs-tasks.amazonaws.com"),
        );
    Obj::new()
        .set(
            "AssumeRolePolicyDocument",
            Obj::new()
                .set("Statement", vec![statement])
                .set("Version", "2012-10-17"),
        )
        .opt("Tags", tag_list(tags))
}

/// The ECR repository of a built image, keeping the last `ecr_keep_images` images.
fn repository_props(stack: &Stack, service: &Service, tags: &[(String, String)]) -> Obj {
    let keep = stack.aws.ecr_keep_images;
    // Built as a tree, not with `json!`, so its key order is fixed too.
    let rule = Obj::new()
        .set("rulePriority", 1u32)
        .set("description", format!("keep the last {keep} images"))
        .set(
            "selection",
            Obj::new()
                .set("tagStatus", "any")
                .set("countType", "imageCountMoreThan")
                .set("countNumber", keep),
        )
        .set("action", Obj::new().set("type", "expire"));
    let policy = Node::from(Obj::new().set("rules", vec![rule]));
    let policy = serde_json::to_string(&policy).expect("a tree of JSON values serializes");
    Obj::new()
        .set(
            "LifecyclePolicy",
            Obj::new().set("LifecyclePolicyText", policy),
        )
        .set(
            "RepositoryName",
            format!("{}/{}", stack.name.to_ascii_lowercase(), service.name),
        )
        .opt("Tags", tag_list(tags))
}

/// The ARN of the ECR repository an image lives in
/// (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG|@DIGEST]`), if it is one.
pub(crate) fn ecr_repository_arn(image: &str) -> Option<Node> {
    let (host, rest) = image.split_once('/')?;
    let mut parts = host.split('.');
    let account = parts.next()?;
    let (dkr, ecr, region) = (parts.next()?, parts.next()?, parts.next()?);
    let is_ecr = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && dkr == "dkr"
        && ecr == "ecr";
    if !is_ecr {
        return None;
    }
    let repo = rest.split(['@']).next()?;
    let repo = match repo.rsplit_once(':') {
        Some((name, _tag)) => name,
        None => repo,
    };
    Some(sub(format!(
        "arn:${{AWS::Partition}}:ecr:{region}:{account}:repository/{repo}"
    )))
}
