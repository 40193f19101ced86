//! The field path of a TOML syntax error, found without a parsed tree.
//!
//! Known limits: headers and keys are read from the raw lines, so multi-line strings that
//! look like headers can fool it.

use super::join;

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
