//! Typed reading of a spanned TOML tree: a [`Table`] cursor that knows its dotted path and
//! its span, denies unknown keys (with a "did you mean" hint), and reads strings,
//! integers, string arrays and sub-tables, turning every mismatch into a located
//! [`SpecError`].
//!
//! Known limits: [`field_at`] (the field path of a TOML syntax error, where no tree
//! exists) reads table headers and keys from the raw lines and can be fooled by
//! multi-line strings that look like headers.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::error::{Kind, SpecError};

pub(crate) type Result<T> = std::result::Result<T, SpecError>;

/// The file being read: its path (for messages) and text (for spans).
pub(crate) struct Ctx<'a> {
    pub(crate) path: &'a Path,
    pub(crate) text: &'a str,
}

impl Ctx<'_> {
    /// A located error of `kind` at `span`.
    pub(crate) fn error(
        &self,
        kind: Kind,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> SpecError {
        SpecError::located(kind, self.path, self.text, span, field, message)
    }
}

/// One TOML table being read, with the dotted path and span used in its errors.
#[derive(Clone)]
pub(crate) struct Table<'a, 'i> {
    pub(crate) ctx: &'a Ctx<'a>,
    /// Dotted path of the table; empty for the document root.
    pub(crate) path: &'a str,
    /// What a "missing field" error points at: the `[header]`, inline table or key.
    pub(crate) span: Range<usize>,
    pub(crate) map: &'a DeTable<'i>,
}

/// An entry of a table: the key (with its span) and the value (with its span).
pub(crate) type Entry<'a, 'i> = (&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>);

impl<'a, 'i> Table<'a, 'i> {
    /// Entries in file order (the parsed map is sorted by key).
    pub(crate) fn entries(&self) -> Vec<Entry<'a, 'i>> {
        let mut entries: Vec<_> = self.map.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        entries
    }

    /// Dotted path of `key` inside this table.
    pub(crate) fn field(&self, key: &str) -> String {
        join(self.path, key)
    }

    /// Rejects the first key (in file order) not in `known`, hinting at a close one.
    pub(crate) fn deny_unknown(&self, known: &[&str]) -> Result<()> {
        let Some((key, _)) = self
            .entries()
            .into_iter()
            .find(|(k, _)| !known.contains(&k.as_ref().as_ref()))
        else {
            return Ok(());
        };
        let name: &str = key.as_ref();
        let err = self.ctx.error(
            Kind::UnknownKey,
            key.span(),
            self.field(name),
            format!("unknown key `{name}`"),
        );
        Err(err.with_help(match closest(name, known) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("expected one of {}", list(known)),
        }))
    }

    /// The value at `key`, if present.
    pub(crate) fn value(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.map.get(key)
    }

    /// Error for a required `key` that is absent.
    pub(crate) fn missing(&self, key: &str) -> SpecError {
        let what = if self.path.is_empty() {
            "the file".to_owned()
        } else {
            format!("`{}`", self.path)
        };
        self.ctx.error(
            Kind::Missing,
            self.span.clone(),
            self.field(key),
            format!("missing required field `{key}` in {what}"),
        )
    }

    /// Error for a value of the wrong type.
    pub(crate) fn wrong_type(
        &self,
        field: String,
        value: &Spanned<DeValue<'_>>,
        expected: &str,
    ) -> SpecError {
        self.ctx.error(
            Kind::WrongType,
            value.span(),
            field,
            format!("expected {expected}, found {}", describe(value.as_ref())),
        )
    }

    /// A string at `key`.
    pub(crate) fn string(&self, key: &str) -> Result<Option<Spanned<&'a str>>> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        match value.as_ref() {
            DeValue::String(s) => Ok(Some(Spanned::new(value.span(), s.as_ref()))),
            _ => Err(self.wrong_type(self.field(key), value, "a string")),
        }
    }

    /// An integer at `key`, which must lie within `min..=max`.
    pub(crate) fn int(&self, key: &str, min: i64, max: i64) -> Result<Option<Spanned<i64>>> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        let DeValue::Integer(int) = value.as_ref() else {
            return Err(self.wrong_type(self.field(key), value, "an integer"));
        };
        // A number that does not even fit i64 is out of every range we have.
        match i64::from_str_radix(int.as_str(), int.radix()) {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(Spanned::new(value.span(), n))),
            parsed => {
                let found = parsed.map_or_else(|_| int.as_str().to_owned(), |n| n.to_string());
                Err(self.ctx.error(
                    Kind::OutOfRange,
                    value.span(),
                    self.field(key),
                    format!("must be between {min} and {max}, found {found}"),
                ))
            }
        }
    }

    /// An array of strings at `key`; an empty array is an error.
    pub(crate) fn strings(&self, key: &str) -> Result<Option<Spanned<Vec<String>>>> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        let DeValue::Array(items) = value.as_ref() else {
            return Err(self.wrong_type(self.field(key), value, "an array of strings"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_ref() {
                DeValue::String(s) => out.push(s.to_string()),
                _ => {
                    return Err(self.wrong_type(
                        format!("{}[{i}]", self.field(key)),
                        item,
                        "a string",
                    ));
                }
            }
        }
        if out.is_empty() {
            return Err(self.ctx.error(
                Kind::Invalid,
                value.span(),
                self.field(key),
                "must not be empty",
            ));
        }
        Ok(Some(Spanned::new(value.span(), out)))
    }

    /// The sub-table at `key`; `path` is where the caller keeps its dotted path.
    pub(crate) fn table(&self, key: &str, path: &'a str) -> Result<Option<Table<'a, 'i>>> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        Ok(Some(self.as_table(value, path)?))
    }

    /// `value` (found in this table under dotted path `path`) as a table.
    pub(crate) fn as_table(
        &self,
        value: &'a Spanned<DeValue<'i>>,
        path: &'a str,
    ) -> Result<Table<'a, 'i>> {
        match value.as_ref() {
            DeValue::Table(map) => Ok(Table {
                ctx: self.ctx,
                path,
                span: value.span(),
                map,
            }),
            _ => Err(self.wrong_type(path.to_owned(), value, "a table")),
        }
    }
}

/// `parent.key`, quoting `key` when it is not a bare TOML key.
pub(crate) fn join(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// The known name closest to `name`, if it is within edit distance 2 and not a rewrite of
/// the whole name (so `db` does not suggest `web`).
pub(crate) fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let len = name.chars().count();
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(d, _)| *d <= 2 && *d < len)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A TOML type with its article, for "expected ..., found ..." messages.
fn describe(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Best-effort dotted path of what sits at byte `offset` of a text that failed to parse:
/// the nearest `[header]` above, plus the key of the offending line if it has one.
pub(crate) fn field_at(text: &str, offset: usize) -> String {
    let offset = (0..=offset.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim_start();

    // A header line is its own path.
    if line.starts_with('[') {
        return header_path(line).unwrap_or_default();
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .find_map(|l| {
            l.trim_start()
                .starts_with('[')
                .then(|| header_path(l.trim_start()))
                .flatten()
        })
        .unwrap_or_default();
    // `key = value`, or a key missing its `=` (then the key is the first word).
    let key = match line.split_once('=') {
        Some((key, _)) => key,
        None => line.split_whitespace().next().unwrap_or(""),
    };
    match (!key.trim().is_empty()).then(|| key_path(key.trim())) {
        Some(Some(keys)) if !keys.is_empty() => keys.iter().fold(table, |path, k| join(&path, k)),
        _ => table,
    }
}

/// The dotted path of a `[a.b]` or `[[a.b]]` header line.
fn header_path(line: &str) -> Option<String> {
    let inner = line.trim_start_matches('[');
    // An unclosed header (the syntax error itself) still names its table.
    let close = inner.find(']').unwrap_or(inner.len());
    let keys = key_path(inner[..close].trim())?;
    Some(keys.iter().fold(String::new(), |path, k| join(&path, k)))
}

/// The parts of a dotted TOML key (`a."b c".d`), unquoted; `None` if it does not scan.
fn key_path(text: &str) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    let mut rest = text.trim();
    loop {
        let (key, after) = match rest.chars().next()? {
            q @ ('"' | '\'') => {
                let end = rest[1..].find(q)? + 1;
                (rest[1..end].to_owned(), &rest[end + 1..])
            }
            _ => {
                let end = rest
                    .find(|c: char| c == '.' || c.is_whitespace())
                    .unwrap_or(rest.len());
                (rest[..end].to_owned(), &rest[end..])
            }
        };
        if key.is_empty() && !rest.starts_with(['"', '\'']) {
            return None;
        }
        keys.push(key);
        let after = after.trim_start();
        match after.strip_prefix('.') {
            Some(next) => rest = next.trim_start(),
            None if after.is_empty() => return Some(keys),
            None => return None,
        }
    }
}
