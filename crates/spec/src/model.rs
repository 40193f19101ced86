//! The validated stack model: what an `albless.toml` means once it has been parsed,
//! defaulted and checked. Every other crate reads these types; none reads the file.
//!
//! The stack-level types live here; the HTTP API's in `model/api.rs`, the ECS services' in
//! `model/service.rs`. Every field holds its default when the file leaves it out.

mod api;
mod service;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use api::*;
pub use service::*;

/// A whole stack: one `albless.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// The file this stack was read from (as given, not canonicalized).
    pub path: PathBuf,
    /// The folder holding the file: relative paths in the file resolve against it.
    pub dir: PathBuf,
    /// Format version of the file (`version = 1`).
    pub version: u32,
    /// Stack name (`[stack] name`): CloudFormation stack name on AWS, ECS cluster name locally.
    pub name: String,
    /// AWS region (`[stack] region`), reported in instance attributes locally.
    pub region: String,
    /// Tags (`[stack] tags`) put on every AWS resource of the stack; unused locally.
    /// Keys are 1 to 128 characters, values 0 to 256, and no key starts with `aws:`.
    pub tags: BTreeMap<String, String>,
    /// The HTTP API's settings.
    pub api: Api,
    /// Service discovery (Cloud Map namespace and DNS).
    pub discovery: Discovery,
    /// Services by name, in name order.
    pub services: BTreeMap<String, Service>,
    /// The VPC the stack runs in on AWS (`[network]`); unused locally.
    pub network: Network,
    /// AWS account settings (`[aws]`); unused locally.
    pub aws: Aws,
}

/// Service discovery (`[discovery]`): the Cloud Map private DNS namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// Namespace name. Default `ecs.local`.
    pub namespace: String,
    /// DNS record types the services register. Default SRV.
    pub record_type: RecordType,
    /// TTL of the DNS records, seconds. Default 10.
    pub ttl: u32,
    /// Where the local DNS server listens (UDP and TCP); port 0 picks a free port.
    /// Default `127.0.0.1:8053`.
    pub dns_listen: SocketAddr,
    /// Delay before a custom health status change takes effect (`health_propagation_ms`,
    /// 0 to 60 s). Cloud Map applies `UpdateInstanceCustomHealthStatus` about 30 s after
    /// the call; the local default is 0 so tests stay fast.
    pub health_propagation: Duration,
    /// Whether the Cloud Map services have a custom health check (default `true`). With
    /// `false`, health is `UNKNOWN` and every registered instance gets traffic, ready or
    /// not: the trap of a service created without `HealthCheckCustomConfig`.
    pub custom_health_check: bool,
}

/// Which DNS records a Cloud Map service holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// SRV records (and A records for each instance's target name).
    Srv,
    /// A records only (no port: the HTTP API integration cannot use these).
    A,
    /// SRV and A records.
    SrvAndA,
}

/// The network of the stack on AWS (`[network]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// An existing VPC, or the shape of a new one. Default: a new VPC `10.0.0.0/16` in one
    /// availability zone.
    pub vpc: Vpc,
    /// Whether tasks get a public IP (ECS `assignPublicIp`; default `true`, so tasks in
    /// public subnets can pull images without a NAT gateway).
    pub assign_public_ip: bool,
}

/// Which VPC the stack uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vpc {
    /// An existing VPC (`vpc_id` with `subnet_ids`).
    Existing {
        /// `vpc-` and 8 to 17 lower-case hex digits.
        vpc_id: String,
        /// At least one `subnet-` id, each once, in file order.
        subnet_ids: Vec<String>,
    },
    /// A VPC created with the stack.
    New {
        /// Its IPv4 block, `/16` to `/28` (`cidr`, default `10.0.0.0/16`).
        cidr: Ipv4Cidr,
        /// How many availability zones get a subnet (`availability_zones`, 1 to 3, default 1).
        azs: u32,
    },
}

/// An IPv4 block: network address and prefix length. The host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The network address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0 to 32.
    pub prefix: u8,
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// AWS account settings (`[aws]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aws {
    /// How many images the ECR lifecycle policy keeps per repository (1 to 1000, default 5).
    pub ecr_keep_images: u32,
    /// The 12-digit account the stack must deploy to, if pinned; a guard against
    /// deploying with the wrong credentials.
    pub account_id: Option<String>,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            vpc: Vpc::New {
                cidr: Ipv4Cidr {
                    addr: Ipv4Addr::new(10, 0, 0, 0),
                    prefix: 16,
                },
                azs: 1,
            },
            assign_public_ip: true,
        }
    }
}

impl Default for Aws {
    fn default() -> Self {
        Aws {
            ecr_keep_images: 5,
            account_id: None,
        }
    }
}
