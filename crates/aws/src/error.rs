//! The one error type of `albless-aws`: every way a deploy or an operation on AWS fails.
//! `Display` never repeats the source (the chain is printed once by the binary) and
//! never holds a credential: SDK errors are kept as their code and message only.

use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;

/// What went wrong talking to AWS.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An AWS API call failed; `code` and `message` are AWS's (never a credential).
    #[error("{service} {operation} failed: {code}: {message}")]
    Api {
        /// The AWS service (`cloudformation`, `ecs`, ...).
        service: &'static str,
        /// The operation (`CreateChangeSet`, ...).
        operation: &'static str,
        /// AWS's error code, or the kind of transport failure.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// The stack does not exist (never deployed, or destroyed).
    #[error("stack {0} does not exist on AWS (run `albless aws deploy` first)")]
    NoStack(String),
    /// The stack exists only as change sets never executed (`REVIEW_IN_PROGRESS`).
    #[error(
        "stack {0} was never deployed (REVIEW_IN_PROGRESS: its change sets were never executed): run `albless aws deploy`, or `albless aws destroy` to remove it"
    )]
    NotDeployed(String),
    /// The stack has no such ECS service.
    #[error("stack {stack} has no service {service}")]
    NoService {
        /// The CloudFormation stack.
        stack: String,
        /// The service asked for.
        service: String,
    },
    /// A desired count ECS cannot take (it is a 32-bit signed integer).
    #[error("service {service}: desired count {count} is too large (at most {max})", max = i32::MAX)]
    BadCount {
        /// The ECS service.
        service: String,
        /// The count asked for.
        count: u32,
    },
    /// CloudFormation could not make the change set.
    #[error("change set {name} failed: {reason}")]
    ChangeSet {
        /// The change set's name.
        name: String,
        /// CloudFormation's status reason.
        reason: String,
    },
    /// The change was not applied because nobody approved it.
    #[error("not applied: the change set was declined")]
    Declined,
    /// A question would be needed but nobody can answer it.
    #[error("{0} needs a confirmation and stdin is not a terminal: pass --yes to proceed")]
    NeedsYes(&'static str),
    /// The stack operation failed and was rolled back (or the stack is left failed).
    #[error("stack {stack} ended in {status}: {resource} ({resource_type}) failed: {reason}")]
    Rollback {
        /// The CloudFormation stack.
        stack: String,
        /// The stack's final status (`ROLLBACK_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, ...).
        status: String,
        /// Logical id of the first resource that failed.
        resource: String,
        /// Its resource type.
        resource_type: String,
        /// CloudFormation's reason for that failure.
        reason: String,
    },
    /// ECS's deployment circuit breaker failed a deployment (rolloutState FAILED), with
    /// or without a rollback (aws-behavior.md section 4.4).
    #[error("service {service}: deployment {deployment} failed: {reason}")]
    RolloutFailed {
        /// The ECS service.
        service: String,
        /// The deployment id.
        deployment: String,
        /// ECS's rolloutStateReason, or the service event that told.
        reason: String,
    },
    /// A wait ran out of time.
    #[error("timed out after {elapsed:?} waiting for {what}")]
    TimedOut {
        /// What was awaited.
        what: String,
        /// How long it waited.
        elapsed: Duration,
    },
    /// Building or pushing an image failed.
    #[error("image for service {service}: {message}")]
    Image {
        /// The service whose image it is.
        service: String,
        /// What failed.
        message: String,
    },
    /// The template does not have the shape deploy relies on.
    #[error("template: {0}")]
    Template(String),
    /// The configured account is not the one the credentials belong to.
    #[error("[aws] account_id is {expected} but the credentials are for account {actual}")]
    WrongAccount {
        /// `[aws] account_id` from the file.
        expected: String,
        /// The account of the stack's ARN.
        actual: String,
    },
}

impl Error {
    /// Wraps an SDK error: keeps its code and message, drops the raw response.
    pub(crate) fn api<E, R>(
        service: &'static str,
        operation: &'static str,
        err: SdkError<E, R>,
    ) -> Error
    where
        R: std::fmt::Debug,
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (code, message) = sdk_parts(&err);
        Error::Api {
            service,
            operation,
            code,
            message,
        }
    }

    /// AWS's error code, when this is an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Code and message of an SDK error; for transport failures, the kind and the source's text.
pub(crate) fn sdk_parts<E, R>(err: &SdkError<E, R>) -> (String, String)
where
    R: std::fmt::Debug,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(e) => {
            let e = e.err();
            (
                e.code().unwrap_or("Unknown").to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        }
        SdkError::DispatchFailure(_) => ("DispatchFailure".into(), chain(err)),
        SdkError::TimeoutError(_) => ("Timeout".into(), "no answer in time".into()),
        SdkError::ResponseError(_) => ("ResponseError".into(), chain(err)),
        SdkError::ConstructionFailure(_) => ("ConstructionFailure".into(), chain(err)),
        other => ("Error".into(), chain(other)),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}
