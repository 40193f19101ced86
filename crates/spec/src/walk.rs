//! Typed reading of a spanned TOML tree: a [`Table`] cursor that knows its dotted path and
//! its span, denies unknown keys (with a "did you mean" hint), and reads strings,
//! integers, numbers, booleans, string arrays, arrays and sub-tables, turning every mismatch into a located
//! [`SpecError`].
//!
//! Known limits: see [`field_at`] for the field path of a TOML syntax error, where no
//! tree exists.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::error::{Kind, SpecError};

mod syntax;

pub(crate) use syntax::field_at;

pub(crate) type Result<T> = std::result::Result<T, SpecError>;

/// The file being read: its path (for messages) and text (for spans).
pub(crate) struct Ctx<'a> {
    pub(crate) path: &'a Path,
    pub(crate) text: &'a str,
    /// The stack's folder: relative paths in the file resolve against it.
    pub(crate) dir: &'a Path,
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
        let Some(items) = self.string_items(key)? else {
            return Ok(None);
        };
        if items.as_ref().is_empty() {
            return Err(self.ctx.error(
                Kind::Invalid,
                items.span(),
                self.field(key),
                "must not be empty",
            ));
        }
        let span = items.span();
        let strings = items.into_inner().into_iter().map(Spanned::into_inner);
        Ok(Some(Spanned::new(span, strings.collect())))
    }

    /// An array of strings at `key`, each with its span; the array may be empty.
    pub(crate) fn string_items(&self, key: &str) -> Result<Option<Spanned<Vec<Spanned<String>>>>> {
        let Some(items) = self.array(key, "an array of strings")? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.as_ref().len());
        for (i, item) in items.as_ref().iter().enumerate() {
            match item.as_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                _ => {
                    let field = format!("{}[{i}]", self.field(key));
                    return Err(self.wrong_type(field, item, "a string"));
                }
            }
        }
        Ok(Some(Spanned::new(items.span(), out)))
    }

    /// The items of the array at `key`; `expected` names the type in a wrong-type error.
    pub(crate) fn array(
        &self,
        key: &str,
        expected: &str,
    ) -> Result<Option<Spanned<&'a [Spanned<DeValue<'i>>]>>> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        match value.as_ref() {
            DeValue::Array(items) => Ok(Some(Spanned::new(value.span(), &items[..]))),
            _ => Err(self.wrong_type(self.field(key), value, expected)),
        }
    }

    /// A boolean at `key`.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<Spanned<bool>>> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        match value.as_ref() {
            DeValue::Boolean(b) => Ok(Some(Spanned::new(value.span(), *b))),
            _ => Err(self.wrong_type(self.field(key), value, "a boolean")),
        }
    }

    /// A number at `key`: a float, or an integer read as one. NaN and infinities are
    /// rejected as out of range.
    pub(crate) fn number(&self, key: &str) -> Result<Option<Spanned<f64>>> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        let parsed = match value.as_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            _ => return Err(self.wrong_type(self.field(key), value, "a number")),
        };
        match parsed {
            Some(n) if n.is_finite() => Ok(Some(Spanned::new(value.span(), n))),
            _ => Err(self.ctx.error(
                Kind::OutOfRange,
                value.span(),
                self.field(key),
                "must be a finite number",
            )),
        }
    }

    /// An integer at `key` within `min..=max`, or `default` when absent.
    pub(crate) fn int_or(&self, key: &str, min: i64, max: i64, default: i64) -> Result<i64> {
        Ok(self
            .int(key, min, max)?
            .map_or(default, Spanned::into_inner))
    }

    /// A boolean at `key`, or `default` when absent.
    pub(crate) fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        Ok(self.bool(key)?.map_or(default, Spanned::into_inner))
    }

    /// A located error of `kind` at `span`, on field `key` of this table.
    pub(crate) fn error(
        &self,
        kind: Kind,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> SpecError {
        self.ctx.error(kind, span, self.field(key), message)
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
