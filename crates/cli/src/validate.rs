//! `albless validate`: load, default and check a stack file without starting anything,
//! then print the traps it sets as warnings (exit code 0: the file is valid).

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
    print_warnings(file, &stack);
    Ok(ExitCode::SUCCESS)
}

/// Prints the traps the stack sets (`albless_spec::lint`) on stderr, one
/// `warning: FILE:LINE:COLUMN: FIELD: message` line each (without line and column when the
/// field is left to its default and nothing encloses it), then what to do. Warnings never
/// change the exit code.
pub fn print_warnings(file: &Path, stack: &albless_spec::Stack) {
    let warnings = albless_spec::lint(stack);
    if warnings.is_empty() {
        return;
    }
    let text = std::fs::read_to_string(file).unwrap_or_default();
    for warning in &warnings {
        match warning.locate(&text) {
            Some((line, column)) => {
                eprintln!("warning: {}:{line}:{column}: {warning}", file.display())
            }
            None => eprintln!("warning: {}: {warning}", file.display()),
        }
        eprintln!("  help: {}", warning.help);
    }
}
