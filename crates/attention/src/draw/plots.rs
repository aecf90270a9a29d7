//! The diagnostics figure: charts of the run's sizes, clusters, asymmetry and delta over the steps.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dash {
    Solid,
    Dashed,
    Dotted,
}

struct Series {
    points: Vec<(f64, f64)>,
    colour: RGBColor,
    dash: Dash,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum YAxis {
    Linear,
    /// Linear, fitted to the data (not from 0): small steps stay visible.
    Fit,
    Log,
}

/// Maps (x, y) of one chart to pixels (y already transformed: log10 for a log axis).
#[derive(Clone, Copy, Debug)]
struct ChartFrame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x_range: (f64, f64),
    y_range: (f64, f64),
}

impl ChartFrame {
    fn to_px(self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        (
            self.left + fx.clamp(-0.02, 1.02) * self.width,
            self.top + (1.0 - fy.clamp(-0.02, 1.02)) * self.height,
        )
    }
}

fn superscript(e: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut out = String::from("10");
    if e < 0 {
        out.push('⁻');
    }
    for c in e.unsigned_abs().to_string().chars() {
        out.push(DIGITS[c.to_digit(10).unwrap_or(0) as usize]);
    }
    out
}

/// One chart of the plots figure: where it goes, what it shows, and any centred messages.
struct Chart<'a> {
    /// (left, top, width, height) in pixels, labels included.
    rect: (f64, f64, f64, f64),
    title: &'a str,
    /// A second, muted line under the title (empty: none).
    subtitle: &'a str,
    series: &'a [Series],
    x_max: f64,
    /// Some(h): x values are steps k, drawn at log10(k·h) on a log time axis (k = 0 is not drawn).
    x_log: Option<f64>,
    /// The steps are times k·h (the sphere model): the x label says so.
    x_label_time: bool,
    axis: YAxis,
    cursor: Option<f64>,
    /// Centred notes in the chart (e.g. "softmax: no delta"), one per line.
    messages: &'a [(String, RGBColor)],
}

impl Chart<'_> {
    /// The plotted value of y: itself (linear axis) or log10 (log axis); None if not drawable.
    fn value(&self, y: f64) -> Option<f64> {
        match self.axis {
            YAxis::Linear | YAxis::Fit => y.is_finite().then_some(y),
            YAxis::Log => (y.is_finite() && y > 0.0).then(|| y.log10()),
        }
    }

    /// The y range in plotted values: from 0 (or below) with 8 % headroom on a linear axis, whole
    /// decades on a log axis.
    fn y_range(&self) -> (f64, f64) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for s in self.series {
            for &(_, y) in &s.points {
                if let Some(v) = self.value(y) {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        }
        match self.axis {
            YAxis::Fit if lo.is_finite() => {
                let span = (hi - lo).max(1e-9 * hi.abs().max(1.0));
                (lo - 0.05 * span, hi + 0.08 * span)
            }
            YAxis::Linear | YAxis::Fit => {
                if !lo.is_finite() {
                    (0.0, 1.0)
                } else {
                    let lo = lo.min(0.0);
                    let span = hi - lo;
                    if span <= 0.0 {
                        (lo - 0.5, hi + 1.0)
                    } else {
                        (lo, hi + 0.08 * span)
                    }
                }
            }
            YAxis::Log => {
                if !lo.is_finite() {
                    (-1.0, 1.0)
                } else {
                    let (a, b) = (lo.floor(), hi.ceil());
                    let (a, b) = if b <= a { (a - 1.0, b + 1.0) } else { (a, b) };
                    // Whole tick steps from the top, so the top and bottom decades are labelled.
                    let every = ((b - a) / 5.0).ceil().max(1.0);
                    (b - every * ((b - a) / every).ceil(), b)
                }
            }
        }
    }

    /// The plotted x of a step: itself, or log10(k·h) on the log time axis.
    fn x_value(&self, x: f64) -> Option<f64> {
        match self.x_log {
            None => x.is_finite().then_some(x),
            Some(h) => (x.is_finite() && x > 0.0).then(|| (x * h).log10()),
        }
    }

    fn x_range(&self) -> (f64, f64) {
        match self.x_log {
            None => (0.0, self.x_max.max(1.0)),
            Some(h) => {
                let lo = h.log10().floor();
                let hi = (self.x_max.max(1.0) * h).log10().ceil();
                (lo, if hi > lo { hi } else { lo + 1.0 })
            }
        }
    }

    fn frame(&self, scale: f64) -> ChartFrame {
        let (left, top, width, height) = self.rect;
        let head = if self.subtitle.is_empty() { 20.0 } else { 33.0 } * scale;
        ChartFrame {
            left: left + 50.0 * scale,
            top: top + head,
            width: (width - 60.0 * scale).max(10.0),
            height: (height - head - 30.0 * scale).max(10.0),
            x_range: self.x_range(),
            y_range: self.y_range(),
        }
    }

    /// The y ticks (plotted value, label): nice numbers, or every few decades as powers of ten.
    fn y_ticks(&self, y_range: (f64, f64)) -> Vec<(f64, String)> {
        match self.axis {
            YAxis::Linear | YAxis::Fit => {
                let ticks = nice_ticks(y_range.0, y_range.1, 4);
                let step = tick_step(&ticks);
                ticks.iter().map(|&t| (t, tick_text(t, step))).collect()
            }
            YAxis::Log => {
                let (a, b) = (y_range.0 as i64, y_range.1 as i64);
                let every = ((b - a) as f64 / 5.0).ceil().max(1.0) as i64;
                (a..=b)
                    .filter(|e| (e - a) % every == 0)
                    .map(|e| (e as f64, superscript(e as i32)))
                    .collect()
            }
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        scale: f64,
    ) -> DrawResult<DB> {
        let frame = self.frame(scale);
        self.draw_titles(area, scale)?;
        self.draw_axes(area, &frame, scale)?;
        for s in self.series {
            self.draw_series(area, &frame, s, scale)?;
        }
        if let Some(x) = self.cursor.and_then(|x| self.x_value(x)) {
            let (cx, _) = frame.to_px(x, frame.y_range.0);
            area.draw(&PathElement::new(
                vec![px((cx, frame.top)), px((cx, frame.top + frame.height))],
                ShapeStyle::from(&RGBColor(255, 170, 0)).stroke_width(lw(1.2, scale)),
            ))?;
        }
        for (index, (text, colour)) in self.messages.iter().enumerate() {
            area.draw(&Text::new(
                fit_text(text, frame.width - 8.0 * scale, 10.5, scale),
                px((
                    frame.left + frame.width / 2.0,
                    frame.top + frame.height * 0.35 + index as f64 * 14.0 * scale,
                )),
                anchored(font(10.5, scale).color(colour), HPos::Center, VPos::Center),
            ))?;
        }
        Ok(())
    }

    fn draw_titles<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        scale: f64,
    ) -> DrawResult<DB> {
        let (left, top, width, _) = self.rect;
        area.draw(&Text::new(
            fit_text(self.title, width - 12.0 * scale, 11.5, scale),
            px((left + 8.0 * scale, top + 4.0 * scale)),
            anchored(font(11.5, scale), HPos::Left, VPos::Top),
        ))?;
        if !self.subtitle.is_empty() {
            area.draw(&Text::new(
                fit_text(self.subtitle, width - 12.0 * scale, 9.5, scale),
                px((left + 8.0 * scale, top + 19.0 * scale)),
                anchored(font(9.5, scale).color(&MUTED), HPos::Left, VPos::Top),
            ))?;
        }
        Ok(())
    }

    /// y grid and labels, x tick labels, axis names and the axis lines.
    fn draw_axes<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        frame: &ChartFrame,
        scale: f64,
    ) -> DrawResult<DB> {
        for (y, text) in &self.y_ticks(frame.y_range) {
            let (_, py) = frame.to_px(0.0, *y);
            area.draw(&PathElement::new(
                vec![px((frame.left, py)), px((frame.left + frame.width, py))],
                ShapeStyle::from(&GRID).stroke_width(lw(1.0, scale)),
            ))?;
            area.draw(&Text::new(
                text.clone(),
                px((frame.left - 4.0 * scale, py)),
                anchored(font(9.5, scale).color(&MUTED), HPos::Right, VPos::Center),
            ))?;
        }
        let x_ticks: Vec<(f64, String)> = match self.x_log {
            None => {
                let ticks = nice_ticks(0.0, frame.x_range.1, 5);
                let step = tick_step(&ticks);
                ticks.iter().map(|&t| (t, tick_text(t, step))).collect()
            }
            Some(_) => {
                let (a, b) = (frame.x_range.0 as i64, frame.x_range.1 as i64);
                let every = ((b - a) as f64 / 5.0).ceil().max(1.0) as i64;
                (a..=b)
                    .filter(|e| (e - a) % every == 0)
                    .map(|e| (e as f64, superscript(e as i32)))
                    .collect()
            }
        };
        for (x, text) in &x_ticks {
            let (pxx, _) = frame.to_px(*x, frame.y_range.0);
            area.draw(&Text::new(
                text.clone(),
                px((pxx, frame.top + frame.height + 3.0 * scale)),
                anchored(font(9.5, scale).color(&MUTED), HPos::Center, VPos::Top),
            ))?;
        }
        if self.axis == YAxis::Log {
            area.draw(&Text::new(
                "log axis: zeros are not drawn",
                px((frame.left, frame.top + frame.height + 15.0 * scale)),
                anchored(font(9.5, scale).color(&MUTED), HPos::Left, VPos::Top),
            ))?;
        }
        let x_name = match (self.x_log, self.x_label_time) {
            (Some(_), true) => "time t = k·h (log)",
            (Some(_), false) => "step k (log)",
            (None, true) => "step k (time k·h)",
            (None, false) => "step k",
        };
        area.draw(&Text::new(
            x_name,
            px((
                frame.left + frame.width,
                frame.top + frame.height + 15.0 * scale,
            )),
            anchored(font(9.5, scale).color(&MUTED), HPos::Right, VPos::Top),
        ))?;
        area.draw(&PathElement::new(
            vec![
                px((frame.left, frame.top)),
                px((frame.left, frame.top + frame.height)),
                px((frame.left + frame.width, frame.top + frame.height)),
            ],
            ShapeStyle::from(&MUTED).stroke_width(lw(1.0, scale)),
        ))?;
        Ok(())
    }

    /// A series' pixel pieces, split where a value cannot be drawn (non-finite, or <= 0 on the
    /// log axis); repeated pixels are dropped.
    fn pieces(&self, frame: &ChartFrame, s: &Series) -> Vec<Vec<(i32, i32)>> {
        let mut pieces: Vec<Vec<(i32, i32)>> = vec![Vec::new()];
        for &(x, y) in &s.points {
            match (self.x_value(x), self.value(y)) {
                (Some(xv), Some(v)) => {
                    let q = px(frame.to_px(xv, v));
                    let last = pieces.last_mut().expect("one piece");
                    if last.last() != Some(&q) {
                        last.push(q);
                    }
                }
                _ => {
                    if !pieces.last().is_some_and(|p| p.is_empty()) {
                        pieces.push(Vec::new());
                    }
                }
            }
        }
        pieces
    }

    /// One series: its pieces as paths in its dash style, single points as dots.
    fn draw_series<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        frame: &ChartFrame,
        s: &Series,
        scale: f64,
    ) -> DrawResult<DB> {
        let style = ShapeStyle::from(&s.colour).stroke_width(lw(1.5, scale));
        for piece in self.pieces(frame, s) {
            match piece.len() {
                0 => {}
                1 => {
                    area.draw(&Circle::new(
                        piece[0],
                        (1.5 * scale) as i32,
                        s.colour.filled(),
                    ))?;
                }
                _ => match s.dash {
                    Dash::Solid => area.draw(&PathElement::new(piece, style))?,
                    Dash::Dashed => area.draw(&DashedPathElement::new(
                        piece,
                        (6.0 * scale).max(1.0) as i32,
                        (4.0 * scale).max(1.0) as i32,
                        style,
                    ))?,
                    Dash::Dotted => area.draw(&DashedPathElement::new(
                        piece,
                        (2.0 * scale).max(1.0) as i32,
                        (3.0 * scale).max(1.0) as i32,
                        style,
                    ))?,
                },
            }
        }
        Ok(())
    }
}

/// The plots figure: hull diameter/area/distance to the final state (log axis), cluster count,
/// delta(k) and asymmetry against the step k; 2×2, or 4×1 on narrow areas.
pub fn draw_plots<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    at: f64,
    scale: f64,
) -> DrawResult<DB> {
    area.fill(&BACKGROUND)?;
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as f64, h as f64);
    draw_rule_legend(area, scene, scale)?;
    if scene.panels.is_empty() {
        area.draw(&Text::new(
            fit_text(
                scene.error().unwrap_or("nothing to draw"),
                w - 16.0 * scale,
                11.0,
                scale,
            ),
            px((8.0 * scale, 4.0 * scale)),
            anchored(font(11.0, scale), HPos::Left, VPos::Top),
        ))?;
        return Ok(());
    }
    if !scene.is_done() {
        area.draw(&Text::new(
            format!("computing… {}%", (scene.progress() * 100.0).floor()),
            px((w - 8.0 * scale, 4.0 * scale)),
            anchored(font(11.0, scale).color(&BUSY), HPos::Right, VPos::Top),
        ))?;
    }
    draw_charts(area, scene, at, (w, h), scale)
}

/// The four charts of the plots figure, under the legend strip.
fn draw_charts<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    at: f64,
    (w, h): (f64, f64),
    scale: f64,
) -> DrawResult<DB> {
    let st = &scene.state;
    let done = scene.is_done();
    let columns = if w >= 560.0 * scale { 2 } else { 1 };
    let rows = 4 / columns;
    let legend_h = 20.0 * scale;
    let cell_w = w / columns as f64;
    let cell_h = ((h - legend_h) / rows as f64).max(20.0);
    // Only sphere panels: steps are times k·h. Beside an R^d panel the common unit is the step.
    let sphere_h = st
        .sphere()
        .map(|s| if st.only_sphere() { s.time.h() } else { 1.0 });
    let chart = |index: usize,
                 title: &str,
                 subtitle: &str,
                 series: &[Series],
                 (axis, x_log): (YAxis, bool),
                 messages: &[(String, RGBColor)]| {
        Chart {
            rect: (
                (index % columns) as f64 * cell_w,
                legend_h + (index / columns) as f64 * cell_h,
                cell_w,
                cell_h,
            ),
            title,
            subtitle,
            series,
            x_max: st.steps.max(1) as f64,
            x_log: if x_log { sphere_h } else { None },
            x_label_time: st.only_sphere(),
            axis,
            cursor: Some(scene.step_at(at) as f64),
            messages,
        }
        .draw(area, scale)
    };

    let subtitle = format!(
        "— diameter{}   ··· max_i |x_i(k) − x_i(K)|{}",
        if st.d == 2 { "   – – area" } else { "" },
        if done { "" } else { " (when computed)" }
    );
    let (linear, log) = ((YAxis::Linear, false), (YAxis::Log, false));
    chart(
        0,
        "hull size and distance to the final state (log scale)",
        &subtitle,
        &size_series(scene),
        log,
        &[],
    )?;
    let per_panel = |diag: fn(&td_particles::Run) -> Vec<(f64, f64)>| -> Vec<Series> {
        scene
            .panels
            .iter()
            .map(|panel| Series {
                points: diag(&panel.run),
                colour: panel_colour(panel),
                dash: Dash::Solid,
            })
            .collect()
    };
    let sphere = sphere_h.is_some();
    let tol = tick_text(st.tol, st.tol);
    let title = format!("clusters (single linkage, distance ≤ {tol})");
    let note = ["", "log time axis: metastable plateaus show as flat steps"][sphere as usize];
    let clusters = per_panel(cluster_points);
    chart(1, &title, note, &clusters, (YAxis::Linear, sphere), &[])?;
    if sphere {
        let energy = per_panel(energy_points);
        let inner = per_panel(min_inner_points);
        let beta = tick_text(st.beta, st.beta);
        let title = format!("interaction energy E_β (β = {beta}) as (1/β)·ln(2βE_β)");
        let note = "1: one cluster; k equal clusters far apart: ≈ 1 − ln(k)/β";
        chart(2, &title, note, &energy, (YAxis::Fit, true), &[])?;
        let title = "smallest inner product min ⟨x_i, x_j⟩";
        return chart(3, title, "", &inner, (YAxis::Fit, false), &[]);
    }
    let (deltas, messages) = delta_series(scene);
    let delta_title = if scene.panels.iter().any(|p| p.rule == RuleChoice::Localmax) {
        format!(
            "alignment sensitivity delta(k): {}",
            crate::scene::schedule_text(st)
        )
    } else {
        "alignment sensitivity delta(k)".to_string()
    };
    chart(2, &delta_title, "", &deltas, linear, &messages)?;
    chart(
        3,
        "asymmetry: pairs with j ∈ N_i but i ∉ N_j",
        "",
        &per_panel(asymmetry_points),
        linear,
        &[],
    )?;
    Ok(())
}

/// The legend strip of the plots: one colour per rule.
fn draw_rule_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    scale: f64,
) -> DrawResult<DB> {
    let mut lx = 8.0 * scale;
    for panel in &scene.panels {
        let text = format!("■ {}", panel.key());
        area.draw(&Text::new(
            text.clone(),
            px((lx, 4.0 * scale)),
            anchored(
                font(11.0, scale).color(&panel_colour(panel)),
                HPos::Left,
                VPos::Top,
            ),
        ))?;
        lx += (text.chars().count() as f64 * 6.6 + 14.0) * scale;
    }
    Ok(())
}

/// Chart 1: per rule, the hull diameter (solid), its area (d = 2, dashed) and the largest
/// distance to the final state (dotted, once known).
fn size_series(scene: &Scene) -> Vec<Series> {
    let mut sizes = Vec::new();
    for (index, panel) in scene.panels.iter().enumerate() {
        let colour = panel_colour(panel);
        let diags = panel.run.state_diags();
        sizes.push(Series {
            points: diags
                .iter()
                .enumerate()
                .map(|(k, s)| (k as f64, s.diameter))
                .collect(),
            colour,
            dash: Dash::Solid,
        });
        if scene.state.d == 2 {
            sizes.push(Series {
                points: diags
                    .iter()
                    .enumerate()
                    .map(|(k, s)| (k as f64, s.area.unwrap_or(f64::NAN)))
                    .collect(),
                colour,
                dash: Dash::Dashed,
            });
        }
        if let Some(dist) = scene.max_distance_to_final(index) {
            sizes.push(Series {
                points: dist
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| (k as f64, v))
                    .collect(),
                colour,
                dash: Dash::Dotted,
            });
        }
    }
    sizes
}

/// Chart 3: delta(k) per rule (hardmax: 0, dashed), with a note for the rules without one.
fn delta_series(scene: &Scene) -> (Vec<Series>, Vec<(String, RGBColor)>) {
    let mut deltas = Vec::new();
    let mut messages = Vec::new();
    for panel in &scene.panels {
        let colour = panel_colour(panel);
        match panel.rule {
            RuleChoice::Softmax => messages.push(("softmax: no delta".to_string(), colour)),
            RuleChoice::Hardmax => {
                messages.push(("delta = 0 (hardmax)".to_string(), colour));
                deltas.push(Series {
                    points: delta_points(&panel.run),
                    colour,
                    dash: Dash::Dashed,
                });
            }
            _ => deltas.push(Series {
                points: delta_points(&panel.run),
                colour,
                dash: Dash::Solid,
            }),
        }
    }
    (deltas, messages)
}

/// Number of clusters at each step.
fn cluster_points(run: &td_particles::Run) -> Vec<(f64, f64)> {
    run.state_diags()
        .iter()
        .enumerate()
        .map(|(k, s)| (k as f64, s.clusters as f64))
        .collect()
}

/// The sphere's energy ρ_β at each stored state.
fn energy_points(run: &td_particles::Run) -> Vec<(f64, f64)> {
    run.state_diags()
        .iter()
        .enumerate()
        .map(|(k, s)| (k as f64, s.sphere.map_or(f64::NAN, |x| x.energy)))
        .collect()
}

/// The smallest pairwise inner product at each stored state.
fn min_inner_points(run: &td_particles::Run) -> Vec<(f64, f64)> {
    run.state_diags()
        .iter()
        .enumerate()
        .map(|(k, s)| (k as f64, s.sphere.map_or(f64::NAN, |x| x.min_inner)))
        .collect()
}

/// Asymmetric pairs of each step's graph.
fn asymmetry_points(run: &td_particles::Run) -> Vec<(f64, f64)> {
    run.step_diags()
        .iter()
        .enumerate()
        .map(|(k, s)| (k as f64, s.asymmetry as f64))
        .collect()
}

fn delta_points(run: &td_particles::Run) -> Vec<(f64, f64)> {
    run.step_diags()
        .iter()
        .enumerate()
        .map(|(k, s)| (k as f64, s.delta.unwrap_or(f64::NAN)))
        .collect()
}
