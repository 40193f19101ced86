//! Errors of the spec crate: [`SpecError`], one variant per kind of problem in an
//! `albless.toml`. Every variant but [`SpecError::Read`] carries a [`Located`]: the file,
//! the 1-based line and column, the dotted field path, a message, an optional hint, and the
//! text needed to draw a miette snippet of the offending line.
//!
//! Known limits: only the first problem found is reported, not all of them; columns count
//! Unicode scalar values, so a wide character before the error shifts what a terminal shows.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

/// Why an `albless.toml` was rejected.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file cannot be read (missing, unreadable, not UTF-8).
    #[error("cannot read {}", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML.
    #[error("{0}")]
    Syntax(Box<Located>),
    /// A key that the format does not know.
    #[error("{0}")]
    UnknownKey(Box<Located>),
    /// A value of the wrong TOML type (a string where an integer belongs, ...).
    #[error("{0}")]
    WrongType(Box<Located>),
    /// A required field or table is absent.
    #[error("{0}")]
    Missing(Box<Located>),
    /// A number outside its allowed range or set of values.
    #[error("{0}")]
    OutOfRange(Box<Located>),
    /// A route key that is not `$default` or a valid `METHOD /path`.
    #[error("{0}")]
    InvalidRouteKey(Box<Located>),
    /// A route whose integration names a service the file does not define.
    #[error("{0}")]
    UnknownService(Box<Located>),
    /// Any other invalid value: a bad name, address or version, a duplicate route, ...
    #[error("{0}")]
    Invalid(Box<Located>),
    /// Values that are each valid but cannot go together: a deployment that can never
    /// complete, `vpc_id` without `subnet_ids`, `image` with `build`, ...
    #[error("{0}")]
    Conflict(Box<Located>),
}

/// Where a problem is and what it is: everything [`SpecError::render`] prints.
#[derive(Debug)]
pub struct Located {
    file: PathBuf,
    line: usize,
    column: usize,
    field: String,
    message: String,
    help: Option<String>,
    label: &'static str,
    span: Range<usize>,
    source: NamedSource<String>,
}

/// The kinds of located error; the parser picks one, [`SpecError::located`] builds the
/// matching variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Syntax,
    UnknownKey,
    WrongType,
    Missing,
    OutOfRange,
    InvalidRouteKey,
    UnknownService,
    Invalid,
    Conflict,
}

impl SpecError {
    /// Builds a located error of `kind` at byte range `span` of `text`.
    pub(crate) fn located(
        kind: Kind,
        file: &Path,
        text: &str,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        // Clamp, so a span past the end (an error at end of file) still renders.
        let start = span.start.min(text.len());
        let end = span.end.clamp(start, text.len());
        let (line, column) = line_column(text, start);
        let located = Box::new(Located {
            file: file.to_path_buf(),
            line,
            column,
            field: field.into(),
            message: message.into(),
            help: None,
            label: kind.label(),
            span: start..end,
            source: NamedSource::new(file.display().to_string(), text.to_owned()),
        });
        match kind {
            Kind::Syntax => Self::Syntax(located),
            Kind::UnknownKey => Self::UnknownKey(located),
            Kind::WrongType => Self::WrongType(located),
            Kind::Missing => Self::Missing(located),
            Kind::OutOfRange => Self::OutOfRange(located),
            Kind::InvalidRouteKey => Self::InvalidRouteKey(located),
            Kind::UnknownService => Self::UnknownService(located),
            Kind::Invalid => Self::Invalid(located),
            Kind::Conflict => Self::Conflict(located),
        }
    }

    /// Adds a hint, printed as `help: ...` under the snippet.
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        if let Some(located) = self.located_mut() {
            located.help = Some(help.into());
        }
        self
    }

    /// The location and message, for every variant but [`SpecError::Read`].
    pub fn location(&self) -> Option<&Located> {
        match self {
            Self::Read { .. } => None,
            Self::Syntax(l)
            | Self::UnknownKey(l)
            | Self::WrongType(l)
            | Self::Missing(l)
            | Self::OutOfRange(l)
            | Self::InvalidRouteKey(l)
            | Self::UnknownService(l)
            | Self::Invalid(l)
            | Self::Conflict(l) => Some(l),
        }
    }

    fn located_mut(&mut self) -> Option<&mut Located> {
        match self {
            Self::Read { .. } => None,
            Self::Syntax(l)
            | Self::UnknownKey(l)
            | Self::WrongType(l)
            | Self::Missing(l)
            | Self::OutOfRange(l)
            | Self::InvalidRouteKey(l)
            | Self::UnknownService(l)
            | Self::Invalid(l)
            | Self::Conflict(l) => Some(l),
        }
    }

    /// The 1-based line of the problem; `None` for [`SpecError::Read`].
    pub fn line(&self) -> Option<usize> {
        self.location().map(|l| l.line)
    }

    /// The 1-based column (in characters) of the problem; `None` for [`SpecError::Read`].
    pub fn column(&self) -> Option<usize> {
        self.location().map(|l| l.column)
    }

    /// The dotted field path (`services.backend.port`, `api.routes."GET /x"`); `None` for
    /// [`SpecError::Read`].
    pub fn field(&self) -> Option<&str> {
        self.location().map(|l| l.field.as_str())
    }

    /// The full message for a terminal, without colours or Unicode box drawing.
    ///
    /// The first line is `error: <file>:<line>:<column>: <field>: <message>`; then comes
    /// a snippet of the offending line with a label, then `help: ...` when there is a hint.
    /// [`SpecError::Read`] renders as `error: cannot read <file>: <reason>`.
    pub fn render(&self) -> String {
        let Some(located) = self.location() else {
            let mut out = format!("error: {self}");
            if let Self::Read { source, .. } = self {
                out.push_str(&format!(": {source}"));
            }
            out.push('\n');
            return out;
        };

        let mut out = format!("error: {located}\n");
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::none())
            .with_wrap_lines(false)
            .with_context_lines(1);
        let mut body = String::new();
        if handler.render_report(&mut body, self).is_ok() {
            // The handler opens with the message line, which our first line already says.
            let snippet = body.split_once('\n').map(|(_, rest)| rest).unwrap_or("");
            out.push_str(snippet.trim_end());
            out.push('\n');
        } else if let Some(help) = &located.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        out
    }
}

impl Located {
    /// The file as the caller gave it.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column, in characters.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The dotted field path.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if any (`did you mean ...`, the valid values, ...).
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The byte range of the offending text in the file.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.field,
            self.message
        )
    }
}

impl Diagnostic for SpecError {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.location()
            .map(|l| &l.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let l = self.location()?;
        let span = LabeledSpan::new_with_span(Some(l.label.to_owned()), l.span.clone());
        Some(Box::new(std::iter::once(span)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        let help = self.location()?.help.as_ref()?;
        Some(Box::new(help))
    }
}

impl Kind {
    /// The short label drawn under the offending text.
    fn label(self) -> &'static str {
        match self {
            Self::Syntax => "not valid TOML",
            Self::UnknownKey => "unknown key",
            Self::WrongType => "wrong type",
            Self::Missing => "required here",
            Self::OutOfRange => "out of range",
            Self::InvalidRouteKey => "invalid route key",
            Self::UnknownService => "unknown service",
            Self::Invalid => "invalid value",
            Self::Conflict => "conflicting value",
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
