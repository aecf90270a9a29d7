//! Hash-fragment plumbing shared by every explorer: `#<explorer>?key=value&key=value`.
//!
//! Only splitting and percent-coding live here; what the keys mean is each explorer's parameter table.
//! Everything is total: any input string gives some answer, never a panic, and sizes are capped so a
//! hostile 1 MB link costs bounded work.

/// Longest hash we look at; anything beyond is dropped (and reported by the caller).
pub const MAX_HASH_LEN: usize = 1 << 20;
/// Most key=value pairs we keep from one link.
pub const MAX_PAIRS: usize = 64;

/// A parsed hash: the explorer name and its key/value pairs in order (values percent-decoded).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HashParts {
    pub explorer: String,
    pub pairs: Vec<(String, String)>,
    /// True when the input was longer than [`MAX_HASH_LEN`] or had more than [`MAX_PAIRS`] pairs.
    pub truncated: bool,
}

/// Splits `#explorer?k=v&...` (the leading `#` is optional; a full URL is accepted too).
pub fn split_hash(input: &str) -> HashParts {
    let mut truncated = false;
    let mut text = input;
    if text.len() > MAX_HASH_LEN {
        let mut cut = MAX_HASH_LEN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text = &text[..cut];
        truncated = true;
    }
    if let Some(pos) = text.find('#') {
        text = &text[pos + 1..];
    }
    let (explorer, query) = match text.find('?') {
        Some(pos) => (&text[..pos], &text[pos + 1..]),
        None if text.contains('=') => ("", text),
        None => (text, ""),
    };
    let mut pairs = Vec::new();
    for piece in query.split('&') {
        if piece.is_empty() {
            continue;
        }
        if pairs.len() >= MAX_PAIRS {
            truncated = true;
            break;
        }
        let (key, value) = match piece.find('=') {
            Some(pos) => (&piece[..pos], &piece[pos + 1..]),
            None => (piece, ""),
        };
        pairs.push((percent_decode(key), percent_decode(value)));
    }
    HashParts {
        explorer: percent_decode(explorer),
        pairs,
        truncated,
    }
}

/// Percent-decodes (also `+` as space); invalid escapes are kept literally, invalid UTF-8 is replaced.
///
/// `+` becomes a space before decoding, so an escaped plus (`%2B`) still decodes to `+`.
pub fn percent_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// What [`percent_encode`] escapes: every byte but ASCII letters, digits and `,` `.` `-` `_` `~`
/// `;` `:` (bytes of non-ASCII characters are always escaped).
const HASH_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b',')
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~')
    .remove(b';')
    .remove(b':');

/// Percent-encodes everything but unreserved characters and a few that are safe and readable inside a
/// hash value (`,` `.` `-` `_` `~` `;` `:`), so number lists stay legible in shared links. Escapes
/// are `%XX` with upper-case hex digits.
pub fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, HASH_VALUE).to_string()
}

/// Joins pairs back into `#explorer?k=v&...` (values percent-encoded).
pub fn join_hash(explorer: &str, pairs: &[(String, String)]) -> String {
    let mut out = format!("#{explorer}");
    for (index, (key, value)) in pairs.iter().enumerate() {
        out.push(if index == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(&percent_encode(value));
    }
    out
}

/// Formats a number as the shortest text that parses back to exactly the same f64.
pub fn format_number(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string(); // also turns -0 into 0
    }
    let text = format!("{value}");
    // Rust prints 1e21 as a long integer; prefer exponent form when it is shorter and still exact.
    let exp = format!("{value:e}");
    if exp.len() < text.len() && exp.parse::<f64>() == Ok(value) {
        exp
    } else {
        text
    }
}

/// Quotes link text back to the reader in messages: at most 24 characters.
pub fn shorten(text: &str) -> String {
    if text.chars().count() > 24 {
        text.chars().take(24).collect::<String>() + "…"
    } else {
        text.to_string()
    }
}

/// Parses a finite number; rejects NaN, infinities and trailing garbage.
pub fn parse_number(text: &str) -> Option<f64> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.len() > 64 {
        return None;
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    trimmed.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_explorer_and_pairs() {
        let parts = split_hash("#next-token?T=0.5&labels=a%2Cb,c&flag");
        assert_eq!(parts.explorer, "next-token");
        assert_eq!(
            parts.pairs,
            vec![
                ("T".into(), "0.5".into()),
                ("labels".into(), "a,b,c".into()),
                ("flag".into(), "".into())
            ]
        );
    }

    #[test]
    fn decode_keeps_bad_escapes_and_encode_round_trips() {
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%"), "%");
        for text in ["<img src=x onerror=alert(1)>", "שלום 🙂", "a,b;c", "%25"] {
            assert_eq!(percent_decode(&percent_encode(text)), text);
        }
    }

    #[test]
    fn plus_is_space_but_escaped_plus_is_plus() {
        assert_eq!(percent_decode("a+b%2Bc%2bd"), "a b+c+d");
        assert_eq!(percent_decode("%+2B"), "% 2B");
        assert_eq!(percent_decode("%FF%e2%82"), "\u{fffd}\u{fffd}");
        assert_eq!(percent_decode("%C3%A9%F0%9F%99%82"), "é🙂");
        assert_eq!(
            percent_encode("aZ09,.-_~;: +%/é\u{7f}"),
            "aZ09,.-_~;:%20%2B%25%2F%C3%A9%7F"
        );
    }

    /// The codec before the `percent-encoding` crate, kept as the reference behaviour.
    mod reference {
        fn hex_value(byte: u8) -> Option<u8> {
            match byte {
                b'0'..=b'9' => Some(byte - b'0'),
                b'a'..=b'f' => Some(byte - b'a' + 10),
                b'A'..=b'F' => Some(byte - b'A' + 10),
                _ => None,
            }
        }

        pub fn decode(text: &str) -> String {
            let bytes = text.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'%' if i + 2 < bytes.len() => {
                        match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                            (Some(hi), Some(lo)) => {
                                out.push(hi * 16 + lo);
                                i += 3;
                            }
                            _ => {
                                out.push(b'%');
                                i += 1;
                            }
                        }
                    }
                    b'+' => {
                        out.push(b' ');
                        i += 1;
                    }
                    byte => {
                        out.push(byte);
                        i += 1;
                    }
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        }

        pub fn encode(text: &str) -> String {
            let mut out = String::with_capacity(text.len());
            for &byte in text.as_bytes() {
                if byte.is_ascii_alphanumeric() || b",.-_~;:".contains(&byte) {
                    out.push(byte as char);
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
            out
        }
    }

    proptest::proptest! {
        #[test]
        fn codec_matches_the_hand_written_one(
            text in "([%+a-fA-F0-9gG.,;:~_ -]|%[0-9a-fA-F]{0,2}|%[89a-fA-F][0-9a-fA-F]|\\PC|[\\x00-\\x7f]){0,24}",
        ) {
            proptest::prop_assert_eq!(percent_decode(&text), reference::decode(&text));
            proptest::prop_assert_eq!(percent_encode(&text), reference::encode(&text));
            proptest::prop_assert_eq!(percent_decode(&percent_encode(&text)), text.clone());
        }
    }

    #[test]
    fn numbers_round_trip_and_reject_non_finite() {
        for value in [0.1, 1.0 / 3.0, 1e-300, 123456.789, -2.5, 1e21] {
            assert_eq!(parse_number(&format_number(value)), Some(value));
        }
        for bad in ["NaN", "inf", "-Infinity", "", "1.2.3", "1e999"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn huge_input_is_truncated_not_fatal() {
        let long = format!("#next-token?{}", "a=1&".repeat(300_000));
        let parts = split_hash(&long);
        assert!(parts.truncated);
        assert_eq!(parts.pairs.len(), MAX_PAIRS);
    }
}
