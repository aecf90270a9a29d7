//! Drawing of the attention explorer, generic over plotters' `DrawingBackend`: the same code paints
//! the page's canvases, writes SVG for export and renders natively in tests and from the command line.
//!
//! As in `next_token::draw`, we draw in pixel coordinates through a frame object that maps data to
//! pixels and back ([`ParticleFrame`]; the page uses the inverse for clicks), text is placed by
//! anchor and never measured, and every f64 -> pixel conversion is guarded so no NaN reaches a
//! backend.
//!
//! - `particles`: the particles figure (one panel per rule: positions, trails, hulls, leaders,
//!   attention arrows), framed by `axes` (grid, 3-D box and triad, dominance cells) through
//!   `frame`'s [`ParticleFrame`], its data <-> pixel map;
//! - `plots`: the diagnostics figure (sizes, clusters, asymmetry, delta over the steps).
//!
//! This file holds what both share: colours, the legend, guards.

mod axes;
mod frame;
mod particles;
mod plots;

pub use frame::ParticleFrame;
pub use particles::draw_particles;
pub use plots::draw_plots;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::params::RuleChoice;
use super::scene::{Membership, Scene};
use td_core::draw_kit::{
    anchored, fit_text, font, lw, px, star_points, tick_text, wrap_items, BACKGROUND, GRID, INK,
    MUTED,
};
use td_core::draw_kit::{nice_ticks, text_colour, text_width};
use td_particles::pca::Pca;
use td_particles::{frank_wolfe, hull};

pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

const BUSY: RGBColor = RGBColor(200, 110, 0);
/// Tokens before the run is finished (no quiescent sets yet).
const NEUTRAL: RGBColor = RGBColor(60, 70, 110);
/// Tokens outside every quiescent set (and not attending into exactly one).
const OTHER: RGBColor = RGBColor(165, 165, 165);
const ARROW: RGBColor = RGBColor(200, 30, 60);
const STAR_FILL: RGBColor = RGBColor(255, 205, 40);

/// Colours of the quiescent sets (cycled).
pub const SET_COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(160, 160, 20),
    RGBColor(23, 170, 190),
    RGBColor(70, 60, 150),
];

/// Most trail segments drawn per panel (trails are subsampled over steps, then tokens, beyond it).
pub const MAX_TRAIL_SEGMENTS: usize = 60_000;
/// Most attention arrows drawn from the focus token (the largest weights).
pub const MAX_ARROWS: usize = 50;
/// Side of a dominance-cell background cell, CSS px.
pub const CELL_PX: f64 = 6.0;

/// The colour of a rule in the plots (compare mode: one per rule).
pub fn rule_colour(rule: RuleChoice) -> RGBColor {
    match rule {
        RuleChoice::Softmax => RGBColor(31, 119, 180),
        RuleChoice::Hardmax => RGBColor(214, 39, 40),
        RuleChoice::Localmax | RuleChoice::Compare => RGBColor(44, 150, 44),
    }
}

/// Colours of the geometries when several are shown side by side (R^d, sphere, …).
pub const GEOMETRY_COLOURS: [RGBColor; 3] = [
    RGBColor(44, 150, 44),
    RGBColor(31, 119, 180),
    RGBColor(170, 60, 150),
];

/// A panel's colour in the plots: its geometry's when several are shown, else its rule's.
pub fn panel_colour(panel: &crate::scene::Panel) -> RGBColor {
    match panel.label {
        Some(_) => GEOMETRY_COLOURS[panel.slot % GEOMETRY_COLOURS.len()],
        None => rule_colour(panel.rule),
    }
}

pub fn set_colour(set: usize) -> RGBColor {
    SET_COLOURS[set % SET_COLOURS.len()]
}

fn finite(p: (f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}

/// Below this height (CSS px) a particle panel has no legend.
const LEGEND_MIN_HEIGHT: f64 = 240.0;

/// Legend items of a particle panel (from the state only, so the frame does not jump when the run
/// finishes).
fn legend_items(scene: &Scene) -> Vec<String> {
    let st = &scene.state;
    let mut items = Vec::new();
    if st.hull {
        items.push(match st.d {
            1 => "dashed: initial range · solid: range at k".to_string(),
            2 => "dashed: initial hull · solid: hull at k".to_string(),
            _ => "dashed: initial outline · solid: outline of the projection at k".to_string(),
        });
    }
    items.push(if st.leaders_trivial() {
        "leaders not marked: on the sphere with A = I every token is its own argmax".to_string()
    } else {
        "★ fixed leader (C_i = {i})  ☆ leader (i ∈ C_i)".to_string()
    });
    items.push("colour: quiescent set (working definition); ring: attends into it".to_string());
    if let Some(i) = st.focus {
        items.push(format!("arrows: attention of token {i} (opacity ∝ weight)"));
    }
    if st.cells && st.d == 2 {
        items.push(if scene.is_psd() {
            "background: dominance cells of the hull vertices (exact for hardmax, A PSD)"
                .to_string()
        } else {
            "background: dominance cells (exact only for A PSD; this A is not)".to_string()
        });
    }
    items
}

fn tick_step(ticks: &[f64]) -> f64 {
    if ticks.len() >= 2 {
        (ticks[1] - ticks[0]).abs()
    } else {
        ticks.first().map_or(1.0, |t| t.abs().max(1e-300))
    }
}
