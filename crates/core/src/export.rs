//! Export helpers shared by every explorer: CSV fields and numbers, JSON text, file-name pieces.
//!
//! Pure text formatting (no web-sys, no native-only crates), so the page's export buttons and
//! `token-dynamics render --csv/--json` write byte-identical files for the same link. Numbers are
//! printed with [`crate::url::format_number`], which round-trips every f64 exactly; non-finite
//! numbers become an empty CSV cell or JSON `null`.

use crate::page::PageOptions;
use crate::url::format_number;

/// Name written into exported files.
pub const TOOL: &str = "token-dynamics";
/// Version written into exported files.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Line ending of the CSV (RFC 4180 records end with CRLF).
pub const CRLF: &str = "\r\n";

/// A number for CSV: the exact shortest text, or an empty cell when not finite.
pub fn csv_number(value: f64) -> String {
    if value.is_finite() {
        format_number(value)
    } else {
        String::new()
    }
}

/// One CSV field, quoted (RFC 4180) when it holds a comma, quote, line break or edge space.
pub fn csv_field(text: &str) -> String {
    let needs_quotes = text.is_empty()
        || text
            .chars()
            .any(|c| matches!(c, ',' | '"' | '\r' | '\n') || c.is_control())
        || text.starts_with(' ')
        || text.ends_with(' ');
    if needs_quotes {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Text safe inside a one-line `# ` comment of the CSV: control characters and double quotes are
/// percent-encoded (a link stays the same link: the page percent-decodes values anyway).
pub fn comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || c == '"' || c == '\u{2028}' || c == '\u{2029}' {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON string literal: quotes, backslash, control characters and U+2028/U+2029 escaped.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number (exact shortest text), or `null` when not finite.
pub fn json_number(value: f64) -> String {
    if value.is_finite() {
        format_number(value)
    } else {
        "null".to_string()
    }
}

pub fn json_numbers(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|&v| json_number(v)).collect();
    format!("[{}]", items.join(","))
}

pub fn json_strings(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| json_string(v)).collect();
    format!("[{}]", items.join(","))
}

/// `{"key":value,…}` from already-encoded values.
pub fn json_object(fields: &[(&str, String)]) -> String {
    let items: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{}:{value}", json_string(key)))
        .collect();
    format!("{{{}}}", items.join(","))
}

/// The page options as JSON (names as in the link; `loop` for looping, `controls` as a flag).
pub fn page_json(page: &PageOptions) -> String {
    json_object(&[
        ("embed", page.embed.to_string()),
        ("hide", json_strings(&page.hide)),
        ("controls", page.controls.to_string()),
        ("autoplay", page.autoplay.to_string()),
        ("loop", page.looping.to_string()),
        ("theme", json_string(page.theme.as_str())),
        ("view", json_strings(&page.view)),
    ])
}

/// Every parameter of a table as a JSON object: numbers for numeric keys, the link's text
/// (`value_text`) otherwise.
pub fn params_json<S, G>(
    params: &[crate::table::Param<S, G>],
    state: &S,
    value_text: fn(&crate::table::Param<S, G>, &S) -> String,
) -> String {
    use crate::table::Kind;
    let fields: Vec<(&str, String)> = params
        .iter()
        .map(|param| {
            let value = match &param.kind {
                Kind::Number { get, .. } | Kind::Integer { get, .. } => json_number(get(state)),
                Kind::Choice { .. } | Kind::Text { .. } => json_string(&value_text(param, state)),
            };
            (param.key, value)
        })
        .collect();
    json_object(&fields)
}

/// Keeps ASCII letters, digits, `.`, `-` and `_`; anything else becomes `-`.
pub fn safe_piece(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}
