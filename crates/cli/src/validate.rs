//! `albless validate`: load, default and check a stack file without starting anything.

use std::path::Path;
use std::process::ExitCode;

/// Runs the command.
pub fn run(file: &Path) -> anyhow::Result<ExitCode> {
    let stack = match crate::load_stack(file) {
        Ok(stack) => stack,
        Err(code) => return Ok(code),
    };
    let routes = stack.api.routes.len();
    let services = stack.services.len();
    println!(
        "{}: stack `{}` is valid ({services} service{}, {routes} route{})",
        file.display(),
        stack.name,
        if services == 1 { "" } else { "s" },
        if routes == 1 { "" } else { "s" },
    );
    Ok(ExitCode::SUCCESS)
}
