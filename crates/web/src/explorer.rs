//! What the page-level features (copy link, embed dialog, exports, embed layout, postMessage,
//! `window.tokenDynamics`) need from whichever explorer this page runs. Each explorer's app
//! implements [`Explorer`]; [`with_explorer`] reaches the running one.

use plotters::coord::Shift;
use plotters::prelude::*;
use wasm_bindgen::JsValue;

use super::canvas::BatchedCanvas;
use super::shell::{Chrome, Playback};
use td_core::page::PageOptions;
use td_core::table::Message;

pub type CanvasArea = DrawingArea<BatchedCanvas, Shift>;

/// One figure of an explorer: its `view=` panel name, export name, canvases (side by side) and how
/// tall it would like to be for a given width in an embed.
pub struct FigureInfo {
    /// Panel name in `view=` (also the export's figure name).
    pub name: &'static str,
    /// Human label (figure chooser, embed dialog).
    pub label: &'static str,
    /// Element wrapping the figure (hidden when the panel is not shown).
    pub wrap_id: &'static str,
    /// Canvases of the figure, side by side (compare modes use several).
    pub canvas_ids: &'static [&'static str],
    /// Preferred height as a fraction of the cell width, and its clamp range (embed layout).
    pub aspect: f64,
    pub min_height: f64,
    pub max_height: f64,
}

/// Text panels of the page (readout, notes) that `view=` may hide.
pub struct TextPanel {
    pub name: &'static str,
    pub id: &'static str,
}

pub trait Explorer {
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
        super::shell::schedule_url();
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
        super::shell::show_messages(&[]);
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
    /// How many canvases of `figure` are in use now (compare modes).
    fn canvases_in_use(&self, figure: &str) -> usize;
    /// Default export size (CSS px) of a figure.
    fn default_size(&self, figure: &str) -> (u32, u32);
    fn svg(&self, figure: &str) -> String;
    /// Paints a figure (all its panels) onto one drawing area at pixel ratio `ratio`.
    fn paint_figure(&self, figure: &str, root: &CanvasArea, ratio: f64) -> Result<(), String>;
    fn csv(&self, link: &str) -> String;
    fn json(&self, link: &str) -> String;
    fn file_stem(&self) -> String;
    /// Title of the embed snippet's iframe.
    fn embed_title(&self) -> String;
}

/// Runs `f` on the running explorer (None before start or while it is busy: re-entrant events
/// are dropped).
pub fn with_explorer<R>(f: impl FnOnce(&mut dyn Explorer) -> R) -> Option<R> {
    if super::attention_app::is_running() {
        super::attention_app::with_app(|app| f(app))
    } else if super::energy_app::is_running() {
        super::energy_app::with_app(|app| f(app))
    } else {
        super::app::with_app(|app| f(app))
    }
}

/// Splits a drawing area into `panels` side by side and draws each with `draw(area, index)`.
pub fn draw_side_by_side<F>(root: &CanvasArea, panels: usize, mut draw: F) -> Result<(), String>
where
    F: FnMut(
        &CanvasArea,
        usize,
    ) -> Result<(), DrawingAreaErrorKind<<BatchedCanvas as DrawingBackend>::ErrorType>>,
{
    let areas = root.split_evenly((1, panels.max(1)));
    for (i, area) in areas.iter().enumerate() {
        draw(area, i).map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

/// The page of each explorer (relative to the site root).
pub const PAGES: &[(&str, &str)] = &[
    ("next-token", "index.html"),
    ("attention", "attention.html"),
    ("energy", "energy.html"),
];

/// If `hash` names another known explorer than `current`, loads that explorer's page with the same
/// hash and returns true. (boot.js does the same before the first load.)
pub fn route_elsewhere(hash: &str, current: &str) -> bool {
    let explorer = td_core::url::split_hash(hash).explorer;
    match PAGES
        .iter()
        .find(|(name, _)| *name == explorer && explorer != current)
    {
        Some((_, page)) => {
            let _ = super::dom::window()
                .location()
                .replace(&format!("{page}{hash}"));
            true
        }
        None => false,
    }
}
