//! The albless.toml model: parse with spans, apply defaults, validate, and report bad
//! input as errors that name the file, line, column and field. Only this crate reads
//! albless.toml; everything else works on the validated [`Stack`].
//!
//! [`load`] reads a file, [`parse`] checks text; both return a [`Stack`] or the first
//! [`SpecError`] found, which [`SpecError::render`] turns into a terminal message.

mod error;
mod lint;
mod model;
mod parse;
mod route_key;
mod walk;

#[cfg(test)]
mod tests;

use std::path::Path;

/// Re-exported: [`ScheduleExpr::At`] holds a [`chrono::NaiveDateTime`].
pub use chrono;
/// Re-exported: [`ScheduledAction::timezone`] is a [`chrono_tz::Tz`].
pub use chrono_tz;
pub use error::{Located, SpecError};
pub use lint::*;
pub use model::*;
pub use route_key::{METHODS, RouteKeyError};

/// Reads the file at `path` and [`parse`]s it.
///
/// Fails with [`SpecError::Read`] when the file cannot be read or is not UTF-8, else as
/// [`parse`] does.
pub fn load(path: &Path) -> Result<Stack, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses `text` as the `albless.toml` at `path`: TOML syntax, known keys and types, then
/// defaults and validation.
///
/// `path` is used in errors, to set [`Stack::path`] and [`Stack::dir`] (its parent, or
/// `.`), and to resolve relative paths. The only disk access is the check that a service's
/// `build` folder holds a `Dockerfile`. Fails with the first problem found, located by
/// line, column and dotted field path.
pub fn parse(path: &Path, text: &str) -> Result<Stack, SpecError> {
    parse::stack(path, text)
}
