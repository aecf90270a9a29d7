//! Export helpers shared by every explorer: CSV fields and numbers, JSON text, file-name pieces.
//!
//! Pure text formatting (no web-sys, no native-only crates), so the page's export buttons and
//! `token-dynamics render --csv/--json` write byte-identical files for the same link. CSV numbers
//! are printed with [`crate::url::format_number`], JSON by serde_json (shortest text that reads
//! back to the same f64); both round-trip exactly. Non-finite numbers become an empty CSV cell or
//! JSON `null`.

use std::io;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::ser::Formatter;

use crate::page::PageOptions;
use crate::table::{Kind, Param};
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

/// A value as compact JSON text (serde_json), with U+2028, U+2029 and DEL written as `\u` escapes
/// too (see [`ScriptSafe`]). Non-finite f64 become `null`, `None` becomes `null`; key order is the
/// order in which the value serialises its fields (struct field order for derived impls).
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, ScriptSafe);
    // Our export types have string keys only and write into memory, so this cannot fail; should it
    // ever, `null` is still valid JSON.
    if value.serialize(&mut serializer).is_err() {
        return "null".to_string();
    }
    // serde_json writes UTF-8 only; the lossy conversion never replaces anything.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// serde_json's compact formatter, except that U+2028 and U+2029 (line terminators inside JavaScript
/// string literals before ES2019) and DEL are escaped as well: the exported text stays safe to paste
/// into a script and reads back to the same strings.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScriptSafe;

impl Formatter for ScriptSafe {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(pos) = rest.find(['\u{7f}', '\u{2028}', '\u{2029}']) {
            writer.write_all(&rest.as_bytes()[..pos])?;
            let c = rest[pos..].chars().next().unwrap_or('\u{7f}');
            write!(writer, "\\u{:04x}", u32::from(c))?;
            rest = &rest[pos + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
}

/// Every parameter of a table as a JSON object, in table order: numbers for numeric keys (integers
/// without a fraction), the link's text (`value_text`) otherwise.
pub struct ParamsJson<'a, S, G> {
    pub params: &'a [Param<S, G>],
    pub state: &'a S,
    pub value_text: fn(&Param<S, G>, &S) -> String,
}

impl<S, G> Serialize for ParamsJson<'_, S, G> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut map = serializer.serialize_map(Some(self.params.len()))?;
        for param in self.params {
            match &param.kind {
                Kind::Number { get, .. } => map.serialize_entry(param.key, &get(self.state))?,
                Kind::Integer { get, .. } => {
                    let value = get(self.state);
                    // Integer rows hold whole numbers: written as `3`, not `3.0`.
                    if value.fract() == 0.0 && value.abs() < 9.0e15 {
                        map.serialize_entry(param.key, &(value as i64))?;
                    } else {
                        map.serialize_entry(param.key, &value)?;
                    }
                }
                Kind::Choice { .. } | Kind::Text { .. } => {
                    map.serialize_entry(param.key, &(self.value_text)(param, self.state))?;
                }
            }
        }
        map.end()
    }
}

/// The JSON export of every explorer (`state_json`), top-level keys in this order.
#[derive(Serialize)]
pub struct StateExport<'a, P, R> {
    pub tool: &'static str,
    pub version: &'static str,
    pub format: u32,
    pub explorer: &'static str,
    /// The link as given.
    pub link: &'a str,
    /// The link rebuilt from the state and page options (every value the state holds).
    pub canonical_link: String,
    /// Every parameter ([`ParamsJson`]).
    pub state: P,
    pub page: &'a PageOptions,
    pub readout: R,
}

impl<P: Serialize, R: Serialize> StateExport<'_, P, R> {
    /// The export's text: one JSON object and a newline.
    pub fn to_json_line(&self) -> String {
        let mut out = to_json(self);
        out.push('\n');
        out
    }
}

/// The keys of a JSON object in the order they are written: of the top-level object (`path`
/// empty) or of the object reached by following the keys in `path`. `serde_json::Value` sorts
/// object keys, so checks of the exports' documented key order read them with this. `None` when
/// `path` leads nowhere; an error when the text is not JSON or the objects are not objects.
pub fn object_keys(text: &str, path: &[&str]) -> Result<Option<Vec<String>>, serde_json::Error> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

    struct Keys<'p>(&'p [&'p str]);

    impl<'de> DeserializeSeed<'de> for Keys<'_> {
        type Value = Option<Vec<String>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Keys<'_> {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            let mut found = None;
            while let Some(key) = map.next_key::<String>()? {
                match self.0.split_first() {
                    Some((first, rest)) if *first == key => {
                        found = map.next_value_seed(Keys(rest))?;
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                keys.push(key);
            }
            Ok(if self.0.is_empty() { Some(keys) } else { found })
        }
    }

    let mut deserializer = serde_json::Deserializer::from_str(text);
    let keys = Keys(path).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(keys)
}

/// Text as XML or HTML character data or attribute value (in either quotes): `&`, `<`, `>`, `"`
/// and `'` escaped, control characters (which XML 1.0 forbids) dropped.
pub fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `svg` with a `<title>` and a `<desc>` as the root element's first children (what a screen
/// reader, a file manager or a search engine reads of an exported figure), the texts escaped.
/// Unchanged if it has no `<svg …>` start tag.
pub fn caption_svg(svg: &str, title: &str, desc: &str) -> String {
    let Some(open) = svg.find("<svg") else {
        return svg.to_string();
    };
    let Some(end) = svg[open..].find('>').map(|i| open + i + 1) else {
        return svg.to_string();
    };
    format!(
        "{}\n<title>{}</title>\n<desc>{}</desc>{}",
        &svg[..end],
        xml_text(title),
        xml_text(desc),
        &svg[end..]
    )
}

/// What an SVG document draws: the text between its `<svg …>` start tag and its end tag (how
/// tests find one drawing inside another, such as a figure inside its captioned export).
pub fn svg_body(svg: &str) -> &str {
    let start = svg
        .find("<svg")
        .and_then(|open| svg[open..].find('>').map(|i| open + i + 1))
        .unwrap_or(0);
    let end = svg.rfind("</svg>").unwrap_or(svg.len()).max(start);
    &svg[start..end]
}

/// One CSV line's cells, RFC 4180 quoting undone (`"a,b"` is one cell, `""` inside quotes is a
/// quote): how the page shows its CSV export as a table.
pub fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut chars) = (false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    cells.push(current);
    cells
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

/// The link of a next-token flow over these log-probabilities (`index.html#next-token?v=1&s=…`):
/// each rounded to 4 decimals (and floored at −10,000), the tokens named by `labels` (CSV
/// fields, as the next-token explorer reads them back), and its three most probable tokens as the
/// simplex corners; `from`, when not empty, says where the scores came from (the explorer shows
/// it as text). Every explorer that hands a distribution to the next-token explorer writes it here.
// `#[inline]`: codegen happens in the crates that call it (the energy lab, the real-model
// module), so the pages that never do are not changed by it (measured: 83 bytes gzip otherwise).
#[inline]
pub fn scores_link(log_probs: &[f64], labels: &[String], from: &str) -> String {
    let scores: Vec<String> = log_probs
        .iter()
        .map(|v| crate::url::format_number((v.max(-1e4) * 1e4).round() / 1e4))
        .collect();
    let labels: Vec<String> = labels.iter().map(|l| csv_field(l)).collect();
    let mut order: Vec<usize> = (0..log_probs.len()).collect();
    // Most probable first; ties by lower index.
    order.sort_by(|&a, &b| {
        log_probs[b]
            .partial_cmp(&log_probs[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let corners: Vec<String> = order.iter().take(3).map(|c| c.to_string()).collect();
    let mut pairs = vec![
        ("v".to_string(), "1".to_string()),
        ("s".to_string(), scores.join(",")),
        ("labels".to_string(), labels.join(",")),
        ("corners".to_string(), corners.join(",")),
    ];
    if !from.is_empty() {
        pairs.insert(3, ("from".to_string(), from.to_string()));
    }
    format!("index.html{}", crate::url::join_hash("next-token", &pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_undo_quoting() {
        assert_eq!(
            csv_cells("a,\"b,c\",\"say \"\"hi\"\"\",,1e-3"),
            ["a", "b,c", "say \"hi\"", "", "1e-3"]
        );
        assert_eq!(csv_cells(""), [""]);
    }
    use crate::page::Theme;
    use crate::table::value_text;

    #[test]
    fn svg_caption_is_the_first_child_and_escaped() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"10\" xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>";
        let out = caption_svg(svg, "a <b> & \"c\"", "link #x?a=1&b=<2>\u{7}");
        assert_eq!(
            out,
            "<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"10\" xmlns=\"http://www.w3.org/2000/svg\">\n<title>a &lt;b&gt; &amp; &quot;c&quot;</title>\n<desc>link #x?a=1&amp;b=&lt;2&gt;</desc><rect/></svg>"
        );
        assert_eq!(caption_svg("no svg here", "t", "d"), "no svg here");
    }

    #[test]
    fn strings_escape_like_before_and_read_back() {
        let text = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}\u{2028}\u{2029}é🙂/";
        let json = to_json(text);
        assert_eq!(
            json,
            "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\\u2028\\u2029é🙂/\""
        );
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
        // Keys go through the same formatter.
        let mut map = std::collections::BTreeMap::new();
        map.insert("k\u{2028}", 1);
        assert_eq!(to_json(&map), "{\"k\\u2028\":1}");
    }

    #[test]
    fn non_finite_numbers_and_none_are_null() {
        assert_eq!(to_json(&f64::NAN), "null");
        assert_eq!(to_json(&f64::INFINITY), "null");
        assert_eq!(to_json(&[f64::NEG_INFINITY, 0.5]), "[null,0.5]");
        assert_eq!(to_json(&None::<f64>), "null");
        assert_eq!(to_json(&Some(f64::NAN)), "null");
        // Numbers read back exactly.
        for value in [0.1, 1.0 / 3.0, 1e-300, 123456.789, -2.5, 1e21, 5e-324] {
            assert_eq!(
                serde_json::from_str::<f64>(&to_json(&value)).unwrap(),
                value
            );
        }
    }

    #[test]
    fn page_options_keep_the_link_names_and_order() {
        assert_eq!(
            to_json(&PageOptions::default()),
            "{\"embed\":false,\"hide\":[],\"controls\":true,\"autoplay\":false,\"loop\":false,\"theme\":\"auto\",\"view\":[]}"
        );
        let page = PageOptions {
            embed: true,
            hide: vec!["T".into(), "flow".into()],
            controls: false,
            autoplay: true,
            looping: true,
            theme: Theme::Dark,
            view: vec!["simplex".into()],
        };
        assert_eq!(
            to_json(&page),
            "{\"embed\":true,\"hide\":[\"T\",\"flow\"],\"controls\":false,\"autoplay\":true,\"loop\":true,\"theme\":\"dark\",\"view\":[\"simplex\"]}"
        );
    }

    #[derive(Default)]
    struct Toy {
        z: f64,
        n: f64,
        pick: &'static str,
        text: String,
    }

    fn toy_params() -> Vec<Param<Toy, ()>> {
        let row = |key: &'static str, kind: Kind<Toy>| Param {
            key,
            label: key,
            help: "",
            group: (),
            kind,
            relevant: |_| true,
        };
        vec![
            row(
                "z",
                Kind::Number {
                    min: -1e9,
                    max: 1e9,
                    log: false,
                    step: 0.1,
                    get: |s| s.z,
                    set: |s, v| s.z = v,
                },
            ),
            row(
                "text",
                Kind::Text {
                    placeholder: "",
                    get: |s| s.text.clone(),
                    set: |s, v, _| s.text = v.to_string(),
                },
            ),
            row(
                "n",
                Kind::Integer {
                    min: 0.0,
                    max: 1e6,
                    get: |s| s.n,
                    set: |s, v| s.n = v,
                },
            ),
            row(
                "pick",
                Kind::Choice {
                    options: &[("a", "A"), ("b", "B")],
                    get: |s| s.pick,
                    set: |_, _| {},
                },
            ),
        ]
    }

    #[test]
    fn params_are_written_in_table_order_with_whole_integers() {
        let params = toy_params();
        let state = Toy {
            z: f64::NAN,
            n: 1000.0,
            pick: "b",
            text: "x\"\u{2028}".into(),
        };
        let json = to_json(&ParamsJson {
            params: &params,
            state: &state,
            value_text,
        });
        assert_eq!(
            json,
            "{\"z\":null,\"text\":\"x\\\"\\u2028\",\"n\":1000,\"pick\":\"b\"}"
        );
        assert_eq!(
            object_keys(&json, &[]).unwrap().unwrap(),
            ["z", "text", "n", "pick"]
        );
    }

    #[test]
    fn state_export_has_the_documented_keys_in_order() {
        let params = toy_params();
        let state = Toy::default();
        let page = PageOptions::default();
        let text = StateExport {
            tool: TOOL,
            version: VERSION,
            format: 1,
            explorer: "toy",
            link: "#toy?z=0",
            canonical_link: "#toy".into(),
            state: ParamsJson {
                params: &params,
                state: &state,
                value_text,
            },
            page: &page,
            readout: [1, 2],
        }
        .to_json_line();
        assert!(text.ends_with("}\n") && !text[..text.len() - 1].contains('\n'));
        assert!(text.contains("\"format\":1,"), "{text}");
        assert_eq!(
            object_keys(&text, &[]).unwrap().unwrap(),
            [
                "tool",
                "version",
                "format",
                "explorer",
                "link",
                "canonical_link",
                "state",
                "page",
                "readout"
            ]
        );
        assert_eq!(
            object_keys(&text, &["page"]).unwrap().unwrap(),
            ["embed", "hide", "controls", "autoplay", "loop", "theme", "view"]
        );
    }

    #[test]
    fn object_keys_follow_paths_and_reject_broken_text() {
        let text = r#"{"b":{"y":1,"x":[{"q":0}]},"a":null}"#;
        assert_eq!(object_keys(text, &[]).unwrap().unwrap(), ["b", "a"]);
        assert_eq!(object_keys(text, &["b"]).unwrap().unwrap(), ["y", "x"]);
        assert_eq!(object_keys(text, &["c"]).unwrap(), None);
        assert!(object_keys(text, &["a"]).is_err());
        assert!(object_keys("{\"a\":1} x", &[]).is_err());
        assert!(object_keys("[1]", &[]).is_err());
    }
}
