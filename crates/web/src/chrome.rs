//! The page chrome every explorer shares, as DOM effects that need no running page: the message
//! banner, busy/ready flags and progress bar, the address bar, presets, page options applied to
//! the DOM (classes, theme, hidden panels and controls), the "open in token-dynamics" link, the
//! playback clock, and [`Chrome`], what every page keeps besides its explorer's state.

use td_core::explorer::{Explorer, FigureInfo, TextPanel};
use td_core::page::{self, PageOptions};
use td_core::table::{Message, Preset};
use wasm_bindgen::prelude::*;

use crate::dom::{self, by_id, make, set_attr};

/// Shows `messages` in the banner (hidden when empty). Text only: link text never becomes markup.
pub fn show_messages(messages: &[Message]) {
    let (Some(root), Some(list)) = (by_id("messages"), by_id("message-list")) else {
        return;
    };
    dom::clear(&list);
    for message in messages {
        let _ = list.append_child(&make("li", "", Some(&message.text)));
    }
    if messages.is_empty() {
        set_attr(&root, "hidden", "");
    } else {
        let _ = root.remove_attribute("hidden");
    }
}

/// The page contract's busy flag (`body[data-busy]`, `aria-busy`) and the progress bar.
pub fn set_busy(busy: bool, progress: f64) {
    if let Some(body) = dom::document().body() {
        set_attr(&body, "data-busy", if busy { "1" } else { "0" });
        set_attr(&body, "aria-busy", if busy { "true" } else { "false" });
    }
    if !busy {
        show_text_pending(false);
    }
    if let Some(bar) = by_id("progress") {
        if busy {
            let _ = bar.remove_attribute("hidden");
            set_attr(&bar, "value", &format!("{progress:.3}"));
        } else {
            set_attr(&bar, "hidden", "");
        }
    }
}

/// Shows (or clears) "analysing…" beside every text box: typed text not yet applied, or a scene
/// still computing.
pub fn show_text_pending(pending: bool) {
    let Ok(list) = dom::document().query_selector_all("[data-text-status]") else {
        return;
    };
    for i in 0..list.length() {
        if let Some(node) = list.item(i) {
            node.set_text_content(Some(if pending { "analysing…" } else { "" }));
        }
    }
}

/// How long (ms) the page must stay unchanged before its summary is announced.
const ANNOUNCE_SETTLE_MS: i32 = 700;

thread_local! {
    /// Counts summaries handed to [`announce_settled`]; only the latest is announced.
    static ANNOUNCED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Puts `summary` in the page's one polite live region (`#announce`) once nothing has changed for
/// [`ANNOUNCE_SETTLE_MS`]: twenty arrow presses on a slider are one announcement, not twenty (the
/// text summary itself, `#summary`, is not a live region, nor are the controls' outputs).
pub fn announce_settled(summary: &str) {
    let ticket = ANNOUNCED.with(|a| {
        a.set(a.get() + 1);
        a.get()
    });
    let summary = summary.to_string();
    dom::set_timeout(
        move || {
            if ANNOUNCED.with(|a| a.get()) != ticket {
                return;
            }
            if let Some(el) = by_id("announce") {
                if el.text_content().as_deref() != Some(summary.as_str()) {
                    el.set_text_content(Some(&summary));
                }
            }
        },
        ANNOUNCE_SETTLE_MS,
    );
}

/// `body[data-ready="1"]`: the first scene is computed and painted.
pub fn mark_ready() {
    if let Some(body) = dom::document().body() {
        set_attr(&body, "data-ready", "1");
    }
}

/// Replaces the address bar's hash (no history entry) if it differs.
pub fn replace_hash(hash: &str) {
    let current = dom::window().location().hash().unwrap_or_default();
    if current != hash {
        if let Ok(history) = dom::window().history() {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(hash));
        }
    }
}

/// Below this viewport width (CSS px) the presets start folded into their chooser, so that a
/// phone's first screen shows the figure rather than a wall of chips.
const PRESETS_FOLDED_BELOW: f64 = 600.0;

/// One link per preset (each is a plain link; `data-preset` names it for tests and scripts), in
/// a disclosure whose summary counts them; folded on narrow screens.
pub fn build_presets(presets: &[Preset]) {
    let Some(root) = by_id("presets") else { return };
    if let Some(summary) = by_id("presets-summary") {
        summary.set_text_content(Some(&format!("Presets ({})", presets.len())));
    }
    let width = dom::window()
        .inner_width()
        .ok()
        .and_then(|w| w.as_f64())
        .unwrap_or(f64::INFINITY);
    if let Some(box_) = by_id("presets-box") {
        if width < PRESETS_FOLDED_BELOW || presets.is_empty() {
            let _ = box_.remove_attribute("open");
        }
    }
    dom::clear(&root);
    for preset in presets {
        let link = make("a", "preset", Some(preset.title));
        set_attr(&link, "href", preset.hash);
        set_attr(&link, "data-preset", preset.name);
        set_attr(&link, "role", "button");
        set_attr(&link, "title", preset.description);
        let _ = root.append_child(&link);
    }
}

/// Play/pause state: while playing, the position runs from `origin.1` at time `origin.0`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Playback {
    pub playing: bool,
    pub origin: (f64, f64),
}

impl Playback {
    /// Starts (from 0 when at the end) or stops; returns the position to show.
    pub fn toggle(&mut self, at: f64) -> f64 {
        self.playing = !self.playing;
        let at = if self.playing && at >= 1.0 { 0.0 } else { at };
        if self.playing {
            self.origin = (dom::now_ms(), at);
        }
        if let Some(button) = by_id("play") {
            button.set_text_content(Some(if self.playing {
                "❚❚ Pause"
            } else {
                "▶ Play"
            }));
            set_attr(
                &button,
                "aria-pressed",
                if self.playing { "true" } else { "false" },
            );
        }
        at
    }

    /// The position now, for a whole run lasting `duration_ms` at speed 1.
    pub fn position(&self, speed: f64, duration_ms: f64) -> f64 {
        self.origin.1 + (dom::now_ms() - self.origin.0) * speed / duration_ms
    }
}

/// What every explorer's page keeps besides its own state and scene.
pub struct Chrome {
    /// Page options from the link (embed, hide, controls, autoplay, loop, theme, view).
    pub page: PageOptions,
    /// The page options changed since they were last applied to the DOM.
    pub page_dirty: bool,
    pub messages: Vec<Message>,
    pub playback: Playback,
    /// Bumped by every new scene; a chunked computation of an older one stops.
    pub generation: u64,
    pub last_paint_ms: f64,
    /// Milliseconds of each stage of the last update (for the bench and for profiling).
    pub timings: Vec<(&'static str, f64)>,
    /// The first scene is computed and painted.
    pub ready: bool,
}

impl Chrome {
    pub fn new(page: PageOptions) -> Chrome {
        Chrome {
            page,
            page_dirty: true,
            messages: Vec::new(),
            playback: Playback::default(),
            generation: 0,
            last_paint_ms: 0.0,
            timings: Vec::new(),
            ready: false,
        }
    }

    /// Reads a link: the explorer's state and the page options (taken over if they differ), with
    /// every message.
    pub fn read_link<E: Explorer>(&mut self, hash: &str) -> (E::State, Vec<Message>) {
        let (state, mut messages) = E::from_hash(hash);
        let (page_options, page_messages) = E::page_from_hash(hash);
        messages.extend(page_messages);
        if page_options != self.page {
            self.page = page_options;
            self.page_dirty = true;
        }
        (state, messages)
    }

    /// Applies key=value edits (explorer keys and page options) to a copy of `state`, validated
    /// exactly like a link. Returns the new state, the messages, and whether autoplay was just
    /// switched on (the caller starts playing).
    pub fn edit<E: Explorer>(
        &mut self,
        state: &E::State,
        pairs: &[(String, String)],
    ) -> (E::State, Vec<Message>, bool) {
        let mut state = state.clone();
        let mut page_options = self.page.clone();
        let mut messages = Vec::new();
        let controls = E::control_keys();
        let panels = E::panels();
        for (key, value) in pairs.iter().filter(|(key, _)| page::is_page_key(key)) {
            page::apply_pair(
                &mut page_options,
                key,
                value,
                &controls,
                &panels,
                &mut messages,
            );
        }
        E::apply_pairs(&mut state, pairs, &mut messages);
        E::normalise(&mut state, &mut messages);
        let mut start_playing = false;
        if page_options != self.page {
            start_playing = page_options.autoplay
                && !self.page.autoplay
                && self.ready
                && !self.playback.playing
                && !prefers_reduced_motion();
            self.page = page_options;
            self.page_dirty = true;
        }
        (state, messages, start_playing)
    }

    /// The first steps of installing a state: messages (replaced for a fresh link, else added)
    /// shown, page options applied to the DOM if they changed. Returns whether they changed.
    pub fn begin_apply<E: Explorer>(&mut self, messages: Vec<Message>, replace: bool) -> bool {
        if replace {
            self.messages = messages;
        } else {
            self.messages.extend(messages);
        }
        self.timings.clear();
        show_messages(&self.messages);
        let page_changed = self.page_dirty;
        if self.page_dirty {
            self.page_dirty = false;
            apply_page_dom(&self.page, E::figures(), E::text_panels());
        }
        page_changed
    }

    /// Marks the page ready once; true the first time (the caller then tells an embedding parent
    /// and may start autoplay).
    pub fn mark_ready(&mut self) -> bool {
        if self.ready {
            return false;
        }
        self.ready = true;
        mark_ready();
        true
    }

    /// Whether autoplay should start now that the page is ready.
    pub fn autoplay_due(&self) -> bool {
        self.page.autoplay && !self.playback.playing && !prefers_reduced_motion()
    }
}

/// Whether a panel shows. An embed without `view=` shows its first figure (`main`) only.
pub fn panel_shown(opts: &PageOptions, name: &str, main: &str) -> bool {
    if opts.view.is_empty() {
        !opts.embed || name == main
    } else {
        page::shows(opts, name)
    }
}

/// Whether the control of `key` shows under the page options (its relevance is checked elsewhere):
/// not hidden itself or through the control it refines, and in the embed strip when embedded.
pub fn control_shown(
    opts: &PageOptions,
    key: &str,
    controlled_by: fn(&str) -> Option<&'static str>,
    strip: &[&str],
) -> bool {
    opts.controls
        && !opts
            .hide
            .iter()
            .any(|h| h == key || controlled_by(key) == Some(h.as_str()))
        && (!opts.embed || strip.contains(&key))
}

pub fn prefers_reduced_motion() -> bool {
    dom::window()
        .match_media("(prefers-reduced-motion: reduce)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches())
}

fn toggle(el: &web_sys::Element, hidden: bool) {
    if hidden {
        set_attr(el, "hidden", "");
    } else {
        let _ = el.remove_attribute("hidden");
    }
}

/// Applies the page options to the DOM: body classes, theme, hidden panels, the embed bar.
pub fn apply_page_dom(opts: &PageOptions, figures: &[FigureInfo], text_panels: &[TextPanel]) {
    let document = dom::document();
    if let Some(body) = document.body() {
        let classes = body.class_list();
        let _ = if opts.embed {
            classes.add_1("embed")
        } else {
            classes.remove_1("embed")
        };
        let _ = if opts.controls {
            classes.remove_1("controls-none")
        } else {
            classes.add_1("controls-none")
        };
    }
    if let Some(root) = document.document_element() {
        set_attr(&root, "data-theme", opts.theme.as_str());
    }
    let main = figures[0].name;
    let panels = figures
        .iter()
        .map(|f| (f.wrap_id, f.name))
        .chain(text_panels.iter().map(|t| (t.id, t.name)));
    for (id, panel) in panels {
        if let Some(el) = by_id(id) {
            toggle(&el, !panel_shown(opts, panel, main));
        }
    }
    if let Some(el) = by_id("readouts-section") {
        toggle(
            &el,
            !text_panels.iter().any(|t| panel_shown(opts, t.name, main)),
        );
    }
    if let Some(bar) = by_id("embed-bar") {
        toggle(&bar, !opts.embed);
    }
    if let Some(bar) = by_id("share-bar") {
        toggle(&bar, opts.embed);
    }
}

/// The page's address without its hash.
pub fn base_url() -> String {
    let href = dom::window().location().href().unwrap_or_default();
    match href.find('#') {
        Some(pos) => href[..pos].to_string(),
        None => href,
    }
}

/// The link of the full page for the same state (the explorer's `pairs`): the embed keys are
/// dropped, the theme is kept.
pub fn full_page_link(
    explorer: &str,
    mut pairs: Vec<(String, String)>,
    opts: &PageOptions,
) -> String {
    let kept = PageOptions {
        theme: opts.theme,
        ..PageOptions::default()
    };
    pairs.extend(page::to_pairs(&kept));
    format!(
        "{}{}",
        base_url(),
        td_core::url::join_hash(explorer, &pairs)
    )
}

pub fn update_open_link(explorer: &str, pairs: Vec<(String, String)>, opts: &PageOptions) {
    if let Some(link) = by_id("open-full") {
        set_attr(&link, "href", &full_page_link(explorer, pairs, opts));
    }
}
