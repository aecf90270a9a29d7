//! Fuzzing of the link parser (proptest, so it runs in CI as an ordinary bounded test):
//! arbitrary bytes and arbitrary UTF-8 up to 1 MB, and links built from known keys with garbage
//! values. For every input: no panic, each parse well under a second, bounded output (every list
//! capped by its MAX_* constant, every number inside its range), a printed link that reads back to
//! the same state, messages that name what was ignored; and for small inputs the whole path
//! parse -> scene -> SVG with no NaN in the drawing.
//!
//! Case counts: the default (256, or PROPTEST_CASES, which CI sets to 64) for small inputs; at most
//! 8 for the megabyte ones.

use std::time::{Duration, Instant};
use td_core::explorer::Explorer;
use td_next_token::explorer::NextToken;

use proptest::prelude::*;
use td_core::page::PAGE_KEYS;
use td_core::url::{self, MAX_HASH_LEN, MAX_PAIRS};
use td_next_token::params::{
    self, vocab_size, GenMode, Kind, Message, Start, State, MAX_ABS_LOGIT, MAX_EXPLICIT_V,
    MAX_LABEL_CHARS, MAX_MATRIX_V, MAX_OVERLAY, MAX_STARTS, MAX_V, PARAMS,
};
use td_next_token::scene::Scene;
use td_next_token::svg::{render_svg, Figure};

const MB: usize = 1 << 20;
/// Each parse must finish well within this (it takes milliseconds even for 1 MB).
const PARSE_LIMIT: Duration = Duration::from_secs(1);
/// Longest message text we accept (link text inside messages is shortened; a list of 64 unknown
/// names in `hide=` gives the longest, about 1,800 characters).
const MAX_MESSAGE_CHARS: usize = 2_000;

fn cases(wanted: u32) -> ProptestConfig {
    ProptestConfig::with_cases(wanted.min(ProptestConfig::default().cases))
}

fn control_keys() -> Vec<&'static str> {
    PARAMS.iter().map(|p| p.key).collect()
}

/// Parses like the page does (explorer keys and page options), timing it.
fn parse(link: &str) -> (State, Vec<Message>, Vec<Message>) {
    let start = Instant::now();
    let (state, msgs) = NextToken::from_hash(link);
    let (_, page_msgs) = NextToken::page_from_hash(link);
    let took = start.elapsed();
    assert!(
        took < PARSE_LIMIT,
        "parsing a {}-byte link took {took:?}",
        link.len()
    );
    (state, msgs, page_msgs)
}

/// Everything a parsed state must satisfy, whatever the input was.
fn check_bounded(state: &State, msgs: &[Message], page_msgs: &[Message]) {
    let v = vocab_size(state);
    assert!((2..=MAX_V).contains(&v), "V = {v}");
    if state.gen == GenMode::None {
        assert!(state.s.len() <= MAX_EXPLICIT_V);
        assert_eq!(state.labels.len(), v);
    }
    assert!(state
        .s
        .iter()
        .all(|x| x.is_finite() && x.abs() <= MAX_ABS_LOGIT));
    assert!(state.labels.len() <= MAX_EXPLICIT_V);
    for label in &state.labels {
        assert!(
            label.chars().count() <= MAX_LABEL_CHARS + 1,
            "label of {} chars",
            label.chars().count()
        );
        assert!(!label.chars().any(char::is_control), "{label:?}");
    }
    assert!((1..=MAX_STARTS).contains(&state.starts.len()));
    for start in &state.starts {
        match start {
            Start::Uniform => {}
            Start::Full(p) => {
                assert_eq!(p.len(), v);
                assert!(p.iter().all(|x| x.is_finite() && *x >= 0.0));
            }
            Start::Corners(c) => assert!(c.iter().all(|x| x.is_finite() && *x >= 0.0)),
        }
    }
    if let Some((_, values)) = &state.overlay {
        assert!(!values.is_empty() && values.len() <= MAX_OVERLAY);
        assert!(values.iter().all(|x| x.is_finite()));
    }
    assert!(state.w.len() <= MAX_MATRIX_V * MAX_MATRIX_V);
    assert!(state.w.iter().all(|x| x.is_finite()));
    if let Some(c) = state.corners {
        assert!(c.iter().all(|&i| i < v));
    }
    for param in PARAMS {
        if let Kind::Number { min, max, get, .. } | Kind::Integer { min, max, get, .. } =
            &param.kind
        {
            let value = get(state);
            assert!(
                value.is_finite() && value >= *min && value <= *max,
                "{} = {value} outside [{min}, {max}]",
                param.key
            );
        }
    }
    // Each pair yields at most a few messages; each message stays short.
    assert!(msgs.len() <= 4 * MAX_PAIRS + 16, "{} messages", msgs.len());
    assert!(page_msgs.len() <= MAX_PAIRS);
    for m in msgs.iter().chain(page_msgs) {
        assert!(
            m.text.chars().count() <= MAX_MESSAGE_CHARS,
            "message of {} chars: {}…",
            m.text.chars().count(),
            m.text.chars().take(80).collect::<String>()
        );
        assert!(m.key.chars().count() <= MB, "unbounded key");
    }
    // The printed link is itself a readable link, and printing is a fixpoint: reading it back and
    // printing again gives the same link. (Not `again == state`: keys that only matter in another
    // mode, e.g. `seed` or `V` without `gen`, are parsed but not printed.)
    let printed = NextToken::to_hash(state);
    assert!(
        printed.len() <= MAX_HASH_LEN,
        "printed link of {} bytes",
        printed.len()
    );
    let (again, _) = NextToken::from_hash(&printed);
    let reprinted = NextToken::to_hash(&again);
    assert!(
        reprinted == printed,
        "print/parse/print changed the link:\n  {}\n  {}",
        short(&printed),
        short(&reprinted)
    );
}

fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

fn fuzz_text(text: &str) {
    let (state, msgs, page_msgs) = parse(text);
    check_bounded(&state, &msgs, &page_msgs);
    // The same text as a hash of this explorer.
    let link = format!("#next-token?{text}");
    let (state, msgs, page_msgs) = parse(&link);
    check_bounded(&state, &msgs, &page_msgs);
}

/// Arbitrary UTF-8 of up to `max` characters, weighted towards the characters links are made of.
fn utf8(max: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        3 => prop::sample::select(vec![
            '&', '=', '?', '#', '%', ',', ';', ':', '.', '-', '+', 'e', 'E', '1', '0', '9', 'T', 's',
            'p', 'v', 'k', ' ', '\n', '\0', '\u{2028}', 'ש', '🙂', '\u{202e}',
        ]),
        1 => any::<char>(),
    ];
    proptest::collection::vec(ch, 0..=max).prop_map(|chars| chars.into_iter().collect())
}

/// About `bytes` bytes of UTF-8 from a seed (xorshift): half link characters, half any `char`.
fn seeded_utf8(seed: u64, bytes: usize) -> String {
    const LINK: &[char] = &[
        '&', '=', '?', '#', '%', ',', ';', ':', '.', '-', '+', 'e', '1', '0', '9', 'T', 's', 'p',
        'v', ' ', '\n', '\0', '\u{2028}', 'ש', '🙂', '\u{202e}',
    ];
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = String::with_capacity(bytes + 4);
    while text.len() < bytes {
        let r = next();
        let c = if r & 1 == 0 {
            LINK[(r >> 1) as usize % LINK.len()]
        } else {
            char::from_u32((r >> 1) as u32 % 0x11_0000).unwrap_or('\u{fffd}')
        };
        text.push(c);
    }
    text
}

/// Every key the parser knows, some near misses, and the page keys.
fn any_key() -> impl Strategy<Value = String> {
    let mut known: Vec<String> = PARAMS.iter().map(|p| p.key.to_string()).collect();
    known.extend(PAGE_KEYS.iter().map(|k| k.to_string()));
    known.push("v".into());
    prop_oneof![
        6 => prop::sample::select(known),
        1 => "[a-zA-Z_]{1,8}",
        1 => "[^&=#?%+]{1,12}",
    ]
}

/// Garbage that looks like the values links carry.
fn garbage_value() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<f64>().prop_map(|x| format!("{x}")),
        any::<f64>().prop_map(|x| format!("{x:e}")),
        any::<i64>().prop_map(|x| x.to_string()),
        prop::sample::select(vec![
            "NaN", "inf", "-inf", "1e999", "-0", "0x10", "1_000", "", " 1 ", "1e-400", "+5", ".5",
            "5.", "1,5", "２",
        ])
        .prop_map(str::to_string),
        (-10.0f64..10.0).prop_map(url::format_number),
    ];
    let options: Vec<String> = PARAMS
        .iter()
        .flat_map(|p| match &p.kind {
            Kind::Choice { options, .. } => options.iter().map(|(n, _)| n.to_string()).collect(),
            _ => Vec::new(),
        })
        .chain(
            [
                "rps", "sym", "spiral", "uniform", "auto", "none", "all", "dark", "light", "1", "0",
            ]
            .map(String::from),
        )
        .collect();
    prop_oneof![
        3 => number.clone(),
        2 => proptest::collection::vec(number.clone(), 0..40).prop_map(|v| v.join(",")),
        1 => proptest::collection::vec(number.clone(), 0..600).prop_map(|v| v.join(",")),
        1 => proptest::collection::vec(
            proptest::collection::vec(number.clone(), 0..8).prop_map(|v| v.join(",")),
            0..20
        )
        .prop_map(|v| v.join(";")),
        1 => (prop::sample::select(vec!["T", "eta", "x", ""]), proptest::collection::vec(number, 0..10))
            .prop_map(|(p, v)| format!("{p}:{}", v.join(","))),
        2 => prop::sample::select(options),
        1 => utf8(60),
        1 => "(%[0-9A-Fa-f]{0,2}|[a-z,;:+])*",
    ]
}

/// A link of known keys with garbage values (values percent-encoded, so each arrives intact).
fn garbage_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((any_key(), garbage_value()), 0..12)
}

fn link_of(pairs: &[(String, String)]) -> String {
    let mut link = String::from("#next-token?");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            link.push('&');
        }
        link.push_str(k);
        link.push('=');
        link.push_str(&url::percent_encode(v));
    }
    link
}

/// Messages must name each key whose value was ignored or replaced.
fn check_named(pairs: &[(String, String)], msgs: &[Message], page_msgs: &[Message]) {
    let named = |key: &str, list: &[Message]| list.iter().any(|m| m.key == key);
    for (key, value) in pairs.iter().take(MAX_PAIRS) {
        let key = key.as_str();
        if key == "v" {
            if value.trim().parse::<u32>().is_err() {
                assert!(named("v", msgs), "v={value:?}: no message");
            }
            continue;
        }
        if PAGE_KEYS.contains(&key) {
            let bad = match key {
                "theme" => !["auto", "light", "dark"].contains(&value.as_str()),
                "embed" | "autoplay" | "loop" => {
                    !["1", "true", "on", "yes", "", "0", "false", "off", "no"]
                        .contains(&value.as_str())
                }
                _ => false,
            };
            if bad {
                assert!(named(key, page_msgs), "{key}={value:?}: no page message");
            }
            continue;
        }
        let Some(param) = NextToken::param(key) else {
            assert!(named(key, msgs), "unknown key {key:?}: no message");
            continue;
        };
        match &param.kind {
            Kind::Number { .. } | Kind::Integer { .. } => {
                if url::parse_number(value).is_none() {
                    assert!(named(key, msgs), "{key}={value:?}: no message");
                }
            }
            Kind::Choice { options, .. } => {
                if !options.iter().any(|(n, _)| n == value) {
                    assert!(named(key, msgs), "{key}={value:?}: no message");
                }
            }
            Kind::Text { .. } => {}
        }
    }
}

/// The drawing's markup without its text content (labels may legitimately say "NaN").
fn markup_only(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len());
    let mut in_tag = false;
    for c in svg.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(c);
            }
            '>' => {
                in_tag = false;
                out.push(c);
            }
            c if in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn small_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz_text(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn small_arbitrary_utf8(text in utf8(2048)) {
        fuzz_text(&text);
    }

    #[test]
    fn known_keys_with_garbage_values(pairs in garbage_pairs()) {
        let link = link_of(&pairs);
        let (state, msgs, page_msgs) = parse(&link);
        check_bounded(&state, &msgs, &page_msgs);
        check_named(&pairs, &msgs, &page_msgs);
    }
}

proptest! {
    #![proptest_config(cases(8))]

    #[test]
    fn megabyte_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), MB / 2..=MB)) {
        fuzz_text(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn megabyte_arbitrary_utf8(seed in any::<u64>(), bytes in MB / 2..=MB) {
        // Built from a seed rather than element by element: a 1 MB proptest vector keeps a value
        // tree per element (hundreds of MB), and shrinking a megabyte string is of no use anyway.
        fuzz_text(&seeded_utf8(seed, bytes));
    }

    #[test]
    fn megabyte_of_one_key(key in any_key(), unit in garbage_value()) {
        let unit = if unit.is_empty() { "1".to_string() } else { unit };
        let mut value = String::new();
        while value.len() < MB {
            value.push_str(&unit);
            value.push(',');
        }
        fuzz_text(&format!("{key}={value}"));
    }
}

proptest! {
    #![proptest_config(cases(64))]

    #[test]
    fn small_links_draw_without_nan(pairs in garbage_pairs()) {
        let link = link_of(&pairs);
        let (mut state, _, _) = parse(&link);
        // Keep each case cheap: a small generated vocabulary, a bounded number of steps.
        if state.gen != GenMode::None {
            state.v = state.v.min(64);
        }
        state.horizon = state.horizon.min(40.0);
        state.eta = state.eta.max(0.02);
        params::normalise(&mut state, &mut Vec::new());
        let at = state.at;
        let mut scene = Scene::new(state);
        while !scene.advance(usize::MAX) {}
        for figure in [Figure::Simplex, Figure::Series, Figure::Logits] {
            let size = figure.default_size(scene.panels.len());
            let svg = render_svg(&scene, figure, size, at);
            let markup = markup_only(&svg);
            prop_assert!(svg.starts_with("<svg"), "{figure:?}: {}", &svg[..svg.len().min(200)]);
            prop_assert!(!markup.contains("NaN"), "{figure:?} has NaN for {link}");
            prop_assert!(!markup.contains("inf"), "{figure:?} has inf for {link}");
            prop_assert!(!svg.contains("drawing failed"), "{figure:?} failed for {link}");
        }
    }
}

/// Every key with a megabyte value of the characters most likely to cost work.
#[test]
fn every_key_with_a_megabyte_value() {
    let units = ["1,", "0.5;", "%", "%2C", "a", "🙂", ";", "T:1,", "1e308,"];
    let mut keys: Vec<&str> = control_keys();
    keys.extend(PAGE_KEYS);
    keys.push("v");
    for key in keys {
        for unit in units {
            let value = unit.repeat(MB / unit.len());
            let (state, msgs, page_msgs) = parse(&format!("#next-token?{key}={value}"));
            check_bounded(&state, &msgs, &page_msgs);
        }
    }
}
