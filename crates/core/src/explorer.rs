//! The one interface every explorer implements, used alike by the page runner (`td-web`), the
//! command line and the bench (`token-dynamics`), and native tests: its name and link format, its
//! parameter table, how a link becomes a state (with messages), how a scene is computed in slices,
//! how each figure is drawn on any plotters backend, the readout, CSV and JSON.
//!
//! Everything that can be said once for all explorers is a default method here, so an explorer
//! writes only what is its own. Nothing here touches the DOM.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::page::PageOptions;
use crate::table::{self, Message, Param, Preset};
use crate::url;

/// Text size and line height (CSS pixels) of the caption under an exported figure.
const CAPTION_SIZE: f64 = 10.5;
const CAPTION_LINE: f64 = 14.0;

/// A drawing failure of backend `DB`.
pub type DrawError<DB> = DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>;
/// The result of drawing on backend `DB`.
pub type DrawResult<DB> = Result<(), DrawError<DB>>;

/// One figure of an explorer: its `view=` and export name, its label, where it sits in the page and
/// how tall it would like to be for a given width.
pub struct FigureInfo {
    /// Panel name in `view=` (also the export's and the CLI's figure name).
    pub name: &'static str,
    /// Human label (figure chooser, embed dialog).
    pub label: &'static str,
    /// Page element wrapping the figure (hidden when the panel is not shown).
    pub wrap_id: &'static str,
    /// Canvases of the figure, side by side (compare modes use several).
    pub canvas_ids: &'static [&'static str],
    /// Preferred height as a fraction of the cell width, and its clamp range.
    pub aspect: f64,
    pub min_height: f64,
    pub max_height: f64,
    /// Height (CSS px) of one canvas of the full page for a canvas width.
    pub page_height: fn(f64) -> f64,
}

/// A text panel of the page (readout, notes, statistics …) that `view=` may hide.
pub struct TextPanel {
    pub name: &'static str,
    /// What the embed dialog's "Show" list calls it.
    pub label: &'static str,
    pub id: &'static str,
}

/// What a figure is drawn for besides the scene: the playback position (0..1), the pixel ratio,
/// and the item the reader points at (a selected logit bar, a hovered byte), if any.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub at: f64,
    pub scale: f64,
    pub focus: Option<usize>,
    /// While the reader drags in a figure: the data window it showed when the press began
    /// (x from, x to, y from, y to), kept instead of re-fitting to the data, so that the point
    /// under the pointer stays under it. The figure re-fits on release.
    pub hold: Option<[f64; 4]>,
}

/// Text content of a text panel, as structured blocks (the page renders them as HTML elements,
/// always as text, never as markup).
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A sub-heading.
    Heading(String),
    /// A paragraph with a CSS class ("" for none); `parts` are (class, text) runs, a class of
    /// "strong" is emphasised, "mark" highlighted (with an optional element id after `#`).
    Paragraph {
        class: &'static str,
        parts: Vec<(String, String)>,
    },
    /// A definition list of (name, value) rows.
    Pairs(Vec<(String, String)>),
    /// A table: header cells, then rows of (class, text) cells; with `row_headers` the first
    /// cell of each row is a row header.
    Table {
        class: &'static str,
        head: Vec<String>,
        rows: Vec<Vec<(&'static str, String)>>,
        row_headers: bool,
    },
    /// A bulleted list.
    List(Vec<String>),
}

impl Block {
    /// A paragraph of plain text.
    pub fn text(class: &'static str, text: impl Into<String>) -> Block {
        Block::Paragraph {
            class,
            parts: vec![(String::new(), text.into())],
        }
    }
}

/// The model side of one explorer. `Self` is a marker type; the state, the scene and the models
/// (what a scene needs besides its state: the energy lab's weights) are associated types.
pub trait Explorer: 'static {
    /// Name in links (`#<name>?…`) and in the page's `data-explorer`.
    const NAME: &'static str;
    /// What the page calls it ("next-token flows").
    const TITLE: &'static str;
    /// Link format version (`v=`).
    const FORMAT_VERSION: u32;
    /// Milliseconds a whole run takes to play at speed 1.
    const PLAY_MS: f64;

    type State: Clone + Default + PartialEq + std::fmt::Debug + 'static;
    type Group: Copy + PartialEq + 'static;
    type Scene;
    type Models;

    // ------------------------------------------------------------------ the parameter table

    fn params() -> &'static [Param<Self::State, Self::Group>];
    /// Control groups in page order with their legends.
    fn groups() -> Vec<(Self::Group, &'static str)>;
    /// The group whose controls sit under the figure (playback).
    fn playback_group() -> Self::Group;
    fn figures() -> &'static [FigureInfo];
    fn text_panels() -> &'static [TextPanel];
    fn presets() -> &'static [Preset];
    /// Controls an embed's compact strip shows (before `hide=`).
    fn embed_strip() -> &'static [&'static str];
    /// The control whose choice a parameter refines (hiding that control hides this one too).
    fn controlled_by(_key: &str) -> Option<&'static str> {
        None
    }

    // ------------------------------------------------------------------ links

    /// The table row of a link key.
    fn param(key: &str) -> Option<&'static Param<Self::State, Self::Group>> {
        table::find(Self::params(), key)
    }
    /// Applies one key=value through the table (the format version `v` is checked, page keys are
    /// left to the page, unknown keys reported). Call [`Self::normalise`] afterwards.
    fn apply_pair(st: &mut Self::State, key: &str, value: &str, msgs: &mut Vec<Message>) {
        table::apply_pair(Self::params(), Self::FORMAT_VERSION, st, key, value, msgs);
    }
    /// Applies a link's pairs (page keys are skipped). Default: in the link's order.
    fn apply_pairs(st: &mut Self::State, pairs: &[(String, String)], msgs: &mut Vec<Message>) {
        for (key, value) in pairs {
            Self::apply_pair(st, key, value, msgs);
        }
    }
    /// Ties the keys together after reading (ranges, sizes, dependent values).
    fn normalise(st: &mut Self::State, msgs: &mut Vec<Message>);
    /// The canonical text of one parameter's value.
    fn value_text(param: &Param<Self::State, Self::Group>, st: &Self::State) -> String {
        table::value_text(param, st)
    }
    /// Whether a key travels in the link (`changed`: it differs from its default).
    fn travels(_st: &Self::State, _param: &Param<Self::State, Self::Group>, changed: bool) -> bool {
        changed
    }
    /// Reads a link (or bare hash). Always returns a usable state; messages name every change.
    fn from_hash(hash: &str) -> (Self::State, Vec<Message>) {
        table::read_hash(hash, Self::NAME, Self::apply_pairs, Self::normalise)
    }
    /// The non-default pairs, format version first.
    fn to_pairs(st: &Self::State) -> Vec<(String, String)> {
        table::link_pairs(
            Self::params(),
            Self::FORMAT_VERSION,
            st,
            Self::value_text,
            |param, changed| Self::travels(st, param, changed),
        )
    }
    /// Every key with the text of its value, in table order.
    fn all_pairs(st: &Self::State) -> Vec<(&'static str, String)> {
        table::all_pairs(Self::params(), st, Self::value_text)
    }
    /// The link (hash) of a state.
    fn to_hash(st: &Self::State) -> String {
        url::join_hash(Self::NAME, &Self::to_pairs(st))
    }
    /// Every control key (what `hide=` may name).
    fn control_keys() -> Vec<&'static str> {
        table::keys(Self::params())
    }
    /// Every panel name (what `view=` may name): figures, then text panels.
    fn panels() -> Vec<&'static str> {
        Self::figures()
            .iter()
            .map(|f| f.name)
            .chain(Self::text_panels().iter().map(|t| t.name))
            .collect()
    }
    /// Reads a link's page options with the explorer's control and panel names.
    fn page_from_hash(hash: &str) -> (PageOptions, Vec<Message>) {
        crate::page::from_hash(hash, &Self::control_keys(), &Self::panels())
    }

    // ------------------------------------------------------------------ view vs computation

    /// The playback position (0..1) and its setter.
    fn at(st: &Self::State) -> f64;
    fn set_at(st: &mut Self::State, at: f64);
    /// Playback speed.
    fn speed(st: &Self::State) -> f64;
    /// The state with every view-only setting at its default: two states with the same key share
    /// one scene (a view change repaints without recomputing).
    fn computation_key(st: &Self::State) -> Self::State;

    // ------------------------------------------------------------------ the scene

    /// Makes the models follow the state before a scene is built (a new seed draws a new random
    /// model). Default: nothing to follow.
    fn follow_state(_models: &mut Self::Models, _st: &Self::State) {}
    /// One piece of what [`Self::new_scene`] needs for `st` that can be done ahead, so the page
    /// can do it in tasks of its own (next-token: a large vocabulary's generated logits); true
    /// when nothing is left. Default: nothing to do.
    fn prepare_state(_st: &Self::State) -> bool {
        true
    }
    fn new_scene(st: &Self::State, models: &Self::Models) -> Self::Scene;
    fn scene_state(scene: &Self::Scene) -> &Self::State;
    /// Installs a state with the same computation key (view changes).
    fn set_scene_state(scene: &mut Self::Scene, st: &Self::State);
    /// Computes up to `units` more units of work; true when the scene is complete.
    fn advance(scene: &mut Self::Scene, units: usize) -> bool;
    fn is_done(scene: &Self::Scene) -> bool;
    /// True while the scene cannot go on (waiting for a download); the page stops computing.
    fn is_waiting(_scene: &Self::Scene) -> bool {
        false
    }
    fn progress(scene: &Self::Scene) -> f64;
    /// Units of work that take about a millisecond (so time checks stay fine-grained).
    fn slice_units(_scene: &Self::Scene) -> usize {
        1
    }
    /// Whether the whole scene should be computed at once when its state is installed (small
    /// scenes: their first paint is complete); otherwise the page computes in time slices.
    fn compute_at_once(_scene: &Self::Scene) -> bool {
        false
    }
    /// Whether the page computes this scene in its worker (it would not fit a frame). A scene
    /// computed there is shipped back with [`Self::progress_since`] and taken over with
    /// [`Self::apply_progress`]; the page's copy is built by [`Self::new_scene`] and never
    /// advanced itself.
    fn offload(_scene: &Self::Scene) -> bool {
        false
    }
    /// Worker side: what the scene computed since the last call, encoded (`shipped` remembers
    /// what was sent).
    fn progress_since(_scene: &Self::Scene, _shipped: &mut Vec<usize>) -> Vec<u8> {
        Vec::new()
    }
    /// Page side: takes over what a worker's copy of the same scene computed.
    fn apply_progress(_scene: &mut Self::Scene, _bytes: &[u8]) -> crate::codec::Result<()> {
        Err(crate::codec::CodecError(format!(
            "the {} explorer computes on the page",
            Self::NAME
        )))
    }
    /// Page side, while a worker computes the scene: one piece of the set-up the page's copy needs
    /// to take the results over (next-token: one trajectory's run), so that the page can do it
    /// in tasks of its own rather than inside the reply that first needs it. False when nothing
    /// is left.
    fn prepare_for_progress(_scene: &mut Self::Scene) -> bool {
        false
    }
    /// Into how many independent parts an offloaded scene splits, each computed by its own worker
    /// without shared memory (1: one worker computes it all). The page uses at most this many.
    fn shards(_scene: &Self::Scene) -> usize {
        1
    }
    /// Worker side: compute (and ship) only part `shard` of `shards` of the scene.
    fn restrict_to_shard(_scene: &mut Self::Scene, _shard: usize, _shards: usize) {}
    /// Page side, once every part of a scene computed by several workers has arrived: what needs
    /// the whole scene (notes drawn from all its trajectories).
    fn finish_shards(_scene: &mut Self::Scene) {}
    /// Computes the whole scene (CLI, tests, bench).
    fn run_to_end(scene: &mut Self::Scene) {
        let mut guard = 0u64;
        while !Self::advance(scene, usize::MAX) && !Self::is_waiting(scene) {
            guard += 1;
            if guard > 1 << 40 {
                break;
            }
        }
    }
    fn notes(scene: &Self::Scene) -> Vec<String>;
    /// One-paragraph text summary (announced to screen readers, shown in the text alternative).
    fn summary(scene: &Self::Scene) -> String;
    /// Lines under the figure naming what is shown (the active rule …); empty for none.
    fn rule_lines(_scene: &Self::Scene) -> Vec<String> {
        Vec::new()
    }
    /// Content of a text panel (other than "notes", which the page fills from [`Self::notes`]).
    fn text_panel(_scene: &Self::Scene, _panel: &str) -> Vec<Block> {
        Vec::new()
    }
    /// Accessible label of a figure's canvas.
    fn canvas_label(scene: &Self::Scene, figure: &str, panel: usize) -> String;

    // ------------------------------------------------------------------ figures

    /// How many canvases of `figure` are in use (compare modes).
    fn figure_panels(_scene: &Self::Scene, _figure: &str) -> usize {
        1
    }
    /// Default export size (CSS px) of a figure.
    fn default_size(scene: &Self::Scene, figure: &str) -> (u32, u32);
    /// Draws panel `panel` of `figure` onto `area`.
    fn draw<DB: DrawingBackend>(
        scene: &Self::Scene,
        figure: &str,
        panel: usize,
        area: &DrawingArea<DB, Shift>,
        view: &View,
    ) -> DrawResult<DB>;
    /// Draws all panels of a figure side by side on one area.
    fn draw_figure<DB: DrawingBackend>(
        scene: &Self::Scene,
        figure: &str,
        root: &DrawingArea<DB, Shift>,
        view: &View,
    ) -> DrawResult<DB> {
        let multi = Self::figures()
            .iter()
            .find(|f| f.name == figure)
            .is_some_and(|f| f.canvas_ids.len() > 1);
        if multi {
            let areas = root.split_evenly((1, Self::figure_panels(scene, figure).max(1)));
            for (panel, area) in areas.iter().enumerate() {
                Self::draw(scene, figure, panel, area, view)?;
            }
            Ok(())
        } else {
            Self::draw(scene, figure, 0, root, view)
        }
    }
    /// What an exported SVG says of itself ([`crate::export::caption_svg`]): a title (the
    /// embed title and the figure) and a description (the active rules and the link that
    /// reproduces the figure). Settings only, no computed numbers: the page's and the command
    /// line's SVG stay byte-identical.
    fn svg_caption(scene: &Self::Scene, figure: &str) -> (String, String) {
        let link = Self::to_hash(Self::scene_state(scene));
        let mut desc = Self::rule_lines(scene).join("; ");
        if !desc.is_empty() {
            desc.push_str(". ");
        }
        desc.push_str(&format!(
            "Made with token-dynamics; this link reproduces the figure: {link}"
        ));
        (format!("{} — {figure}", Self::embed_title(scene)), desc)
    }
    /// The caption an exported figure carries under it, in lines that fit `width` pixels at
    /// pixel ratio `scale`: the title of [`Explorer::svg_caption`], the active rules, and the link
    /// that reproduces the figure (broken anywhere, never shortened).
    fn export_caption(scene: &Self::Scene, figure: &str, width: f64, scale: f64) -> Vec<String> {
        let max_chars = ((width - 16.0 * scale) / (0.56 * CAPTION_SIZE * scale)).max(12.0) as usize;
        let (title, _) = Self::svg_caption(scene, figure);
        let mut lines = crate::draw_kit::word_wrap(&title, max_chars);
        let rules = Self::rule_lines(scene).join("; ");
        if !rules.is_empty() {
            lines.extend(crate::draw_kit::word_wrap(&rules, max_chars));
        }
        let link = format!("reproduce: {}", Self::to_hash(Self::scene_state(scene)));
        let chars: Vec<char> = link.chars().collect();
        lines.extend(
            chars
                .chunks(max_chars)
                .map(|c| c.iter().collect::<String>()),
        );
        lines
    }
    /// Height in pixels of the caption strip under an exported figure `width` pixels wide.
    fn export_caption_height(scene: &Self::Scene, figure: &str, width: f64, scale: f64) -> f64 {
        let lines = Self::export_caption(scene, figure, width, scale).len() as f64;
        ((10.0 + lines * CAPTION_LINE) * scale).round()
    }
    /// An exported figure: the figure, and under it (the last
    /// [`Explorer::export_caption_height`] pixels of `root`) its caption, so a PNG or SVG
    /// passed on alone still says what it shows and how to reproduce it.
    fn draw_export<DB: DrawingBackend>(
        scene: &Self::Scene,
        figure: &str,
        root: &DrawingArea<DB, Shift>,
        view: &View,
    ) -> DrawResult<DB> {
        use crate::draw_kit::{anchored, font, px, BACKGROUND, GRID, MUTED};
        use plotters::style::text_anchor::{HPos, VPos};
        let scale = view.scale;
        let (w, h) = root.dim_in_pixel();
        let strip = Self::export_caption_height(scene, figure, w as f64, scale);
        let (figure_area, caption) = root.split_vertically((h as f64 - strip).max(1.0) as u32);
        Self::draw_figure(scene, figure, &figure_area, view)?;
        caption.fill(&BACKGROUND)?;
        caption.draw(&PathElement::new(
            vec![(0, 0), (w as i32, 0)],
            ShapeStyle::from(&GRID).stroke_width(1),
        ))?;
        for (i, line) in Self::export_caption(scene, figure, w as f64, scale)
            .into_iter()
            .enumerate()
        {
            caption.draw(&Text::new(
                line,
                px((8.0 * scale, (6.0 + i as f64 * CAPTION_LINE) * scale)),
                anchored(
                    font(CAPTION_SIZE, scale).color(&MUTED),
                    HPos::Left,
                    VPos::Top,
                ),
            ))?;
        }
        Ok(())
    }
    /// One figure as an SVG document (the page's export and the CLI's output): the figure at
    /// `size`, its caption strip under it ([`Explorer::draw_export`]), and the same words in the
    /// SVG's title and description ([`Explorer::svg_caption`]).
    fn render_svg(scene: &Self::Scene, figure: &str, size: (u32, u32), at: f64) -> String {
        svg_document::<Self>(scene, figure, size, at, |backend, view| {
            let root = backend.into_drawing_area();
            Self::draw_export(scene, figure, &root, view)
                .and_then(|_| root.present())
                .map_err(|error| format!("{error:?}"))
        })
    }
    /// The figure name `name` if it is one of this explorer's, else None.
    fn figure(name: &str) -> Option<&'static FigureInfo> {
        Self::figures().iter().find(|f| f.name == name)
    }

    // ------------------------------------------------------------------ readout and exports

    /// The readout (`window.tokenDynamics.readout()`), as JSON text.
    fn readout_json(scene: &Self::Scene) -> String;
    /// The data behind the figures as CSV.
    fn csv(scene: &Self::Scene, link: &str) -> String;
    /// The full state and readout as JSON.
    fn json(scene: &Self::Scene, page: &PageOptions, link: &str) -> String;
    /// File name stem of exports (the page appends `_<figure>.<ext>`).
    fn file_stem(st: &Self::State) -> String;
    /// Title of the embed snippet's iframe.
    fn embed_title(scene: &Self::Scene) -> String;

    // ------------------------------------------------------------------ benchmarks

    /// Benchmark scenarios (only in builds with the explorer's `bench` feature).
    fn bench_scenarios() -> &'static [&'static str] {
        &[]
    }
    /// Prepares what a scenario needs outside its timed part (a model).
    fn bench_prepare(_name: &str) {}
    /// Runs one scenario; a checksum, or None for an unknown name.
    fn bench_run(_name: &str) -> Option<f64> {
        None
    }
}

/// An SVG document of one figure at `size` with its caption strip under it, drawn by `draw` into
/// the SVG backend it is given (the page first wraps that backend in its one backend type), and the
/// caption's words in the SVG's title and description ([`Explorer::svg_caption`]). A drawing
/// failure is a bug worth seeing: the document then says so in a comment.
pub fn svg_document<E: Explorer + ?Sized>(
    scene: &E::Scene,
    figure: &str,
    size: (u32, u32),
    at: f64,
    draw: impl FnOnce(SVGBackend<'_>, &View) -> Result<(), String>,
) -> String {
    let mut out = String::new();
    let strip = E::export_caption_height(scene, figure, f64::from(size.0), 1.0);
    let height = size.1.max(1) + strip as u32;
    let view = View {
        at,
        scale: 1.0,
        focus: None,
        hold: None,
    };
    match draw(
        SVGBackend::with_string(&mut out, (size.0.max(1), height)),
        &view,
    ) {
        Ok(()) => {
            let (title, desc) = E::svg_caption(scene, figure);
            crate::export::caption_svg(&out, &title, &desc)
        }
        Err(error) => format!("<!-- drawing failed: {error} -->"),
    }
}

/// What is wrong, if anything, with the exported SVG of `figure` (each explorer's tests call this):
/// it must hold `drawn`, the explorer's own drawing of the figure at `size` and time `at`, in a
/// document as tall as the figure plus its caption strip, with the caption as its title and the
/// link drawn in the strip.
pub fn export_svg_problem<E: Explorer>(
    scene: &E::Scene,
    figure: &str,
    size: (u32, u32),
    at: f64,
    drawn: &str,
) -> Option<String> {
    let exported = E::render_svg(scene, figure, size, at);
    let strip = E::export_caption_height(scene, figure, f64::from(size.0), 1.0);
    let head = format!(
        "<svg width=\"{}\" height=\"{}\"",
        size.0,
        size.1 + strip as u32
    );
    let (title, _) = E::svg_caption(scene, figure);
    let title = format!("<title>{}</title>", crate::export::xml_text(&title));
    let link = format!("reproduce: #{}?v=1", E::NAME);
    let start: String = exported.chars().take(80).collect();
    if !exported.contains(crate::export::svg_body(drawn)) {
        Some(format!("{figure}: the interface draws differently"))
    } else if !exported.starts_with(&head) {
        Some(format!("{figure}: not {head}: {start}"))
    } else if !exported.contains(&title) {
        Some(format!("{figure}: no {title}"))
    } else if !exported.contains(&link) {
        Some(format!("{figure}: no {link} drawn"))
    } else {
        None
    }
}
