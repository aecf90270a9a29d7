//! What the page-level features (copy link, embed dialog, exports, embed layout, postMessage,
//! `window.tokenDynamics`) need from the running page, whichever explorer it runs. The one
//! generic runner ([`crate::runner::Runner`]) implements [`Page`] for every explorer;
//! [`with_page`] reaches it.

use std::any::Any;
use std::cell::{Cell, RefCell};

use plotters::coord::Shift;
use plotters::prelude::*;
use td_core::explorer::FigureInfo;
use td_core::page::PageOptions;
use td_core::table::Message;
use wasm_bindgen::JsValue;

use crate::backend::PageBackend;
use crate::chrome::{Chrome, Playback};

/// A drawing area of the page's backend (canvas or SVG).
pub type CanvasArea<'a> = DrawingArea<PageBackend<'a>, Shift>;

pub trait Page {
    /// Explorer name in links (`#<name>?…`).
    fn name(&self) -> &'static str;
    /// The page chrome's state (page options, messages, playback, timings, readiness).
    fn chrome(&self) -> &Chrome;
    fn chrome_mut(&mut self) -> &mut Chrome;
    fn page(&self) -> &PageOptions {
        &self.chrome().page
    }
    fn is_ready(&self) -> bool {
        self.chrome().ready
    }
    /// Whether the scene is fully computed (exports wait for it).
    fn is_done(&self) -> bool;
    /// The explorer's own non-default link pairs (format version first).
    fn explorer_pairs(&self) -> Vec<(String, String)>;
    /// The whole link: the explorer's keys and the page options, defaults left out.
    fn full_hash(&self) -> String {
        let mut pairs = self.explorer_pairs();
        pairs.extend(td_core::page::to_pairs(self.page()));
        td_core::url::join_hash(self.name(), &pairs)
    }
    /// Applies validated key=value edits (explorer keys and page options) and returns the messages.
    fn edit(&mut self, pairs: &[(String, String)]) -> Vec<Message>;
    /// Writes the link into the address bar now.
    fn write_url(&self);
    /// Moves the playback position (0..1) without recomputing; the link follows (throttled).
    fn scrub(&mut self, at: f64) {
        self.show_at(at);
        schedule_url();
    }
    /// Shows the playback position (0..1) without recomputing or touching the link.
    fn show_at(&mut self, at: f64);
    fn playback(&self) -> Playback {
        self.chrome().playback
    }
    fn playback_mut(&mut self) -> &mut Playback {
        &mut self.chrome_mut().playback
    }
    /// Starts or stops playback.
    fn toggle_play(&mut self);
    /// Playback speed and the duration (ms) of a whole run at speed 1.
    fn speed(&self) -> f64;
    fn play_ms(&self) -> f64;
    /// Loads a link typed or navigated to (messages replace the old ones).
    fn load_hash(&mut self, hash: &str);
    fn dismiss_messages(&mut self) {
        self.chrome_mut().messages.clear();
        crate::chrome::show_messages(&[]);
    }
    /// A key pressed outside text fields (`on_canvas`: the focus is on a figure); true if used.
    fn on_key(&mut self, key: &str, on_canvas: bool) -> bool;
    /// Re-lays the canvases out; repaints if one changed size (or `force_paint`).
    fn relayout(&mut self, force_paint: bool);
    /// The state as a plain object of link keys (+ `explorer`, `hash`).
    fn state_object(&self) -> JsValue;
    /// The readout object of `window.tokenDynamics.readout()`.
    fn readout_object(&self) -> JsValue;
    fn last_paint_ms(&self) -> f64 {
        self.chrome().last_paint_ms
    }
    fn timings(&self) -> Vec<(&'static str, f64)> {
        self.chrome().timings.clone()
    }

    /// Figures, in page order (the first is what an embed shows by default).
    fn figures(&self) -> &'static [FigureInfo];
    fn text_panels(&self) -> &'static [td_core::explorer::TextPanel];
    /// How many canvases of `figure` are in use now (compare modes).
    fn canvases_in_use(&self, figure: &str) -> usize;
    /// Default export size (CSS px) of a figure.
    fn default_size(&self, figure: &str) -> (u32, u32);
    fn svg(&self, figure: &str) -> String;
    /// Paints a figure (all its panels) onto one drawing area at pixel ratio `ratio`.
    fn paint_figure(&self, figure: &str, root: &CanvasArea<'_>, ratio: f64) -> Result<(), String>;
    fn csv(&self, link: &str) -> String;
    fn json(&self, link: &str) -> String;
    /// Height (CSS px) of the caption strip under an exported figure `css_width` wide.
    fn export_caption_height(&self, figure: &str, css_width: f64) -> f64;
    fn file_stem(&self) -> String;
    /// Title of the embed snippet's iframe.
    fn embed_title(&self) -> String;
    /// Runs a benchmark scenario of this page's explorer (bench builds only): milliseconds.
    fn bench(&mut self, name: &str) -> Option<f64>;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

thread_local! {
    static PAGE: RefCell<Option<Box<dyn Page>>> = const { RefCell::new(None) };
}

/// Installs the page (once, at start).
pub fn install(page: Box<dyn Page>) {
    PAGE.with(|cell| *cell.borrow_mut() = Some(page));
}

/// Runs `f` on the running page (None before start or while it is busy: re-entrant events are
/// dropped).
pub fn with_page<R>(f: impl FnOnce(&mut dyn Page) -> R) -> Option<R> {
    PAGE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut guard) => guard.as_mut().map(|page| f(page.as_mut())),
        Err(_) => None,
    })
}

/// The explorers' pages, from the site's navigation (`nav.explorers a[data-explorer]`): the one
/// list the site has (boot.js reads it too). A test keeps it equal to the CLI's explorer list.
fn page_of(explorer: &str) -> Option<String> {
    let selector = format!("nav.explorers a[data-explorer=\"{explorer}\"]");
    crate::dom::document()
        .query_selector(&selector)
        .ok()
        .flatten()
        .and_then(|a| a.get_attribute("href"))
}

/// If `hash` names another known explorer than `current`, loads that explorer's page with the same
/// hash and returns true. (boot.js does the same before the first load.)
pub fn route_elsewhere(hash: &str, current: &str) -> bool {
    let explorer = td_core::url::split_hash(hash).explorer;
    if explorer.is_empty()
        || explorer == current
        || !explorer.chars().all(|c| c.is_ascii_lowercase() || c == '-')
    {
        return false;
    }
    match page_of(&explorer) {
        Some(page) => {
            let _ = crate::dom::window()
                .location()
                .replace(&format!("{page}{hash}"));
            true
        }
        None => false,
    }
}

/// Delay of the address-bar update after a change (drags write one link, not hundreds).
const URL_THROTTLE_MS: i32 = 150;

thread_local! {
    static URL_PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Writes the running explorer's link into the address bar after [`URL_THROTTLE_MS`].
pub fn schedule_url() {
    if URL_PENDING.with(|p| p.replace(true)) {
        return;
    }
    crate::dom::set_timeout(
        || {
            URL_PENDING.with(|p| p.set(false));
            with_page(|e| e.write_url());
        },
        URL_THROTTLE_MS,
    );
}

/// Starts the playback clock: every frame moves the running page's position until it stops.
pub fn start_playback() {
    crate::dom::request_frame(animate);
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
            e.playback_mut().origin = (crate::dom::now_ms(), 0.0);
            e.show_at(0.0);
            return true;
        }
        e.show_at(1.0);
        e.toggle_play();
        false
    })
    .unwrap_or(false);
    if again {
        crate::dom::request_frame(animate);
    }
}
