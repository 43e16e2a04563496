//! JSON as the calibration files are written: fields in declaration order,
//! objects indented down to a depth, everything below on one line (one
//! plate per line), numbers rounded where the extra digits are noise.

use super::LayoutError;
use super::math::Vec3;
use serde::Serialize;
use std::path::Path;

/// Writes a document as JSON in field order: objects indented, and every
/// value below `flat_depth` (a plate, a corner list) on one line.
pub fn write_json<T: Serialize>(path: &Path, value: &T, flat_depth: usize) -> Result<(), LayoutError> {
    let compact =
        serde_json::to_string(value).map_err(|e| LayoutError::invalid(path, "(document)".into(), e.to_string()))?;
    let mut out = String::with_capacity(compact.len() * 2);
    layout_json(&compact, 0, flat_depth, &mut out);
    out.push('\n');
    std::fs::write(path, out).map_err(|source| LayoutError::Write { path: path.to_owned(), source })
}

/// Length of the JSON value at the start of `s` (compact serde_json output).
fn value_len(s: &str) -> usize {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in s.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' if depth == 0 => return i + 1,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' if depth <= 1 => return i + 1,
            '}' | ']' => depth -= 1,
            ',' | ':' if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}

/// Splits the inside of a compact object or array into its members.
fn members(inner: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let mut n = value_len(rest);
        if rest[n..].starts_with(':') {
            n += 1 + value_len(&rest[n + 1..]);
        }
        parts.push(&rest[..n]);
        rest = rest[n..].strip_prefix(',').unwrap_or(&rest[n..]);
    }
    parts
}

fn layout_json(v: &str, depth: usize, flat_depth: usize, out: &mut String) {
    let pad = |d: usize| "  ".repeat(d);
    let expand =
        depth < flat_depth && (v.starts_with('{') || (v.starts_with('[') && v[1..].starts_with('{'))) && v.len() > 2;
    if !expand {
        out.push_str(v);
        return;
    }
    let (open, close) = (&v[..1], &v[v.len() - 1..]);
    let items = members(&v[1..v.len() - 1]);
    out.push_str(open);
    out.push('\n');
    for (i, item) in items.iter().enumerate() {
        out.push_str(&pad(depth + 1));
        if open == "{" {
            let key_len = value_len(item);
            out.push_str(&item[..key_len]);
            out.push_str(": ");
            layout_json(&item[key_len + 1..], depth + 1, flat_depth, out);
        } else {
            layout_json(item, depth + 1, flat_depth, out);
        }
        out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
    }
    out.push_str(&pad(depth));
    out.push_str(close);
}

pub(crate) fn round(x: f64, step: f64) -> f64 {
    let r = (x / step).round() * step;
    // print 0.1 rather than 0.10000000000000002
    format!("{r:.9}").parse().unwrap_or(r)
}

pub(crate) fn round_vec(v: Vec3, step: f64) -> Vec3 {
    v.map(|x| round(x, step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_indent_and_deep_values_stay_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        let doc = serde_json::json!({"b": [1, 2], "a": [{"k": "v,\\\"]", "n": [[1.5, 2.0]]}, {"k": "w"}], "e": []});
        write_json(&path, &doc, 2).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = "{\n  \"a\": [\n    {\"k\":\"v,\\\\\\\"]\",\"n\":[[1.5,2.0]]},\n    {\"k\":\"w\"}\n  ],\n  \"b\": [1,2],\n  \"e\": []\n}\n";
        assert_eq!(text, expected);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), doc);
        assert_eq!(round(0.1 + 0.2, 1e-6), 0.3);
    }
}
