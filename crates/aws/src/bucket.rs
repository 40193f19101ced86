//! albless's S3 bucket, for templates too large to give CloudFormation inline.
//!
//! CreateChangeSet takes the template in the request (`TemplateBody`) up to 51,200 bytes;
//! a larger one, up to 1 MB, must be an S3 object given as `TemplateURL` (AWS
//! CloudFormation API Reference, CreateChangeSet, parameters `TemplateBody` and
//! `TemplateURL`). albless puts such a template in one bucket per account and region,
//! [`bucket_name`] (`albless-templates-<account>-<region>`), created on first need with
//! what S3 gives a new bucket: versioning off (never enabled here), Block Public Access
//! on, objects encrypted with SSE-S3. The object key is [`object_key`]
//! (`<stack>/<sha256 of the body>.json`): an unchanged template is the same object, and a
//! stack's objects are found by their prefix. Templates within the limit stay inline and
//! touch no bucket.
//!
//! `destroy` deletes the stack's objects ([`remove_stack_objects`]) and keeps the bucket:
//! other stacks of the account and region may use it, and an empty bucket costs nothing.
//! The bucket's name is predictable, so every call on it names the account as
//! `ExpectedBucketOwner`: a bucket of that name in another account is refused by S3 (403)
//! instead of receiving the template.
//!
//! Known limits: the objects of a stack's earlier deploys stay until the stack is
//! destroyed; the 1 MB ceiling is left to CloudFormation to enforce (its error names it);
//! the URL is built for AWS's partitions `aws` and `aws-cn` only.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use sha2::{Digest as _, Sha256};

use crate::{Clients, Console, Error};

/// The largest template CreateChangeSet takes inline, in bytes (`TemplateBody`).
pub const INLINE_LIMIT: usize = 51_200;

/// How a template reaches CreateChangeSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// Inline, as `TemplateBody` (at most [`INLINE_LIMIT`] bytes).
    Body(String),
    /// An S3 object's URL, as `TemplateURL`.
    Url(String),
}

/// The bucket albless owns in `account` and `region`. Within S3's rules for names
/// (3-63 characters of lowercase letters, digits and hyphens) for every 12-digit account
/// and every region name AWS uses.
pub fn bucket_name(account: &str, region: &str) -> String {
    format!("albless-templates-{account}-{region}").to_ascii_lowercase()
}

/// The key of `body`, the template of stack `stack`: `<stack>/<sha256 hex>.json`.
pub fn object_key(stack: &str, body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{stack}/{hex}.json")
}

/// The virtual-hosted URL of `key` in `bucket` of `region`, as CloudFormation expects a
/// `TemplateURL` (it must start with `https://`).
pub fn object_url(bucket: &str, region: &str, key: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{bucket}.s3.{region}.{domain}/{key}")
}

/// How stack `stack`'s template `body` goes to CloudFormation: inline when it fits,
/// otherwise uploaded to albless's bucket (created when missing) and given by URL.
pub async fn stage(
    clients: &Clients,
    stack: &str,
    body: String,
    console: &Console,
) -> Result<TemplateSource, Error> {
    if body.len() <= INLINE_LIMIT {
        return Ok(TemplateSource::Body(body));
    }
    let account = account_id(clients).await?;
    let bucket = bucket_name(&account, &clients.region);
    ensure_bucket(clients, &bucket, &account).await?;

    let key = object_key(stack, &body);
    let size = body.len();
    clients
        .s3
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .expected_bucket_owner(&account)
        .content_type("application/json")
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .map_err(|e| Error::api("s3", "PutObject", e))?;
    tracing::info!(stack, bucket = %bucket, key = %key, bytes = size, "template uploaded");
    console.line(format!(
        "template: {size} bytes, over the {INLINE_LIMIT} CloudFormation takes inline: uploaded to s3://{bucket}/{key}"
    ));
    Ok(TemplateSource::Url(object_url(
        &bucket,
        &clients.region,
        &key,
    )))
}

/// Deletes the objects [`stage`] uploaded for stack `stack`; returns how many. A bucket
/// that does not exist (no template was ever too large here) holds none.
pub async fn remove_stack_objects(clients: &Clients, stack: &str) -> Result<usize, Error> {
    let account = account_id(clients).await?;
    let bucket = bucket_name(&account, &clients.region);
    let prefix = format!("{stack}/");
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = clients
            .s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&prefix)
            .expected_bucket_owner(&account)
            .set_continuation_token(token.take())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_bucket()) => {
                return Ok(0);
            }
            Err(e) => return Err(Error::api("s3", "ListObjectsV2", e)),
        };
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_string),
        );
        token = out.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // One DeleteObject per key: a stack has one object per distinct template it was
    // deployed with, few enough that a batch delete would buy nothing.
    for key in &keys {
        clients
            .s3
            .delete_object()
            .bucket(&bucket)
            .key(key)
            .expected_bucket_owner(&account)
            .send()
            .await
            .map_err(|e| Error::api("s3", "DeleteObject", e))?;
    }
    tracing::info!(stack, bucket = %bucket, objects = keys.len(), "staged templates deleted");
    Ok(keys.len())
}

/// The account the credentials belong to (STS GetCallerIdentity).
async fn account_id(clients: &Clients) -> Result<String, Error> {
    let out = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| Error::api("sts", "GetCallerIdentity", e))?;
    out.account()
        .map(str::to_string)
        .ok_or_else(|| Error::Template("STS GetCallerIdentity returned no Account".into()))
}

/// Creates `bucket` unless `account` already has it.
async fn ensure_bucket(clients: &Clients, bucket: &str, account: &str) -> Result<(), Error> {
    let head = clients
        .s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .send()
        .await;
    match head {
        Ok(_) => return Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
            return Err(Error::Api {
                service: "s3",
                operation: "HeadBucket",
                code: "Forbidden".into(),
                message: format!(
                    "bucket {bucket} belongs to another account, or these credentials may not read it"
                ),
            });
        }
        Err(e) => return Err(Error::api("s3", "HeadBucket", e)),
    }

    // us-east-1 takes no location constraint; every other region needs its own.
    let mut create = clients.s3.create_bucket().bucket(bucket);
    if clients.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(clients.region.as_str()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => {
            tracing::info!(bucket, "template bucket created");
            Ok(())
        }
        // Created meanwhile by another albless of the same account.
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::api("s3", "CreateBucket", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_bucket_names_and_keys_follow_the_content() {
        let name = bucket_name("123456789012", "ap-southeast-2");
        assert_eq!(name, "albless-templates-123456789012-ap-southeast-2");
        assert!(name.len() <= 63);
        let a = object_key("hello", "{}");
        assert_eq!(a, object_key("hello", "{}"), "same body, same key");
        assert_ne!(a, object_key("hello", "{ }"));
        assert!(a.starts_with("hello/") && a.ends_with(".json"), "{a}");
        assert_eq!(a.len(), "hello/".len() + 64 + ".json".len());
    }

    #[test]
    fn urls_are_virtual_hosted_https() {
        assert_eq!(
            object_url("b", "us-east-1", "s/k.json"),
            "https://b.s3.us-east-1.amazonaws.com/s/k.json"
        );
        assert_eq!(
            object_url("b", "cn-north-1", "s/k.json"),
            "https://b.s3.cn-north-1.amazonaws.com.cn/s/k.json"
        );
    }
}
