//! Parameter-table machinery shared by every explorer: a [`Param`] row describes one link key (its
//! label, tooltip, group, control kind and accessors into the explorer's state), and
//! [`apply_value`] validates one `key=value` against it with the same clamping rules and message
//! texts in every explorer.
//!
//! Each explorer keeps its own table (`next_token::params::PARAMS`, `attention::params::PARAMS`),
//! its own state type `S` and group type `G`.

use crate::url::{self, format_number, parse_number, shorten};

pub use crate::message::Message;

/// How a parameter is edited and validated.
pub enum Kind<S> {
    /// A real number in [min, max]; `log` sliders move in log10 space.
    Number {
        min: f64,
        max: f64,
        log: bool,
        step: f64,
        get: fn(&S) -> f64,
        set: fn(&mut S, f64),
    },
    /// An integer in [min, max].
    Integer {
        min: f64,
        max: f64,
        get: fn(&S) -> f64,
        set: fn(&mut S, f64),
    },
    /// One of a fixed list of (url value, human label).
    Choice {
        options: &'static [(&'static str, &'static str)],
        get: fn(&S) -> &'static str,
        set: fn(&mut S, &str),
    },
    /// Free text with its own parser (lists, matrices); `set` reports what it could not use.
    Text {
        placeholder: &'static str,
        get: fn(&S) -> String,
        set: fn(&mut S, &str, &mut Vec<Message>),
    },
}

/// One row of an explorer's parameter table.
pub struct Param<S, G> {
    pub key: &'static str,
    pub label: &'static str,
    /// Tooltip: what the setting means, in one or two plain sentences.
    pub help: &'static str,
    pub group: G,
    pub kind: Kind<S>,
    /// Whether the control matters for the current state (irrelevant ones are dimmed on the page).
    pub relevant: fn(&S) -> bool,
}

/// Checks the link-format version `v`: older or equal versions pass silently, newer ones and
/// garbage are reported.
pub fn check_version(value: &str, current: u32, msgs: &mut Vec<Message>) {
    match value.trim().parse::<u32>() {
        Ok(version) if version <= current => {}
        Ok(version) => msgs.push(Message::new(
            "v",
            format!("this link was written by a newer version (format {version}); settings this version does not know were ignored"),
        )),
        Err(_) => msgs.push(Message::new("v", "v: not a format version; ignored")),
    }
}

/// Applies one value to the state through its table row: numbers are parsed (finite only),
/// integers rounded, both clamped to [min, max]; choices must be one of the options; text goes to
/// the row's own parser. Every change the reader did not ask for is reported, naming `key`.
pub fn apply_value<S, G>(
    param: &Param<S, G>,
    st: &mut S,
    key: &str,
    value: &str,
    msgs: &mut Vec<Message>,
) {
    let value_short = shorten(value);
    match &param.kind {
        Kind::Number {
            min, max, get, set, ..
        }
        | Kind::Integer {
            min, max, get, set, ..
        } => {
            let is_int = matches!(param.kind, Kind::Integer { .. });
            match parse_number(value) {
                None => msgs.push(Message::new(
                    key,
                    format!(
                        "{key}={value_short} is not a finite number; kept {}",
                        format_number(get(st))
                    ),
                )),
                Some(mut v) => {
                    if is_int && v.fract() != 0.0 {
                        v = v.round();
                        msgs.push(Message::new(
                            key,
                            format!(
                                "{key}={value_short} is not a whole number; rounded to {}",
                                format_number(v)
                            ),
                        ));
                    }
                    if v < *min || v > *max {
                        let clamped = v.clamp(*min, *max);
                        msgs.push(Message::new(
                            key,
                            format!(
                                "{key}={value_short} is outside [{}, {}]; clamped to {}",
                                format_number(*min),
                                format_number(*max),
                                format_number(clamped)
                            ),
                        ));
                        v = clamped;
                    }
                    set(st, v);
                }
            }
        }
        Kind::Choice { options, get, set } => {
            if options.iter().any(|(name, _)| *name == value) {
                set(st, value);
            } else {
                msgs.push(Message::new(
                    key,
                    format!(
                        "{key}={value_short} is not one of {}; kept {}",
                        options
                            .iter()
                            .map(|(name, _)| *name)
                            .collect::<Vec<_>>()
                            .join(", "),
                        get(st)
                    ),
                ));
            }
        }
        Kind::Text { set, .. } => set(st, value, msgs),
    }
}

/// Puts every number and integer of `st` back inside its row's range (links cannot break these,
/// code can): a non-finite value takes its default, integers are rounded, -0 becomes 0 (it prints
/// as 0, so the state stays equal to its link); each change is reported, naming the key.
pub fn clamp_ranges<S, G>(
    params: &[Param<S, G>],
    st: &mut S,
    defaults: &S,
    msgs: &mut Vec<Message>,
) {
    for param in params {
        let (min, max, get, set, is_int) = match &param.kind {
            Kind::Number {
                min, max, get, set, ..
            } => (*min, *max, *get, *set, false),
            Kind::Integer { min, max, get, set } => (*min, *max, *get, *set, true),
            _ => continue,
        };
        let v = get(st);
        if v == 0.0 && v.is_sign_negative() {
            set(st, 0.0); // -0 prints as 0: keep the state equal to its link, bit for bit
        }
        let fixed = if !v.is_finite() {
            get(defaults)
        } else {
            let v = if is_int { v.round() } else { v };
            v.clamp(min, max)
        };
        if fixed != v {
            msgs.push(Message::new(
                param.key,
                format!(
                    "{}: {} is outside [{}, {}]; using {}",
                    param.key,
                    format_number(v),
                    format_number(min),
                    format_number(max),
                    format_number(fixed)
                ),
            ));
            set(st, fixed);
        }
    }
}

/// The canonical text of one parameter's current value (what the URL and `state()` carry):
/// numbers as the shortest text that reads back exactly, integers in plain digits (`2000`, not
/// `2e3`).
pub fn value_text<S, G>(param: &Param<S, G>, st: &S) -> String {
    match &param.kind {
        Kind::Number { get, .. } => format_number(get(st)),
        Kind::Integer { get, .. } => integer_text(get(st)),
        Kind::Choice { get, .. } => get(st).to_string(),
        Kind::Text { get, .. } => get(st),
    }
}

/// An integer-valued number in plain digits (anything else as [`format_number`] writes it).
pub fn integer_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 9.2e18 {
        format!("{}", value as i64)
    } else {
        format_number(value)
    }
}

/// Every key of a table, in table order (what `hide=` may name).
pub fn keys<S, G>(params: &[Param<S, G>]) -> Vec<&'static str> {
    params.iter().map(|p| p.key).collect()
}

/// Looks a table row up by its URL key.
pub fn find<'a, S, G>(params: &'a [Param<S, G>], key: &str) -> Option<&'a Param<S, G>> {
    params.iter().find(|p| p.key == key)
}

/// Numbers as [`format_number`] writes them, joined by `sep`.
pub fn join_numbers(values: &[f64], sep: &str) -> String {
    values
        .iter()
        .map(|v| format_number(*v))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Parses a comma-separated number list for `key`: entries beyond `max_len` are ignored, bad
/// entries reported and skipped, magnitudes clamped to `max_abs` (pass `f64::INFINITY` for no
/// clamp), each with a message. Empty text is one bad entry; callers that read it as the empty
/// list check that first.
pub fn parse_list(
    text: &str,
    key: &str,
    max_len: usize,
    max_abs: f64,
    msgs: &mut Vec<Message>,
) -> Vec<f64> {
    let mut out = Vec::new();
    let mut bad = 0usize;
    let mut clamped = false;
    for (index, item) in text.split(',').enumerate() {
        if index >= max_len {
            msgs.push(Message::new(
                key,
                format!("{key}: more than {max_len} entries; the rest were ignored"),
            ));
            break;
        }
        match parse_number(item) {
            Some(v) => {
                if v.abs() > max_abs {
                    clamped = true;
                }
                out.push(v.clamp(-max_abs, max_abs));
            }
            None => bad += 1,
        }
    }
    if bad > 0 {
        msgs.push(Message::new(
            key,
            format!(
                "{key}: {bad} entr{} not a finite number and ignored",
                if bad == 1 { "y was" } else { "ies were" }
            ),
        ));
    }
    if clamped {
        msgs.push(Message::new(
            key,
            format!("{key}: values clamped to ±{}", format_number(max_abs)),
        ));
    }
    out
}

/// Applies one `key=value` of a link through the table: `v` is checked as the link-format
/// version (`version` is the current one), page options are left to `crate::page`, unknown keys
/// are reported and ignored, everything else goes through [`apply_value`].
pub fn apply_pair<S, G>(
    params: &[Param<S, G>],
    version: u32,
    st: &mut S,
    key: &str,
    value: &str,
    msgs: &mut Vec<Message>,
) {
    if key == "v" {
        check_version(value, version, msgs);
        return;
    }
    if crate::page::is_page_key(key) {
        return; // embedding and view options: parsed by crate::page
    }
    let Some(param) = find(params, key) else {
        msgs.push(Message::new(
            key,
            format!("unknown setting '{}' ignored", shorten(key)),
        ));
        return;
    };
    apply_value(param, st, key, value, msgs);
}

/// Reads a link (or bare hash) of the explorer named `explorer`, starting from the default state:
/// a cut-off link and another explorer's name are reported, then `apply_pairs` reads the pairs and
/// `normalise` ties the keys together. Always returns a usable state.
pub fn read_hash<S: Default>(
    hash: &str,
    explorer: &str,
    apply_pairs: impl FnOnce(&mut S, &[(String, String)], &mut Vec<Message>),
    normalise: impl FnOnce(&mut S, &mut Vec<Message>),
) -> (S, Vec<Message>) {
    let parts = url::split_hash(hash);
    let mut st = S::default();
    let mut msgs = Vec::new();
    if parts.truncated {
        msgs.push(Message::new(
            "link",
            "the link was too long; its end was ignored",
        ));
    }
    if !parts.explorer.is_empty() && parts.explorer != explorer {
        msgs.push(Message::new(
            "link",
            format!(
                "unknown explorer '{}'; showing the {explorer} explorer",
                shorten(&parts.explorer)
            ),
        ));
    }
    apply_pairs(&mut st, &parts.pairs, &mut msgs);
    normalise(&mut st, &mut msgs);
    (st, msgs)
}

/// The pairs a link carries: the format version first, then, in table order, each key for which
/// `travels(param, changed)` holds, where `changed` says whether its text (by `value_text`)
/// differs from the one in the default state.
pub fn link_pairs<S: Default, G>(
    params: &[Param<S, G>],
    version: u32,
    st: &S,
    value_text: impl Fn(&Param<S, G>, &S) -> String,
    travels: impl Fn(&Param<S, G>, bool) -> bool,
) -> Vec<(String, String)> {
    let defaults = S::default();
    let mut pairs = vec![("v".to_string(), version.to_string())];
    for param in params {
        let text = value_text(param, st);
        let changed = text != value_text(param, &defaults);
        if travels(param, changed) {
            pairs.push((param.key.to_string(), text));
        }
    }
    pairs
}

/// Every key with the text of its value, in table order (what `state()` returns to scripts).
pub fn all_pairs<S, G>(
    params: &[Param<S, G>],
    st: &S,
    value_text: impl Fn(&Param<S, G>, &S) -> String,
) -> Vec<(&'static str, String)> {
    params.iter().map(|p| (p.key, value_text(p, st))).collect()
}

/// A one-click preset of an explorer: a named, described link.
pub struct Preset {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// The link (hash) of the preset, in this version's format.
    pub hash: &'static str,
}
