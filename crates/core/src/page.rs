//! Page options shared by every explorer: embedding, hidden controls, autoplay, theme and which
//! panels show. They travel in the same hash as the explorer's own keys
//! (`#next-token?T=0.5&embed=1&hide=T,trunc`), are validated the same way, and are printed only when
//! they differ from the defaults.

use serde::{Serialize, Serializer};

use crate::message::Message;
use crate::url::{self, shorten};

/// Keys owned by the page rather than by an explorer's parameter table.
pub const PAGE_KEYS: &[&str] = &[
    "embed", "hide", "controls", "autoplay", "loop", "theme", "view",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

/// In JSON a theme is its link name (`"auto"`, `"light"`, `"dark"`).
impl Serialize for Theme {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The JSON form (the exports' `page` object) uses the link's names, in this order:
/// `embed, hide, controls, autoplay, loop, theme, view` (`controls` as a flag, `theme` as its name).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PageOptions {
    /// Minimal chrome for iframes: the figure, a compact control strip, a link back.
    pub embed: bool,
    /// Control keys whose controls are hidden (the values still apply).
    pub hide: Vec<String>,
    /// False = no controls at all (`controls=none`).
    pub controls: bool,
    pub autoplay: bool,
    #[serde(rename = "loop")]
    pub looping: bool,
    pub theme: Theme,
    /// Panels to show, in the explorer's names; empty = all.
    pub view: Vec<String>,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions {
            embed: false,
            hide: Vec::new(),
            controls: true,
            autoplay: false,
            looping: false,
            theme: Theme::Auto,
            view: Vec::new(),
        }
    }
}

pub fn is_page_key(key: &str) -> bool {
    PAGE_KEYS.contains(&key)
}

fn parse_flag(key: &str, value: &str, msgs: &mut Vec<Message>) -> Option<bool> {
    match value {
        "1" | "true" | "on" | "yes" | "" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => {
            msgs.push(Message::new(
                key,
                format!("{key}={} is not 1 or 0; ignored", shorten(value)),
            ));
            None
        }
    }
}

/// Parses a comma list of names, keeping only known ones (unknown ones are reported).
fn parse_names(key: &str, value: &str, known: &[&str], msgs: &mut Vec<Message>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut unknown = Vec::new();
    for name in value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .take(64)
    {
        if known.contains(&name) {
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        } else {
            unknown.push(shorten(name));
        }
    }
    if !unknown.is_empty() {
        msgs.push(Message::new(
            key,
            format!(
                "{key}: unknown name{} {} ignored",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.join(", ")
            ),
        ));
    }
    out
}

/// Applies one page key. `controls` and `panels` are the explorer's control keys and panel names.
pub fn apply_pair(
    opts: &mut PageOptions,
    key: &str,
    value: &str,
    controls: &[&str],
    panels: &[&str],
    msgs: &mut Vec<Message>,
) {
    match key {
        "embed" => {
            if let Some(v) = parse_flag(key, value, msgs) {
                opts.embed = v;
            }
        }
        "autoplay" => {
            if let Some(v) = parse_flag(key, value, msgs) {
                opts.autoplay = v;
            }
        }
        "loop" => {
            if let Some(v) = parse_flag(key, value, msgs) {
                opts.looping = v;
            }
        }
        "controls" => match value {
            "none" | "0" | "off" => opts.controls = false,
            "all" | "1" | "on" | "" => opts.controls = true,
            _ => msgs.push(Message::new(
                key,
                format!(
                    "controls={} is not 'none' or 'all'; ignored",
                    shorten(value)
                ),
            )),
        },
        "theme" => match value {
            "auto" => opts.theme = Theme::Auto,
            "light" => opts.theme = Theme::Light,
            "dark" => opts.theme = Theme::Dark,
            _ => msgs.push(Message::new(
                key,
                format!(
                    "theme={} is not light, dark or auto; ignored",
                    shorten(value)
                ),
            )),
        },
        "hide" => opts.hide = parse_names(key, value, controls, msgs),
        "view" => {
            let names = parse_names(key, value, panels, msgs);
            // Showing nothing is never what a reader wants: fall back to everything.
            opts.view = names;
        }
        _ => {}
    }
}

/// Reads the page options from a hash (other keys are left to the explorer).
pub fn from_hash(hash: &str, controls: &[&str], panels: &[&str]) -> (PageOptions, Vec<Message>) {
    let parts = url::split_hash(hash);
    let mut opts = PageOptions::default();
    let mut msgs = Vec::new();
    for (key, value) in &parts.pairs {
        if is_page_key(key) {
            apply_pair(&mut opts, key, value, controls, panels, &mut msgs);
        }
    }
    (opts, msgs)
}

/// The non-default page options as key/value pairs (appended to the explorer's link).
pub fn to_pairs(opts: &PageOptions) -> Vec<(String, String)> {
    let d = PageOptions::default();
    let mut pairs = Vec::new();
    if opts.embed != d.embed {
        pairs.push(("embed".into(), "1".into()));
    }
    if !opts.hide.is_empty() {
        pairs.push(("hide".into(), opts.hide.join(",")));
    }
    if !opts.controls {
        pairs.push(("controls".into(), "none".into()));
    }
    if opts.autoplay {
        pairs.push(("autoplay".into(), "1".into()));
    }
    if opts.looping {
        pairs.push(("loop".into(), "1".into()));
    }
    if opts.theme != d.theme {
        pairs.push(("theme".into(), opts.theme.as_str().into()));
    }
    if !opts.view.is_empty() {
        pairs.push(("view".into(), opts.view.join(",")));
    }
    pairs
}

/// Whether a panel shows under these options.
pub fn shows(opts: &PageOptions, panel: &str) -> bool {
    opts.view.is_empty() || opts.view.iter().any(|v| v == panel)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTROLS: &[&str] = &["T", "trunc", "flow"];
    const PANELS: &[&str] = &["simplex", "series", "logits"];

    #[test]
    fn round_trip_and_defaults() {
        let (opts, msgs) = from_hash(
            "#next-token?T=2&embed=1&hide=T,trunc&controls=none&autoplay=1&loop=1&theme=dark&view=simplex,series",
            CONTROLS,
            PANELS,
        );
        assert!(msgs.is_empty(), "{msgs:?}");
        assert!(opts.embed && opts.autoplay && opts.looping && !opts.controls);
        assert_eq!(opts.hide, vec!["T", "trunc"]);
        let hash = url::join_hash("next-token", &to_pairs(&opts));
        assert_eq!(from_hash(&hash, CONTROLS, PANELS).0, opts);
        assert!(to_pairs(&PageOptions::default()).is_empty());
    }

    #[test]
    fn bad_values_are_reported_and_ignored() {
        let (opts, msgs) = from_hash(
            "#x?embed=maybe&hide=T,<script>&theme=neon&view=nothing&controls=some",
            CONTROLS,
            PANELS,
        );
        assert_eq!(opts.hide, vec!["T"]);
        assert!(opts.view.is_empty());
        assert_eq!(opts.theme, Theme::Auto);
        assert_eq!(msgs.len(), 5, "{msgs:?}");
    }
}
