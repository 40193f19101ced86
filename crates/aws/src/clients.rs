//! Where the AWS clients come from: the standard configuration chain (environment,
//! shared config and credentials files with profiles, SSO, credential process, container
//! and instance roles) through `aws-config`, one HTTPS client (rustls on ring) shared by
//! every service client, and an optional endpoint override for tests against moto.
//!
//! Credentials stay inside the SDK: nothing here formats or logs them, and `Target`'s
//! fields are only names and URLs.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Which account, region and endpoint to talk to.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The region; when `None`, the configuration chain's (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// A named profile of the shared config files; when `None`, `AWS_PROFILE` or `default`.
    pub profile: Option<String>,
    /// One endpoint for every service (a moto server in tests). When `None`,
    /// `AWS_ENDPOINT_URL` (read by the chain) or AWS's own endpoints.
    pub endpoint_url: Option<String>,
}

/// One client per AWS service albless deploys to or operates.
#[derive(Debug, Clone)]
pub struct Clients {
    /// CloudFormation: change sets, stack events, outputs, deletion.
    pub cfn: aws_sdk_cloudformation::Client,
    /// ECS: services, deployments, desired counts, tags.
    pub ecs: aws_sdk_ecs::Client,
    /// Cloud Map: instance health.
    pub sd: aws_sdk_servicediscovery::Client,
    /// API Gateway v2: the API's endpoint, the VPC link's state.
    pub apigw: aws_sdk_apigatewayv2::Client,
    /// ECR: registry login, image listing and deletion.
    pub ecr: aws_sdk_ecr::Client,
    /// CloudWatch Logs: the services' log events.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// S3: albless's bucket for templates over CloudFormation's inline limit.
    pub s3: aws_sdk_s3::Client,
    /// STS: the account id that names that bucket.
    pub sts: aws_sdk_sts::Client,
    /// The region the clients talk to.
    pub region: String,
}

impl Clients {
    /// Loads the configuration chain for `target` and builds every client. Fails only
    /// later, on the first call, when no credentials are found.
    pub async fn connect(target: &Target) -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        );
        if let Some(region) = &target.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &target.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &target.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        tracing::debug!(
            region = config.region().map(|r| r.as_ref()),
            endpoint_override = target.endpoint_url.is_some(),
            "aws configuration loaded"
        );
        Clients::from_config(&config)
    }

    /// Builds every client from one SDK configuration. With an endpoint override (moto),
    /// S3 is addressed path-style (`endpoint/bucket/key`), since a bucket's own host name
    /// (`bucket.127.0.0.1`) does not resolve.
    pub fn from_config(config: &SdkConfig) -> Clients {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Clients {
            cfn: aws_sdk_cloudformation::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            sd: aws_sdk_servicediscovery::Client::new(config),
            apigw: aws_sdk_apigatewayv2::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sts: aws_sdk_sts::Client::new(config),
            region: config
                .region()
                .map(|r| r.as_ref().to_string())
                .unwrap_or_default(),
        }
    }
}
