//! The page chrome every explorer shares: the message banner, busy/ready flags and progress bar,
//! the throttled address-bar update, playback, presets, and the page-wide listeners (links,
//! resize, keyboard). Explorer-specific work goes through [`crate::page::Page`].

use std::cell::Cell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Event, HashChangeEvent, KeyboardEvent};

use crate::dom::{self, by_id, make, set_attr};
use crate::embed;
use crate::page::{route_elsewhere, with_page};
use td_core::explorer::Explorer;
use td_core::page::{self, PageOptions};
use td_core::table::{Message, Preset};

/// Delay of the address-bar update after a change (drags write one link, not hundreds).
const URL_THROTTLE_MS: i32 = 150;

thread_local! {
    static URL_PENDING: Cell<bool> = const { Cell::new(false) };
}

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
    if let Some(bar) = by_id("progress") {
        if busy {
            let _ = bar.remove_attribute("hidden");
            set_attr(&bar, "value", &format!("{progress:.3}"));
        } else {
            set_attr(&bar, "hidden", "");
        }
    }
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

/// Writes the running explorer's link into the address bar after [`URL_THROTTLE_MS`].
pub fn schedule_url() {
    if URL_PENDING.with(|p| p.replace(true)) {
        return;
    }
    dom::set_timeout(
        || {
            URL_PENDING.with(|p| p.set(false));
            with_page(|e| e.write_url());
        },
        URL_THROTTLE_MS,
    );
}

/// One link per preset (each is a plain link; `data-preset` names it for tests and scripts).
pub fn build_presets(presets: &[Preset]) {
    let Some(root) = by_id("presets") else { return };
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
    origin: (f64, f64),
}

impl Playback {
    /// Starts (from 0 when at the end) or stops; returns the position to show.
    pub fn toggle(&mut self, at: f64) -> f64 {
        self.playing = !self.playing;
        let at = if self.playing && at >= 1.0 { 0.0 } else { at };
        if self.playing {
            self.origin = (dom::now_ms(), at);
            dom::request_frame(animate);
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
    fn position(&self, speed: f64, duration_ms: f64) -> f64 {
        self.origin.1 + (dom::now_ms() - self.origin.0) * speed / duration_ms
    }
}

fn animate(_time: f64) {
    let again = with_page(|e| {
        let playback = e.playback();
        if !playback.playing {
            return false;
        }
        let at = playback.position(e.speed(), e.play_ms());
        if at < 1.0 {
            e.show_at(at);
            return true;
        }
        if e.page().looping {
            e.playback_mut().origin = (dom::now_ms(), 0.0);
            e.show_at(0.0);
            return true;
        }
        e.show_at(1.0);
        e.toggle_play();
        false
    })
    .unwrap_or(false);
    if again {
        dom::request_frame(animate);
    }
}

/// Page-wide listeners: message dismissal, play button, links (presets, navigation, hand edits),
/// resize, and the keyboard (share/export shortcuts with Shift anywhere but in a text field; the
/// explorer's own keys when not typing). `is_typing_target` names targets whose keys belong to
/// the element (e.g. an editor canvas).
pub fn wire(explorer_name: &'static str, is_typing_target: fn(&web_sys::Element) -> bool) {
    if let Some(button) = by_id("dismiss-messages") {
        dom::listen::<Event>(&button, "click", |_| {
            with_page(|e| e.dismiss_messages());
        });
    }
    if let Some(button) = by_id("play") {
        dom::listen::<Event>(&button, "click", |_| {
            with_page(|e| e.toggle_play());
        });
    }
    dom::listen::<HashChangeEvent>(&dom::window(), "hashchange", move |event| {
        // The hash navigated to comes from the event, not the address bar: a throttled
        // replaceState of the previous state may already have rewritten the address bar.
        let url = event.new_url();
        let hash = url.find('#').map_or("", |i| &url[i..]).to_string();
        if route_elsewhere(&hash, explorer_name) {
            return;
        }
        with_page(|e| {
            if e.full_hash() != hash {
                e.load_hash(&hash);
            }
        });
    });
    dom::listen::<Event>(&dom::window(), "resize", |_| {
        with_page(|e| {
            let force = !e.page().embed;
            e.relayout(force);
        });
    });
    dom::listen::<KeyboardEvent>(&dom::document(), "keydown", move |event| {
        if event.ctrl_key() || event.meta_key() || event.alt_key() {
            return;
        }
        let target = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        let in_field = target.as_ref().is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
                || el.closest("[contenteditable]").ok().flatten().is_some()
        });
        if event.shift_key() && !in_field && super::share::shortcut(&event.key()) {
            event.prevent_default();
            return;
        }
        let busy_target = in_field
            || target.as_ref().is_some_and(|el| {
                matches!(el.tag_name().as_str(), "BUTTON" | "A") || is_typing_target(el)
            });
        if busy_target {
            return;
        }
        let on_canvas = target.as_ref().is_some_and(|el| el.tag_name() == "CANVAS");
        let key = event.key();
        if with_page(|e| e.on_key(&key, on_canvas)).unwrap_or(false) {
            event.prevent_default();
        }
    });
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
                && !embed::prefers_reduced_motion();
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
            embed::apply_page_dom(&self.page, E::figures(), E::text_panels());
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
        self.page.autoplay && !self.playback.playing && !embed::prefers_reduced_motion()
    }
}
