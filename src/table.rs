//! Parameter-table machinery shared by every explorer: a [`Param`] row describes one link key (its
//! label, tooltip, group, control kind and accessors into the explorer's state), and
//! [`apply_value`] validates one `key=value` against it with the same clamping rules and message
//! texts in every explorer.
//!
//! Each explorer keeps its own table (`next_token::params::PARAMS`, `attention::params::PARAMS`),
//! its own state type `S` and group type `G`.

use crate::url::{format_number, parse_number, shorten};

/// Something the reader should know about their link or input: which key, and what was done.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub key: String,
    pub text: String,
}

impl Message {
    pub fn new(key: &str, text: impl Into<String>) -> Self {
        Message {
            key: key.to_string(),
            text: text.into(),
        }
    }
}

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
