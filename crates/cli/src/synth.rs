//! `albless synth`: write the CloudFormation template that deploys the stack on AWS, as
//! JSON or YAML, to stdout or a file. The template is `albless-synth`'s; this module
//! loads the file, prints the traps it avoids (the warnings `validate` prints) on stderr,
//! and writes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// JSON.
    Json,
    /// YAML (intrinsic functions in their long `Fn::` form).
    Yaml,
}

/// `albless synth` arguments.
#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// The stack file.
    #[arg(default_value = "albless.toml")]
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Write the template to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let stack = match crate::load_stack(&args.file) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    crate::validate::print_warnings(&args.file, &stack);
    let format = match args.format {
        Format::Json => albless_synth::Format::Json,
        Format::Yaml => albless_synth::Format::Yaml,
    };
    let text = albless_synth::synthesize(&stack).render(format)?;
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            use std::io::Write;
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .context("cannot write the template to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
