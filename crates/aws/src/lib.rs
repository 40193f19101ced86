//! albless on a real AWS account: deploy the synthesized CloudFormation template through
//! a change set, and operate the stack with the commands of local mode (status, scale,
//! sleep, wake, logs, destroy) through the AWS SDK.
//!
//! - [`Clients`] come from the standard configuration chain ([`Target`]); nothing here
//!   prints or logs a credential, and [`log_directives`] keeps the SDK's own trace output
//!   (which holds signed headers and request bodies) out of verbose logs.
//! - [`deploy()`] takes the template as JSON (from `albless_synth`), so this crate does not
//!   depend on how it is synthesized; it finds what it needs in the template's structure.
//! - The operations start from the stack's resources ([`locate`]), so they follow
//!   whatever the template named things.
//!
//! Output goes through [`Console`] (lines on stdout, a spinner on a terminal, the yes/no
//! question). Known limits are listed in each module.

pub mod bucket;
pub mod clients;
pub mod console;
pub mod deploy;
mod error;
pub mod events;
pub mod image;
pub mod locate;
pub mod ops;
pub mod rollout;
pub mod template;

pub use clients::{Clients, Target};
pub use console::Console;
pub use deploy::{DeployOptions, DeployReport, deploy};
pub use error::Error;

/// Tracing directives that must follow the user's filter: they cap the SDK's, the HTTP
/// stack's and the Docker client's own targets at INFO, so that whatever those libraries
/// log at DEBUG/TRACE about signing, requests and bodies (where a template's environment
/// values travel) stays out of a verbose log, in this SDK version and later ones. albless's
/// own events never carry a credential (tests/secrets.rs).
pub fn log_directives() -> &'static [&'static str] {
    &[
        "aws_sigv4=info",
        "aws_smithy_runtime=info",
        "aws_smithy_runtime_api=info",
        "aws_smithy_http_client=info",
        "aws_smithy_http=info",
        "aws_smithy_types=info",
        "aws_runtime=info",
        "aws_config=info",
        "aws_credential_types=info",
        "hyper=info",
        "hyper_util=info",
        "h2=info",
        "rustls=info",
        "bollard=info",
    ]
}
