//! The stack-wide tables: `[stack]`, `[discovery]`, `[network]` and `[aws]`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use toml::de::DeValue;

use super::{dns_name, invalid, is_region, millis, socket_addr};
use crate::error::Kind;
use crate::model::{Aws, Discovery, Ipv4Cidr, Network, RecordType, Vpc};
use crate::walk::{Result, Table};

const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:8053";
const DEFAULT_NAMESPACE: &str = "ecs.local";

/// What `[stack]` holds.
pub(super) struct Head {
    pub(super) name: String,
    pub(super) region: String,
    pub(super) tags: BTreeMap<String, String>,
}

/// `[stack]`: name, region and tags.
pub(super) fn stack_section(t: &Table<'_, '_>) -> Result<Head> {
    t.deny_unknown(&["name", "region", "tags"])?;
    let name = t.string("name")?.ok_or_else(|| t.missing("name"))?;
    // CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128.
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-using-console-create-stack-parameters.html
    let n: &str = name.as_ref();
    let valid = (1..=128).contains(&n.len())
        && n.starts_with(|c: char| c.is_ascii_alphabetic())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        return Err(
            invalid(t, &name, "name", format!("invalid stack name `{n}`")).with_help(
                "a stack name is 1 to 128 letters, digits and `-`, starting with a letter",
            ),
        );
    }

    let region = t.string("region")?.ok_or_else(|| t.missing("region"))?;
    if !is_region(region.as_ref()) {
        return Err(invalid(
            t,
            &region,
            "region",
            format!("`{}` is not an AWS region", region.as_ref()),
        )
        .with_help("a region looks like `us-east-1` or `ap-northeast-3`"));
    }
    Ok(Head {
        name: n.to_owned(),
        region: region.as_ref().to_string(),
        tags: tags(t)?,
    })
}

/// `[discovery]`: the Cloud Map private DNS namespace and its records.
pub(super) fn discovery(t: &Table<'_, '_>) -> Result<Discovery> {
    t.deny_unknown(&[
        "namespace",
        "record_type",
        "ttl",
        "dns_listen",
        "health_propagation_ms",
        "custom_health_check",
    ])?;

    let namespace = match t.string("namespace")? {
        Some(ns) => {
            if let Err(why) = dns_name(ns.as_ref()) {
                return Err(invalid(
                    t,
                    &ns,
                    "namespace",
                    format!("invalid namespace `{}`: {why}", ns.as_ref()),
                )
                .with_help("a namespace is a lower-case DNS name such as `ecs.local`"));
            }
            ns.as_ref().to_string()
        }
        None => DEFAULT_NAMESPACE.to_owned(),
    };

    // The DnsRecords types ECS service discovery can register for a Fargate task.
    let record_type = match t.string("record_type")? {
        None => RecordType::Srv,
        Some(rt) => match *rt.as_ref() {
            "SRV" => RecordType::Srv,
            "A" => RecordType::A,
            "SRV+A" => RecordType::SrvAndA,
            other => {
                return Err(invalid(
                    t,
                    &rt,
                    "record_type",
                    format!("unknown record type `{other}`"),
                )
                .with_help("expected one of `SRV`, `A`, `SRV+A`"));
            }
        },
    };

    // Cloud Map DnsRecord TTL: 0 to 2147483647 seconds.
    let ttl = t
        .int("ttl", 0, 2_147_483_647)?
        .map_or(10, |v| *v.as_ref() as u32);
    let dns_listen = socket_addr(t, "dns_listen", DEFAULT_DNS_LISTEN)?;
    // Cloud Map takes about 30 s (aws-behavior.md section 3.2); a minute is enough to
    // reproduce it, and more would only slow tests down.
    let health_propagation = millis(t, "health_propagation_ms", 0, 60_000, 0)?;
    let custom_health_check = t.bool_or("custom_health_check", true)?;
    Ok(Discovery {
        namespace,
        record_type,
        ttl,
        dns_listen,
        health_propagation,
        custom_health_check,
    })
}

/// `[stack] tags`. Rules of AWS resource tags ("Tagging your AWS resources"): at most 50,
/// keys 1 to 128 characters, values 0 to 256, letters, digits, spaces and `_ . : / = + - @`,
/// and the `aws:` prefix is reserved in any case.
fn tags(t: &Table<'_, '_>) -> Result<BTreeMap<String, String>> {
    let path = t.field("tags");
    let Some(tags) = t.table("tags", &path)? else {
        return Ok(BTreeMap::new());
    };
    let entries = tags.entries();
    if entries.len() > 50 {
        return Err(t.error(
            Kind::OutOfRange,
            tags.span.clone(),
            "tags",
            format!("{} tags, at most 50", entries.len()),
        ));
    }
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    };
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        let k: &str = key.get_ref();
        let field = tags.field(k);
        let bad_key = if !(1..=128).contains(&k.chars().count()) {
            Some("a tag key is 1 to 128 characters".to_owned())
        } else if k.to_ascii_lowercase().starts_with("aws:") {
            Some("the `aws:` prefix is reserved for AWS".to_owned())
        } else if !allowed(k) {
            Some("a tag key is letters, digits, spaces and `_ . : / = + - @`".to_owned())
        } else {
            None
        };
        if let Some(why) = bad_key {
            return Err(t
                .ctx
                .error(
                    Kind::Invalid,
                    key.span(),
                    field,
                    format!("invalid tag key `{k}`"),
                )
                .with_help(why));
        }
        let DeValue::String(v) = value.as_ref() else {
            return Err(tags.wrong_type(field, value, "a string"));
        };
        if v.chars().count() > 256 || !allowed(v) {
            return Err(t
                .ctx
                .error(Kind::Invalid, value.span(), field, "invalid tag value")
                .with_help(
                    "a tag value is at most 256 letters, digits, spaces and `_ . : / = + - @`",
                ));
        }
        out.insert(k.to_owned(), v.to_string());
    }
    Ok(out)
}

/// `[network]`: an existing VPC (`vpc_id` with `subnet_ids`) or a new one (`cidr`,
/// `availability_zones`), and `assign_public_ip`.
pub(super) fn network(t: &Table<'_, '_>) -> Result<Network> {
    t.deny_unknown(&[
        "vpc_id",
        "subnet_ids",
        "cidr",
        "availability_zones",
        "assign_public_ip",
    ])?;
    let assign_public_ip = t.bool_or("assign_public_ip", true)?;
    let vpc_id = t.string("vpc_id")?;
    let subnets = t.string_items("subnet_ids")?;

    let vpc = match (vpc_id, subnets) {
        (Some(id), Some(subnets)) => {
            if !aws_id(id.as_ref(), "vpc-") {
                return Err(invalid(
                    t,
                    &id,
                    "vpc_id",
                    format!("invalid VPC id `{}`", id.as_ref()),
                )
                .with_help("a VPC id is `vpc-` and 8 to 17 hex digits"));
            }
            // A new VPC's shape says nothing about an existing one: refuse rather than ignore.
            for key in ["cidr", "availability_zones"] {
                if let Some(v) = t.value(key) {
                    return Err(t
                        .error(
                            Kind::Conflict,
                            v.span(),
                            key,
                            format!("`{key}` describes a new VPC"),
                        )
                        .with_help("remove it, or remove `vpc_id` and `subnet_ids`"));
                }
            }
            if subnets.as_ref().is_empty() {
                return Err(t.error(
                    Kind::Invalid,
                    subnets.span(),
                    "subnet_ids",
                    "must not be empty",
                ));
            }
            let mut ids: Vec<String> = Vec::new();
            for (i, s) in subnets.as_ref().iter().enumerate() {
                let field = format!("{}[{i}]", t.field("subnet_ids"));
                let err = |msg: String| t.ctx.error(Kind::Invalid, s.span(), field.clone(), msg);
                if !aws_id(s.as_ref(), "subnet-") {
                    return Err(err(format!("invalid subnet id `{}`", s.as_ref()))
                        .with_help("a subnet id is `subnet-` and 8 to 17 hex digits"));
                }
                if ids.contains(s.as_ref()) {
                    return Err(err(format!("subnet `{}` is listed twice", s.as_ref())));
                }
                ids.push(s.as_ref().clone());
            }
            Vpc::Existing {
                vpc_id: id.as_ref().to_string(),
                subnet_ids: ids,
            }
        }
        (Some(id), None) => {
            return Err(t
                .error(
                    Kind::Conflict,
                    id.span(),
                    "vpc_id",
                    "`vpc_id` without `subnet_ids`",
                )
                .with_help("an existing VPC needs both `vpc_id` and `subnet_ids`"));
        }
        (None, Some(subnets)) => {
            return Err(t
                .error(
                    Kind::Conflict,
                    subnets.span(),
                    "subnet_ids",
                    "`subnet_ids` without `vpc_id`",
                )
                .with_help("an existing VPC needs both `vpc_id` and `subnet_ids`"));
        }
        (None, None) => Vpc::New {
            cidr: cidr(t)?,
            azs: t.int_or("availability_zones", 1, 3, 1)? as u32,
        },
    };
    Ok(Network {
        vpc,
        assign_public_ip,
    })
}

/// `cidr`: an IPv4 block from /16 to /28, the sizes a VPC may have (Amazon VPC user
/// guide, "VPC CIDR blocks"), with its host bits zero.
fn cidr(t: &Table<'_, '_>) -> Result<Ipv4Cidr> {
    let Some(text) = t.string("cidr")? else {
        return Ok(Ipv4Cidr {
            addr: Ipv4Addr::new(10, 0, 0, 0),
            prefix: 16,
        });
    };
    let parsed = text.as_ref().split_once('/').and_then(|(addr, prefix)| {
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32 && !prefix.starts_with('+'))?;
        Some((addr.parse::<Ipv4Addr>().ok()?, prefix))
    });
    let Some((addr, prefix)) = parsed else {
        return Err(invalid(
            t,
            &text,
            "cidr",
            format!("`{}` is not an IPv4 CIDR block", text.as_ref()),
        )
        .with_help("write it as `10.0.0.0/16`"));
    };
    if !(16..=28).contains(&prefix) {
        return Err(t
            .error(
                Kind::OutOfRange,
                text.span(),
                "cidr",
                format!("a /{prefix} block cannot be a VPC"),
            )
            .with_help("a VPC block is /16 to /28"));
    }
    let mask = u32::MAX << (32 - prefix);
    let network = Ipv4Addr::from(u32::from(addr) & mask);
    if network != addr {
        return Err(invalid(
            t,
            &text,
            "cidr",
            format!("`{}` has host bits set", text.as_ref()),
        )
        .with_help(format!("did you mean `{network}/{prefix}`?")));
    }
    Ok(Ipv4Cidr { addr, prefix })
}

/// `PREFIX` then 8 to 17 lower-case hex digits: the EC2 id shapes.
fn aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    })
}

/// `[aws]`: ECR image retention and the pinned account.
pub(super) fn aws(t: &Table<'_, '_>) -> Result<Aws> {
    t.deny_unknown(&["ecr_keep_images", "account_id"])?;
    let ecr_keep_images = t.int_or("ecr_keep_images", 1, 1000, 5)? as u32;
    let account_id = match t.string("account_id")? {
        Some(id) if id.as_ref().len() == 12 && id.as_ref().chars().all(|c| c.is_ascii_digit()) => {
            Some(id.as_ref().to_string())
        }
        Some(id) => {
            return Err(invalid(
                t,
                &id,
                "account_id",
                format!("invalid account id `{}`", id.as_ref()),
            )
            .with_help("an AWS account id is 12 digits, written as a string"));
        }
        None => None,
    };
    Ok(Aws {
        ecr_keep_images,
        account_id,
    })
}
