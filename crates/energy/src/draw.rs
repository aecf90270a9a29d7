//! Drawing of the energy lab, generic over plotters' `DrawingBackend` (canvas, SVG, native PNG):
//! - `series`: K_t, U_t, E_t against the position, trained and random side by side (shared y
//!   scale), with the steered E dashed and the inspected position marked;
//! - `phase`: the phase portrait ‖v_t‖ against U_t, consecutive tokens joined, iso-energy curves;
//! - `scatter`: ΔK against ΔU for both models, with the line ΔU = −ΔK (E exactly conserved);
//! - `dist`: the next-byte distribution at the inspected position, with steering.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::params::{byte_label, ModelChoice};
use super::scene::{capitalise, model_title, top_tokens, Scene, SteerOutcome, Trained};
use td_core::draw_kit::nice_ticks;
use td_core::draw_kit::{
    anchored, draw_legend, fit_text, font, lw, px, tick_text, BACKGROUND, GRID, INK, MUTED,
};
use td_transformer::energy::{EnergyForm, EnergySeries, EnergySummary, Potential};

pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

pub const K_COLOUR: RGBColor = RGBColor(31, 119, 180);
pub const U_COLOUR: RGBColor = RGBColor(230, 120, 20);
pub const E_COLOUR: RGBColor = RGBColor(34, 34, 34);
pub const STEER_COLOUR: RGBColor = RGBColor(200, 30, 60);
pub const CURSOR: RGBColor = RGBColor(255, 170, 0);
pub const TRAINED_COLOUR: RGBColor = RGBColor(31, 119, 180);
pub const RANDOM_COLOUR: RGBColor = RGBColor(150, 150, 150);
const ISO: RGBColor = RGBColor(170, 170, 200);

fn model_colour(model: ModelChoice) -> RGBColor {
    match model {
        ModelChoice::Trained => TRAINED_COLOUR,
        ModelChoice::Random => RANDOM_COLOUR,
    }
}

/// What one side of the `series`, `phase` and `scatter` figures shows: a model's series.
#[derive(Clone, Copy, Debug)]
pub struct Panel<'a> {
    /// The model's name as the titles say it, lower case ("trained model", "random twin").
    pub title: &'a str,
    pub series: &'a EnergySeries,
    /// ‖v_t‖ aligned with `series.t`.
    pub speed: &'a [f64],
    pub summary: &'a EnergySummary,
}

/// What the `series`, `phase` and `scatter` figures draw: two models side by side (the lab's
/// trained and random models, or a real checkpoint and its random twin, td_checkpoint::figures).
pub struct Panels<'a> {
    /// Left then right; a side not computed says why, one line per entry.
    pub sides: [Result<Panel<'a>, Vec<String>>; 2],
    /// Tokens of the text (the x range of `series`).
    pub token_count: usize,
    /// The inspected position, marked on one side (its index).
    pub cursor: Option<(usize, usize)>,
    /// Steering of one side (its index), drawn dashed near its position.
    pub steer: Option<(usize, &'a SteerOutcome)>,
    pub potential: Potential,
    pub form: EnergyForm,
}

impl Scene {
    /// The lab's two models as the figures draw them.
    pub fn panels(&self) -> Panels<'_> {
        let side = |i: usize| {
            let model = PANEL_MODELS[i];
            match &self.analyses[i] {
                Some(a) => Ok(Panel {
                    title: model_title(model),
                    series: &a.series,
                    speed: &a.speed,
                    summary: &a.summary,
                }),
                None => Err(missing_text(self, model)),
            }
        };
        let index = |m: ModelChoice| PANEL_MODELS.iter().position(|&p| p == m).unwrap_or(0);
        Panels {
            sides: [side(0), side(1)],
            token_count: self.tokens.len(),
            cursor: Some((index(self.model), self.position())),
            steer: self.steer_outcome().map(|s| (index(s.model), s)),
            potential: self.state.potential,
            form: self.state.form,
        }
    }
}

fn clean_scale(scale: f64) -> f64 {
    if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    }
}

/// Maps data to pixels inside one chart.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Frame {
    pub fn to_px(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (y - self.y.0) / (self.y.1 - self.y.0);
        (
            self.left + fx.clamp(-0.05, 1.05) * self.width,
            self.top + (1.0 - fy.clamp(-0.05, 1.05)) * self.height,
        )
    }
}

/// A padded range of finite values (a flat or empty set gets a unit span).
pub fn range_of(values: impl Iterator<Item = f64>, include_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let span = hi - lo;
    if span <= 1e-12 * (1.0 + hi.abs()) {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo - 0.04 * span, hi + 0.06 * span)
    }
}

/// Title, subtitle, grid, ticks and axis labels (`labels.0` empty: no x ticks); returns the inner
/// frame.
#[allow(clippy::too_many_arguments)]
pub fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rect: (f64, f64, f64, f64),
    title: &str,
    subtitle: &str,
    x: (f64, f64),
    y: (f64, f64),
    labels: (&str, &str),
    scale: f64,
) -> Result<Frame, DrawingAreaErrorKind<DB::ErrorType>> {
    let (left, top, width, height) = rect;
    let head = if subtitle.is_empty() { 20.0 } else { 33.0 } * scale;
    let frame = Frame {
        left: left + 48.0 * scale,
        top: top + head,
        width: (width - 58.0 * scale).max(10.0),
        height: (height - head - 32.0 * scale).max(10.0),
        x,
        y,
    };
    area.draw(&Text::new(
        fit_text(title, width - 12.0 * scale, 11.5, scale),
        px((left + 8.0 * scale, top + 4.0 * scale)),
        anchored(font(11.5, scale), HPos::Left, VPos::Top),
    ))?;
    if !subtitle.is_empty() {
        area.draw(&Text::new(
            fit_text(subtitle, width - 12.0 * scale, 9.5, scale),
            px((left + 8.0 * scale, top + 19.0 * scale)),
            anchored(font(9.5, scale).color(&MUTED), HPos::Left, VPos::Top),
        ))?;
    }
    let y_ticks = nice_ticks(y.0, y.1, 4);
    let y_step = step_of(&y_ticks);
    for &t in &y_ticks {
        let (_, py) = frame.to_px(x.0, t);
        area.draw(&PathElement::new(
            vec![px((frame.left, py)), px((frame.left + frame.width, py))],
            ShapeStyle::from(&GRID).stroke_width(lw(1.0, scale)),
        ))?;
        area.draw(&Text::new(
            tick_text(t, y_step),
            px((frame.left - 4.0 * scale, py)),
            anchored(font(9.5, scale).color(&MUTED), HPos::Right, VPos::Center),
        ))?;
    }
    // No x label: a bar chart labels its own categories, so no numeric ticks either.
    let x_ticks = if labels.0.is_empty() {
        Vec::new()
    } else {
        nice_ticks(x.0, x.1, 5)
    };
    let x_step = step_of(&x_ticks);
    for &t in &x_ticks {
        let (pxx, _) = frame.to_px(t, y.0);
        area.draw(&Text::new(
            tick_text(t, x_step),
            px((pxx, frame.top + frame.height + 3.0 * scale)),
            anchored(font(9.5, scale).color(&MUTED), HPos::Center, VPos::Top),
        ))?;
    }
    area.draw(&Text::new(
        labels.0.to_string(),
        px((
            frame.left + frame.width,
            frame.top + frame.height + 16.0 * scale,
        )),
        anchored(font(9.5, scale).color(&MUTED), HPos::Right, VPos::Top),
    ))?;
    area.draw(&Text::new(
        labels.1.to_string(),
        px((frame.left + 4.0 * scale, frame.top + 2.0 * scale)),
        anchored(font(9.5, scale).color(&MUTED), HPos::Left, VPos::Top),
    ))?;
    area.draw(&PathElement::new(
        vec![
            px((frame.left, frame.top)),
            px((frame.left, frame.top + frame.height)),
            px((frame.left + frame.width, frame.top + frame.height)),
        ],
        ShapeStyle::from(&MUTED).stroke_width(lw(1.0, scale)),
    ))?;
    Ok(frame)
}

fn step_of(ticks: &[f64]) -> f64 {
    if ticks.len() >= 2 {
        (ticks[1] - ticks[0]).abs()
    } else {
        1.0
    }
}

/// A polyline through the finite points (split at gaps), solid or dashed.
pub fn polyline<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame,
    points: &[(f64, f64)],
    colour: RGBColor,
    width: f64,
    dashed: bool,
    scale: f64,
) -> DrawResult<DB> {
    let mut pieces: Vec<Vec<(i32, i32)>> = vec![Vec::new()];
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() {
            let q = px(frame.to_px(x, y));
            let last = pieces.last_mut().expect("one piece");
            if last.last() != Some(&q) {
                last.push(q);
            }
        } else if !pieces.last().is_some_and(|p| p.is_empty()) {
            pieces.push(Vec::new());
        }
    }
    let style = ShapeStyle::from(&colour).stroke_width(lw(width, scale));
    for piece in pieces {
        match piece.len() {
            0 => {}
            1 => {
                area.draw(&Circle::new(
                    piece[0],
                    (1.5 * scale).max(1.0) as i32,
                    colour.filled(),
                ))?;
            }
            _ if dashed => area.draw(&DashedPathElement::new(
                piece,
                (5.0 * scale).max(1.0) as i32,
                (3.0 * scale).max(1.0) as i32,
                style,
            ))?,
            _ => area.draw(&PathElement::new(piece, style))?,
        }
    }
    Ok(())
}

fn centred_message<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rect: (f64, f64, f64, f64),
    lines: &[String],
    scale: f64,
) -> DrawResult<DB> {
    let (left, top, width, height) = rect;
    for (i, line) in lines.iter().enumerate() {
        area.draw(&Text::new(
            fit_text(line, width - 16.0 * scale, 11.0, scale),
            px((
                left + width / 2.0,
                top + height * 0.45 + i as f64 * 16.0 * scale,
            )),
            anchored(font(11.0, scale).color(&MUTED), HPos::Center, VPos::Center),
        ))?;
    }
    Ok(())
}

/// Why a model's side is empty.
fn missing_text(scene: &Scene, model: ModelChoice) -> Vec<String> {
    let mut lines = vec![capitalise(model_title(model))];
    match (model, &scene_trained(scene)) {
        (ModelChoice::Trained, Trained::Loading(Some(f))) => lines.push(format!(
            "loading the trained weights… {:.0}%",
            (f * 100.0).floor()
        )),
        (ModelChoice::Trained, Trained::Loading(None)) => {
            lines.push("loading the trained weights…".into())
        }
        (ModelChoice::Trained, Trained::Failed(e)) => {
            lines.push("the trained weights could not be loaded".into());
            if !e.is_empty() {
                lines.push(e.clone());
            }
        }
        _ => lines.push(format!(
            "computing… {:.0}%",
            (scene.progress() * 100.0).floor()
        )),
    }
    lines
}

fn scene_trained(scene: &Scene) -> Trained {
    scene.trained_status()
}

/// Index in the series of the last point shown at playback position `at`.
pub fn shown_count(series: &EnergySeries, at: f64) -> usize {
    let n = series.t.len();
    if n == 0 {
        return 0;
    }
    ((at.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n)
}

/// The models in panel order (trained left, random right).
pub const PANEL_MODELS: [ModelChoice; 2] = [ModelChoice::Trained, ModelChoice::Random];

/// Two panels side by side (one above the other when narrow).
pub fn panel_rects(w: f64, h: f64, top: f64, scale: f64) -> [(f64, f64, f64, f64); 2] {
    if w >= 600.0 * scale {
        let half = w / 2.0;
        [(0.0, top, half, h - top), (half, top, half, h - top)]
    } else {
        let half = (h - top) / 2.0;
        [(0.0, top, w, half), (0.0, top + half, w, half)]
    }
}

/// The legend strip across the top; returns where the panels below it start (its bottom, at
/// least 20 px: one line).
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, RGBColor)],
    scale: f64,
) -> Result<f64, DrawingAreaErrorKind<DB::ErrorType>> {
    let w = area.dim_in_pixel().0 as f64;
    let height = draw_legend(
        area,
        items,
        (8.0 * scale, 4.0 * scale, w - 4.0 * scale),
        10.5,
        scale,
    )?;
    Ok((5.0 * scale + height).max(20.0 * scale))
}

/// The `series` figure.
pub fn draw_series<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panels: &Panels,
    at: f64,
    scale: f64,
) -> DrawResult<DB> {
    let scale = clean_scale(scale);
    area.fill(&BACKGROUND)?;
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as f64, h as f64);
    let steer = panels.steer;
    let mut items = vec![
        ("— K (kinetic)".to_string(), K_COLOUR),
        ("— U (potential)".to_string(), U_COLOUR),
        ("— E".to_string(), E_COLOUR),
    ];
    if steer.is_some() {
        items.push(("- - E with steering".to_string(), STEER_COLOUR));
    }
    let top = legend(area, &items, scale)?;
    let view = SeriesView {
        panels,
        x: (0.0, panels.token_count.saturating_sub(1).max(1) as f64),
        y: shared_energy_range(panels),
        at,
        scale,
    };
    for (i, rect) in panel_rects(w, h, top, scale).into_iter().enumerate() {
        match &panels.sides[i] {
            Ok(side) => view.panel(area, rect, i, side)?,
            Err(why) => centred_message(area, rect, why, scale)?,
        }
    }
    Ok(())
}

/// One y scale for both panels of the `series` figure (K, U, E and the steered E), so their
/// spreads compare honestly.
fn shared_energy_range(panels: &Panels) -> (f64, f64) {
    let mut all = Vec::new();
    for a in panels.sides.iter().flatten() {
        all.extend(a.series.k.iter().chain(&a.series.u).chain(&a.series.e));
    }
    if let Some((_, s)) = panels.steer {
        all.extend(s.series.e.iter());
    }
    range_of(all.into_iter().copied(), true)
}

/// What both panels of the `series` figure share.
struct SeriesView<'a> {
    panels: &'a Panels<'a>,
    /// Positions shown.
    x: (f64, f64),
    /// The shared energy range.
    y: (f64, f64),
    /// Playback position (fraction of the tokens).
    at: f64,
    scale: f64,
}

impl SeriesView<'_> {
    /// One model's panel: K, U and E up to the playback position, the steered E near the
    /// steered position, and the inspected position (chosen model only).
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        rect: (f64, f64, f64, f64),
        index: usize,
        a: &Panel,
    ) -> DrawResult<DB> {
        let scale = self.scale;
        let sub = format!(
            "mass {} · CV(E) {} · CV(K) {} · CV(U) {} · corr(K,U) {}",
            mass_text(a.series),
            super::scene::opt(a.summary.cv_e, 3),
            super::scene::opt(a.summary.cv_k, 3),
            super::scene::opt(a.summary.cv_u, 3),
            super::scene::opt(a.summary.corr_ku, 2)
        );
        let frame = chart(
            area,
            rect,
            &format!("{}: K, U and E per position", capitalise(a.title)),
            &sub,
            self.x,
            self.y,
            ("position t", "nats"),
            scale,
        )?;
        let count = shown_count(a.series, self.at);
        let pick = |v: &[f64]| -> Vec<(f64, f64)> {
            a.series
                .t
                .iter()
                .zip(v)
                .take(count)
                .map(|(&t, &v)| (t as f64, v))
                .collect()
        };
        for (values, colour, width) in [
            (&a.series.k, K_COLOUR, 1.2),
            (&a.series.u, U_COLOUR, 1.2),
            (&a.series.e, E_COLOUR, 1.6),
        ] {
            polyline(area, &frame, &pick(values), colour, width, false, scale)?;
        }
        if let Some((_, s)) = self.panels.steer.filter(|(i, _)| *i == index) {
            let points: Vec<(f64, f64)> = s
                .series
                .t
                .iter()
                .zip(&s.series.e)
                .filter(|(&t, _)| t + 3 >= s.position && t <= s.position + 3)
                .map(|(&t, &e)| (t as f64, e))
                .collect();
            polyline(area, &frame, &points, STEER_COLOUR, 1.6, true, scale)?;
        }
        if let Some((_, position)) = self.panels.cursor.filter(|(i, _)| *i == index) {
            let (cx, _) = frame.to_px(position as f64, self.y.0);
            area.draw(&PathElement::new(
                vec![px((cx, frame.top)), px((cx, frame.top + frame.height))],
                ShapeStyle::from(&CURSOR).stroke_width(lw(1.2, scale)),
            ))?;
        }
        Ok(())
    }
}

fn mass_text(series: &EnergySeries) -> String {
    let m = series.mass.value;
    if (m - 1.0).abs() < 1e-15 {
        "1".into()
    } else if series.mass.fitted.is_some() && !series.mass.fell_back {
        format!("m* = {m:.4}")
    } else {
        format!("{m:.5}")
    }
}

/// The `phase` figure: ‖v_t‖ against U_t, consecutive tokens joined, iso-energy curves.
pub fn draw_phase<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panels: &Panels,
    at: f64,
    scale: f64,
) -> DrawResult<DB> {
    let scale = clean_scale(scale);
    area.fill(&BACKGROUND)?;
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as f64, h as f64);
    let top = legend(
        area,
        &[
            ("● tokens, joined in order".to_string(), INK),
            (
                "- - iso-energy curves (E at its 10/50/90% quantiles)".to_string(),
                ISO,
            ),
        ],
        scale,
    )?;
    let u_label = match panels.potential {
        Potential::Surprisal => "U = −log p(next)",
        Potential::Entropy => "U = H(p_t)",
    };
    for (i, rect) in panel_rects(w, h, top, scale).into_iter().enumerate() {
        let a = match &panels.sides[i] {
            Ok(side) => side,
            Err(why) => {
                centred_message(area, rect, why, scale)?;
                continue;
            }
        };
        let x = range_of(a.speed.iter().copied(), false);
        let y = range_of(a.series.u.iter().copied(), false);
        let frame = chart(
            area,
            rect,
            &format!("{}: phase portrait", capitalise(a.title)),
            &format!("{} points · {}", a.series.t.len(), u_label),
            x,
            y,
            ("‖v_t‖", u_label),
            scale,
        )?;
        // Iso-energy curves U = E − ½·m·v² (additive) or U = E − ln(m·v²) (product).
        let mut sorted = a.series.e.clone();
        sorted.sort_by(|p, q| p.partial_cmp(q).unwrap_or(std::cmp::Ordering::Equal));
        if !sorted.is_empty() {
            let m = a.series.mass.value;
            for q in [0.1, 0.5, 0.9] {
                let e = sorted[((sorted.len() - 1) as f64 * q).round() as usize];
                let curve: Vec<(f64, f64)> = (0..=80)
                    .map(|i| {
                        let v = x.0.max(0.0) + (x.1 - x.0.max(0.0)) * i as f64 / 80.0;
                        let u = match panels.form {
                            EnergyForm::Additive => e - 0.5 * m * v * v,
                            EnergyForm::Product => e - (m * v * v).ln(),
                        };
                        (v, u)
                    })
                    .filter(|(_, u)| *u >= y.0 && *u <= y.1)
                    .collect();
                polyline(area, &frame, &curve, ISO, 1.0, true, scale)?;
            }
        }
        let count = shown_count(a.series, at);
        let points: Vec<(f64, f64)> = a
            .speed
            .iter()
            .zip(&a.series.u)
            .take(count)
            .map(|(&v, &u)| (v, u))
            .collect();
        let colour = model_colour(PANEL_MODELS[i]);
        polyline(
            area,
            &frame,
            &points,
            colour.mix(0.35).to_rgba().into_rgb(),
            0.8,
            false,
            scale,
        )?;
        for (i, &(v, u)) in points.iter().enumerate() {
            let last = i + 1 == points.len();
            area.draw(&Circle::new(
                px(frame.to_px(v, u)),
                ((if last { 4.0 } else { 2.2 }) * scale) as i32,
                if last {
                    CURSOR.filled()
                } else {
                    colour.filled()
                },
            ))?;
        }
    }
    Ok(())
}

trait IntoRgb {
    fn into_rgb(self) -> RGBColor;
}

impl IntoRgb for RGBAColor {
    /// Blends over white (backends draw alpha differently; a solid colour is the same everywhere).
    fn into_rgb(self) -> RGBColor {
        let RGBAColor(r, g, b, a) = self;
        let mix = |c: u8| (c as f64 * a + 255.0 * (1.0 - a)).round() as u8;
        RGBColor(mix(r), mix(g), mix(b))
    }
}

/// The `scatter` figure: ΔK_t against ΔU_t for both models.
pub fn draw_scatter<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panels: &Panels,
    at: f64,
    scale: f64,
) -> DrawResult<DB> {
    let scale = clean_scale(scale);
    area.fill(&BACKGROUND)?;
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as f64, h as f64);
    let mut items = Vec::new();
    let mut clouds = Vec::new();
    for (model, side) in PANEL_MODELS.into_iter().zip(&panels.sides) {
        if let Ok(a) = side {
            let count = shown_count(a.series, at);
            let points: Vec<(f64, f64)> = (1..count)
                .filter(|&i| a.series.t[i] == a.series.t[i - 1] + 1)
                .map(|i| {
                    (
                        a.series.k[i] - a.series.k[i - 1],
                        a.series.u[i] - a.series.u[i - 1],
                    )
                })
                .collect();
            items.push((format!("● {}", a.title), model_colour(model)));
            clouds.push((model, points));
        }
    }
    items.push(("— ΔU = −ΔK (E exactly conserved)".to_string(), STEER_COLOUR));
    let top = legend(area, &items, scale)?;
    let rect = (0.0, top, w, h - top);
    if clouds.is_empty() {
        let why = panels.sides[1].as_ref().err().cloned().unwrap_or_default();
        return centred_message(area, rect, &why, scale);
    }
    let xs = clouds.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
    let ys = clouds.iter().flat_map(|(_, p)| p.iter().map(|q| q.1));
    let x = range_of(xs, true);
    let y = range_of(ys, true);
    let frame = chart(
        area,
        rect,
        "Consecutive changes: ΔK against ΔU",
        "points on the red line would trade kinetic for potential exactly (additive form)",
        x,
        y,
        ("ΔK_t = K_{t+1} − K_t", "ΔU_t"),
        scale,
    )?;
    let lo = x.0.max(-y.1);
    let hi = x.1.min(-y.0);
    if lo < hi {
        polyline(
            area,
            &frame,
            &[(lo, -lo), (hi, -hi)],
            STEER_COLOUR,
            1.0,
            false,
            scale,
        )?;
    }
    for (model, points) in &clouds {
        let colour = model_colour(*model);
        for &(a, b) in points {
            area.draw(&Circle::new(
                px(frame.to_px(a, b)),
                (2.0 * scale) as i32,
                colour.filled(),
            ))?;
        }
    }
    Ok(())
}

/// Bars of the `dist` figure: how many bytes are shown.
pub const DIST_BARS: usize = 12;

/// The `dist` figure: the next-byte distribution at the inspected position (chosen model),
/// before and after steering; `hover` overrides the position (pointer preview).
pub fn draw_distribution<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    hover: Option<usize>,
    scale: f64,
) -> DrawResult<DB> {
    let scale = clean_scale(scale);
    area.fill(&BACKGROUND)?;
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as f64, h as f64);
    let rect = (0.0, 0.0, w, h);
    let Some(a) = scene.chosen() else {
        return centred_message(area, rect, &missing_text(scene, scene.model), scale);
    };
    let t = hover.unwrap_or_else(|| scene.position());
    let Some(lp) = a.log_probs_at(t) else {
        return centred_message(area, rect, &["no position".to_string()], scale);
    };
    let bars = DistBars::new(
        lp,
        scene.steer_outcome().filter(|s| s.position == t),
        scene.tokens.get(t + 1).map(|&b| b as usize),
    );
    // As much context as fits: the title keeps its end (the inspected byte) and drops its start.
    let head = format!(
        "{}: next byte after position {t} (“…",
        capitalise(model_title(a.model))
    );
    let room = (w - 20.0 * scale) / (0.56 * 12.0 * scale) - head.chars().count() as f64 - 2.0;
    let title = format!(
        "{head}{}”)",
        context_before(&scene.tokens, t, room.clamp(3.0, 25.0) as usize)
    );
    let frame = chart(
        area,
        rect,
        &title,
        &bars.subtitle(),
        (0.0, bars.shown.len() as f64),
        (0.0, (bars.max_p() * 1.1).max(1e-3)),
        ("", "p"),
        scale,
    )?;
    bars.draw(area, &frame, scale)
}

/// Up to `count` bytes of the text ending at position t, printable (⏎ for a newline, · otherwise).
fn context_before(tokens: &[u32], t: usize, count: usize) -> String {
    tokens[t.saturating_sub(count.max(1) - 1)..=t.min(tokens.len() - 1)]
        .iter()
        .map(|&b| match b as u8 {
            b'\n' => '⏎',
            b if b.is_ascii_graphic() || b == b' ' => b as char,
            _ => '·',
        })
        .collect()
}

/// The bars of the `dist` figure at one position.
struct DistBars<'a> {
    /// Log-probabilities of the next byte.
    lp: &'a [f64],
    /// Steering at this position, if any.
    steer: Option<&'a SteerOutcome>,
    /// The text's next byte (none at the last position).
    next: Option<usize>,
    /// The bytes shown: the most probable, then (with steering) the most probable after it and
    /// the target, replacing the last ones.
    shown: Vec<usize>,
}

impl<'a> DistBars<'a> {
    fn new(lp: &'a [f64], steer: Option<&'a SteerOutcome>, next: Option<usize>) -> DistBars<'a> {
        let mut shown = top_tokens(lp, DIST_BARS);
        if let Some(s) = steer {
            for extra in top_tokens(&s.log_probs, 3)
                .into_iter()
                .chain([s.target as usize])
            {
                if !shown.contains(&extra) {
                    shown.pop();
                    shown.push(extra);
                }
            }
        }
        DistBars {
            lp,
            steer,
            next,
            shown,
        }
    }

    fn subtitle(&self) -> String {
        let lp = self.lp;
        match (self.steer, self.next) {
            (Some(s), _) => format!(
                "red: after steering toward {} (p {:.3} → {:.3}) · left: before (orange: the text's next byte)",
                byte_label(s.target),
                s.old_log_p.exp(),
                s.new_log_p.exp()
            ),
            (None, Some(n)) => format!(
                "the text's next byte {} has p = {:.4} (surprisal {:.3} nats)",
                byte_label(n as u8),
                lp[n].exp(),
                -lp[n]
            ),
            (None, None) => "the last position: the text does not say what comes next".into(),
        }
    }

    /// The largest probability shown, before or after steering.
    fn max_p(&self) -> f64 {
        self.shown
            .iter()
            .map(|&i| {
                let after = self.steer.map_or(0.0, |s| s.log_probs[i].exp());
                self.lp[i].exp().max(after)
            })
            .fold(0.0, f64::max)
    }

    /// One bar per byte shown (the text's next byte highlighted), its steered bar beside it, and
    /// its label (the target emphasised).
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        frame: &Frame,
        scale: f64,
    ) -> DrawResult<DB> {
        let steer = self.steer;
        for (i, &token) in self.shown.iter().enumerate() {
            let before = self.lp[token].exp();
            let x0 = i as f64 + 0.12;
            let x1 = i as f64 + if steer.is_some() { 0.5 } else { 0.88 };
            let is_next = Some(token) == self.next;
            let colour = if is_next { U_COLOUR } else { RANDOM_COLOUR };
            area.draw(&Rectangle::new(
                [px(frame.to_px(x0, before)), px(frame.to_px(x1, 0.0))],
                colour.filled(),
            ))?;
            if let Some(s) = steer {
                let after = s.log_probs[token].exp();
                area.draw(&Rectangle::new(
                    [
                        px(frame.to_px(i as f64 + 0.5, after)),
                        px(frame.to_px(i as f64 + 0.88, 0.0)),
                    ],
                    STEER_COLOUR.filled(),
                ))?;
            }
            let (cx, by) = frame.to_px(i as f64 + 0.5, 0.0);
            let label = byte_label(token as u8);
            let is_target = steer.is_some_and(|s| s.target as usize == token);
            area.draw(&Text::new(
                label,
                px((cx, by + 3.0 * scale)),
                anchored(
                    font(if is_target { 11.5 } else { 10.5 }, scale).color(if is_target {
                        &STEER_COLOUR
                    } else {
                        &INK
                    }),
                    HPos::Center,
                    VPos::Top,
                ),
            ))?;
        }
        Ok(())
    }
}
