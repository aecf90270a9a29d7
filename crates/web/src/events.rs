//! Page-wide listeners: message dismissal, the play button, links (presets, navigation, hand
//! edits), resize, and the keyboard (share/export shortcuts, the explorer's own keys).

use wasm_bindgen::JsCast;
use web_sys::{Event, HashChangeEvent, KeyboardEvent};

use crate::dom::{self, by_id};
use crate::page::{route_elsewhere, with_page};

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
        if event.shift_key() && !in_field && crate::share::shortcut(&event.key()) {
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
