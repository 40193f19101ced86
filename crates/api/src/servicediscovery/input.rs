//! Reading a Cloud Map request body: required members, lengths, patterns and ranges as
//! the service model states them (aws-behavior.md §3; API reference, each operation's
//! request syntax). A violation is an `InvalidInput` naming the member, in the wording
//! AWS uses for constraint failures.
//!
//! Known limits: unknown members are ignored (as AWS does); Tags are read and dropped.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::AwsError;

/// The request body: one JSON object.
pub(crate) struct Input {
    body: Map<String, Value>,
}

/// `InvalidInput` with AWS's constraint-failure wording.
pub(crate) fn invalid(member: &str, value: &str, constraint: &str) -> AwsError {
    AwsError::new(
        http::StatusCode::BAD_REQUEST,
        "InvalidInput",
        format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy \
             constraint: {constraint}",
            lower_first(member)
        ),
    )
}

/// `InvalidInput` with a free message.
pub(crate) fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::new(http::StatusCode::BAD_REQUEST, "InvalidInput", message)
}

impl Input {
    /// Parses `body`; an empty body is an empty object (the CLI sends `{}`).
    ///
    /// Fails with `SerializationException` when the body is not a JSON object.
    pub fn parse(body: &[u8]) -> Result<Input, AwsError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input { body: Map::new() });
        }
        match serde_json::from_slice(body) {
            Ok(Value::Object(body)) => Ok(Input { body }),
            _ => Err(AwsError::new(
                http::StatusCode::BAD_REQUEST,
                "SerializationException",
                "the request body is not a JSON object",
            )),
        }
    }

    /// A sub-object as its own input (`None` when absent or null).
    pub fn object(&self, name: &str) -> Result<Option<Input>, AwsError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(Input { body: o.clone() })),
            Some(_) => Err(invalid(name, "...", "Member must be a structure")),
        }
    }

    /// A required string of at most `max` characters passing `pattern`.
    pub fn string(
        &self,
        name: &str,
        max: usize,
        pattern: fn(&str) -> bool,
    ) -> Result<String, AwsError> {
        self.opt_string(name, max, pattern)?
            .ok_or_else(|| invalid(name, "null", "Member must not be null"))
    }

    /// An optional string of at most `max` characters passing `pattern`.
    pub fn opt_string(
        &self,
        name: &str,
        max: usize,
        pattern: fn(&str) -> bool,
    ) -> Result<Option<String>, AwsError> {
        let s = match self.body.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s,
            Some(_) => return Err(invalid(name, "...", "Member must be a string")),
        };
        if s.chars().count() > max {
            let c = format!("Member must have length less than or equal to {max}");
            return Err(invalid(name, s, &c));
        }
        if !pattern(s) {
            return Err(invalid(
                name,
                s,
                "Member must satisfy the regular expression pattern",
            ));
        }
        Ok(Some(s.clone()))
    }

    /// An optional enum member: one of `allowed`.
    pub fn opt_enum(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, AwsError> {
        let Some(s) = self.opt_string(name, 64, any)? else {
            return Ok(None);
        };
        if allowed.contains(&s.as_str()) {
            Ok(Some(s))
        } else {
            let c = format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            );
            Err(invalid(name, &s, &c))
        }
    }

    /// An optional integer in `min..=max`.
    pub fn opt_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
        let n = match self.body.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| invalid(name, &v.to_string(), "Member must be an integer"))?,
        };
        if n < min {
            return Err(invalid(
                name,
                &n.to_string(),
                &format!("Member must have value greater than or equal to {min}"),
            ));
        }
        if n > max {
            return Err(invalid(
                name,
                &n.to_string(),
                &format!("Member must have value less than or equal to {max}"),
            ));
        }
        Ok(Some(n))
    }

    /// An optional map of strings; keys and values checked by `key` and `value`.
    pub fn opt_map(
        &self,
        name: &str,
        key: fn(&str) -> bool,
        value: fn(&str) -> bool,
    ) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        let map = match self.body.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(invalid(name, "...", "Member must be a map")),
        };
        let mut out = BTreeMap::new();
        for (k, v) in map {
            let Value::String(v) = v else {
                return Err(invalid(name, k, "Map values must be strings"));
            };
            if !key(k) {
                return Err(invalid(
                    name,
                    k,
                    "Map keys must satisfy the key constraints",
                ));
            }
            if !value(v) {
                return Err(invalid(
                    name,
                    v,
                    "Map values must satisfy the value constraints",
                ));
            }
            out.insert(k.clone(), v.clone());
        }
        Ok(Some(out))
    }

    /// An optional list of objects.
    pub fn opt_objects(&self, name: &str) -> Result<Option<Vec<Input>>, AwsError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Object(o) => Ok(Input { body: o.clone() }),
                    _ => Err(invalid(name, "...", "Member must be a list of structures")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid(name, "...", "Member must be a list")),
        }
    }

    /// An optional list of strings, each checked by `item`.
    pub fn opt_strings(
        &self,
        name: &str,
        item: fn(&str) -> bool,
    ) -> Result<Option<Vec<String>>, AwsError> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v.as_str() {
                    Some(s) if item(s) => Ok(s.to_string()),
                    _ => Err(invalid(
                        name,
                        &v.to_string(),
                        "Member must be a list of valid strings",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid(name, "...", "Member must be a list")),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// No pattern beyond the length.
pub(crate) fn any(_: &str) -> bool {
    true
}

/// `^[!-~]{1,1024}$`: printable ASCII without spaces (namespace names).
pub(crate) fn printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (b'!'..=b'~').contains(&b))
}

/// A non-empty string (ids, tokens).
pub(crate) fn non_empty(s: &str) -> bool {
    !s.is_empty()
}

/// The service-name pattern: dot-separated labels of letters, digits, `_` and `-`
/// (not leading or trailing `-`), each at most 63, at most 127 in all.
pub(crate) fn service_name(s: &str) -> bool {
    s.len() <= 127
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `^[0-9a-zA-Z_/:.@-]+$` (instance ids).
pub(crate) fn instance_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_/:.@-".contains(c))
}

/// Attribute keys: `^[a-zA-Z0-9!-~]+$`, at most 255 characters.
pub(crate) fn attribute_key(s: &str) -> bool {
    printable(s) && s.len() <= 255
}

/// Attribute values: printable ASCII with inner spaces or tabs, at most 1,024 characters.
pub(crate) fn attribute_value(s: &str) -> bool {
    s.len() <= 1024 && s.bytes().all(|b| (b' '..=b'~').contains(&b) || b == b'\t')
}
