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
                anchored(
                    font(10.5, scale).color(&text_colour(colour)),
                    HPos::Center,
                    VPos::Center,
                ),
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
            anchored(
                font(11.0, scale).color(&text_colour(&BUSY)),
                HPos::Right,
                VPos::Top,
            ),
        ))?;
    }
    draw_charts(area, scene, at, (w, h), scale)
}

/// The four charts of the plots figure, under the legend strip.
/// Where the four charts go: 2×2, or 4×1 on narrow areas, under the legend strip.
#[derive(Clone, Copy)]
struct Grid {
    columns: usize,
    cell_w: f64,
    cell_h: f64,
    legend_h: f64,
}

impl Grid {
    fn new((w, h): (f64, f64), scale: f64) -> Grid {
        let columns = if w >= 560.0 * scale { 2 } else { 1 };
        let legend_h = 20.0 * scale;
        Grid {
            columns,
            cell_w: w / columns as f64,
            cell_h: ((h - legend_h) / (4 / columns) as f64).max(20.0),
            legend_h,
        }
    }

    fn rect(&self, index: usize) -> (f64, f64, f64, f64) {
        (
            (index % self.columns) as f64 * self.cell_w,
            self.legend_h + (index / self.columns) as f64 * self.cell_h,
            self.cell_w,
            self.cell_h,
        )
    }
}

/// What every chart of one figure shares: the scene, the step shown and the time axis.
struct ChartKit<'s> {
    scene: &'s Scene,
    grid: Grid,
    at: f64,
    /// The log time axis's unit: h when only sphere panels are shown (steps are times k·h), 1
    /// beside an R^d panel (the common unit is the step); None in R^d.
    sphere_h: Option<f64>,
}

impl ChartKit<'_> {
    fn chart<'a>(
        &self,
        index: usize,
        (title, subtitle): (&'a str, &'a str),
        series: &'a [Series],
        (axis, x_log): (YAxis, bool),
        messages: &'a [(String, RGBColor)],
    ) -> Chart<'a> {
        let st = &self.scene.state;
        Chart {
            rect: self.grid.rect(index),
            title,
            subtitle,
            series,
            x_max: st.steps.max(1) as f64,
            x_log: if x_log { self.sphere_h } else { None },
            x_label_time: st.only_sphere(),
            axis,
            cursor: Some(self.scene.step_at(self.at) as f64),
            messages,
        }
    }

    fn per_panel(&self, diag: fn(&td_particles::Run) -> Vec<(f64, f64)>) -> Vec<Series> {
        self.scene
            .panels
            .iter()
            .map(|panel| Series {
                points: diag(&panel.run),
                colour: panel_colour(panel),
                dash: Dash::Solid,
            })
            .collect()
    }
}

/// The four charts of the plots figure, under the legend strip.
fn draw_charts<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    at: f64,
    size: (f64, f64),
    scale: f64,
) -> DrawResult<DB> {
    let st = &scene.state;
    let kit = ChartKit {
        scene,
        grid: Grid::new(size, scale),
        at,
        sphere_h: st
            .sphere()
            .map(|s| if st.only_sphere() { s.time.h() } else { 1.0 }),
    };
    let (linear, log) = ((YAxis::Linear, false), (YAxis::Log, false));
    let sphere = kit.sphere_h.is_some();
    if sphere && st.d == 2 {
        let (angles, shown, n) = angle_series(scene);
        let note = if shown < n {
            format!(
                "every {}-th token ({shown} of {n}), one line each",
                n.div_ceil(shown)
            )
        } else {
            "one line per token; a token that goes round keeps climbing".to_string()
        };
        let title = "angle θ_i(t) on the circle, unwrapped (radians)";
        kit.chart(0, (title, &note), &angles, (YAxis::Fit, false), &[])
            .draw(area, scale)?;
    } else {
        let subtitle = format!(
            "— diameter{}   ··· max_i |x_i(k) − x_i(K)|{}",
            if st.d == 2 { "   – – area" } else { "" },
            if scene.is_done() {
                ""
            } else {
                " (when computed)"
            }
        );
        let title = "hull size and distance to the final state (log scale)";
        kit.chart(0, (title, &subtitle), &size_series(scene), log, &[])
            .draw(area, scale)?;
    }
    let tol = tick_text(st.tol, st.tol);
    let title = format!("clusters (single linkage, distance ≤ {tol})");
    let note = ["", "log time axis: metastable plateaus show as flat steps"][sphere as usize];
    let clusters = kit.per_panel(cluster_points);
    kit.chart(1, (&title, note), &clusters, (YAxis::Linear, sphere), &[])
        .draw(area, scale)?;
    if sphere {
        return draw_sphere_charts(area, &kit, scale);
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
    kit.chart(2, (&delta_title, ""), &deltas, linear, &messages)
        .draw(area, scale)?;
    let asymmetry = kit.per_panel(asymmetry_points);
    let title = "asymmetry: pairs with j ∈ N_i but i ∉ N_j";
    kit.chart(3, (title, ""), &asymmetry, linear, &[])
        .draw(area, scale)
}

/// Charts 3 and 4 on the sphere: the energy (with the equiangular solution and the smallest inner
/// product where that solution governs the run), then the mean-field view.
fn draw_sphere_charts<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    kit: &ChartKit<'_>,
    scale: f64,
) -> DrawResult<DB> {
    let scene = kit.scene;
    let beta = tick_text(scene.state.beta, scene.state.beta);
    let mut title = format!("interaction energy as (1/β)·ln(2βE_β), β = {beta}");
    let mut note = "1: one cluster; k equal clusters far apart: ≈ 1 − ln(k)/β".to_string();
    let mut series = energy_series(scene);
    for (index, panel) in scene.panels.iter().enumerate() {
        if let Some(rho) = scene.equiangular(index) {
            series.push(Series {
                points: rho
                    .iter()
                    .enumerate()
                    .map(|(k, &r)| (k as f64, r))
                    .collect(),
                colour: panel_colour(panel),
                dash: Dash::Dashed,
            });
            series.push(Series {
                points: sphere_points(&panel.run, |x| x.min_inner),
                colour: panel_colour(panel),
                dash: Dash::Dotted,
            });
        }
    }
    if series.iter().any(|s| s.dash == Dash::Dashed) {
        title = format!("— energy (β = {beta})   – – ρ(t), GLPR Thm 6.8   ··· min ⟨x_i, x_j⟩");
        note = "equiangular start: every inner product follows ρ(t)".to_string();
    }
    kit.chart(2, (&title, &note), &series, (YAxis::Fit, true), &[])
        .draw(area, scale)?;
    draw_mean_field(area, scene, kit.at, kit.grid.rect(3), scale)
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
                font(11.0, scale).color(&text_colour(&panel_colour(panel))),
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

/// d = 2 on the sphere: each token's angle, unwrapped over the stored states (at most 64 tokens,
/// evenly spaced), per sphere panel. Returns the series, the tokens shown and n.
fn angle_series(scene: &Scene) -> (Vec<Series>, usize, usize) {
    const MOST: usize = 64;
    let mut out = Vec::new();
    let mut shown = 0;
    let mut total = 0;
    // R^d panels beside the sphere are not on the circle: their angles mean nothing here.
    for panel in scene
        .panels
        .iter()
        .filter(|p| p.run.spec().sphere.is_some())
    {
        let run = &panel.run;
        let n = run.n();
        let every = n.div_ceil(MOST).max(1);
        total = n;
        shown = n.div_ceil(every);
        for i in (0..n).step_by(every) {
            let mut points = Vec::with_capacity(run.computed_steps() + 1);
            let mut last = f64::NAN;
            let mut turns = 0.0;
            for k in 0..=run.computed_steps() {
                let x = &run.positions(k)[2 * i..2 * i + 2];
                let a = x[1].atan2(x[0]);
                if last.is_finite() {
                    let jump = a - last;
                    if jump > std::f64::consts::PI {
                        turns -= std::f64::consts::TAU;
                    } else if jump < -std::f64::consts::PI {
                        turns += std::f64::consts::TAU;
                    }
                }
                last = a;
                points.push((k as f64, a + turns));
            }
            out.push(Series {
                points,
                colour: panel_colour(panel),
                dash: Dash::Solid,
            });
        }
    }
    (out, shown, total)
}

/// The energy of each sphere panel.
fn energy_series(scene: &Scene) -> Vec<Series> {
    scene
        .panels
        .iter()
        .filter(|panel| panel.run.spec().sphere.is_some())
        .map(|panel| Series {
            points: sphere_points(&panel.run, |x| x.energy),
            colour: panel_colour(panel),
            dash: Dash::Solid,
        })
        .collect()
}

/// Most tokens the angle density counts (evenly spaced; one angle per token and column).
const DENSITY_TOKENS: usize = 600;

/// Most tokens whose pairs the histogram reads (evenly spaced; 400 tokens are 79,800 pairs, read
/// at every paint, twice: the shown step and step 0).
const HISTOGRAM_TOKENS: usize = 400;
/// Bins of the mean-field views.
const BINS: usize = 40;

/// The mean-field view of the first sphere panel: d = 2, the density of the tokens' angles over
/// the steps (a heat map, darker = more tokens); d >= 3, the histogram of pairwise inner products
/// at the step shown (bars) and at step 0 (outline).
fn draw_mean_field<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    at: f64,
    (left, top, width, height): (f64, f64, f64, f64),
    scale: f64,
) -> DrawResult<DB> {
    let Some(panel) = scene.panels.iter().find(|p| p.run.spec().sphere.is_some()) else {
        return Ok(());
    };
    let run = &panel.run;
    let d = run.spec().d;
    let k_shown = scene.step_at(at);
    let title = if d == 2 {
        format!(
            "mean field: where the tokens are on the circle ({})",
            panel.key()
        )
    } else {
        format!(
            "mean field: inner products at step {k_shown} ({})",
            panel.key()
        )
    };
    area.draw(&Text::new(
        fit_text(&title, width - 12.0 * scale, 11.5, scale),
        px((left + 8.0 * scale, top + 4.0 * scale)),
        anchored(font(11.5, scale), HPos::Left, VPos::Top),
    ))?;
    let (fx, fy) = (left + 50.0 * scale, top + 33.0 * scale);
    let fw = (width - 60.0 * scale).max(10.0);
    let fh = (height - 33.0 * scale - 30.0 * scale).max(10.0);
    let frame = (fx, fy, fw, fh);
    if d == 2 {
        draw_angle_density(area, run, frame, scale)?;
    } else {
        draw_inner_histogram(area, run, k_shown, panel_colour(panel), frame, scale)?;
    }
    area.draw(&PathElement::new(
        vec![px((fx, fy)), px((fx, fy + fh)), px((fx + fw, fy + fh))],
        ShapeStyle::from(&MUTED).stroke_width(lw(1.0, scale)),
    ))?;
    Ok(())
}

/// A muted axis label.
fn muted_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: String,
    (x, y): (f64, f64),
    (h, v): (HPos, VPos),
    scale: f64,
) -> DrawResult<DB> {
    area.draw(&Text::new(
        text,
        px((x, y)),
        anchored(font(9.5, scale).color(&MUTED), h, v),
    ))
}

/// d = 2: the density of the angles (40 bins) over up to 120 stored states, darker = more tokens.
fn draw_angle_density<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    run: &td_particles::Run,
    (fx, fy, fw, fh): (f64, f64, f64, f64),
    scale: f64,
) -> DrawResult<DB> {
    let n = run.n();
    let muted = |text: String, x: f64, y: f64, h: HPos, v: VPos| {
        muted_text(area, text, (x, y), (h, v), scale)
    };
    {
        let columns = (run.computed_steps() + 1).min(120);
        let tokens: Vec<usize> = (0..n).step_by(n.div_ceil(DENSITY_TOKENS).max(1)).collect();
        let mut counts = vec![0usize; columns * BINS];
        for c in 0..columns {
            let k = c * run.computed_steps() / columns.max(2).saturating_sub(1).max(1);
            let x = run.positions(k.min(run.computed_steps()));
            for &i in &tokens {
                let a = x[2 * i + 1].atan2(x[2 * i]);
                let b =
                    (((a + std::f64::consts::PI) / std::f64::consts::TAU) * BINS as f64) as usize;
                counts[c * BINS + b.min(BINS - 1)] += 1;
            }
        }
        let most = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
        let (cw, bh) = (fw / columns as f64, fh / BINS as f64);
        for c in 0..columns {
            for b in 0..BINS {
                // Square root: a few stragglers stay visible beside one big cluster.
                let v = (counts[c * BINS + b] as f64 / most).sqrt();
                if v <= 0.0 {
                    continue;
                }
                // White to dark blue (the darkest shade is 4.5:1 against white).
                let shade = |full: u8| (255.0 - v * (255.0 - full as f64)).round() as u8;
                let colour = RGBColor(shade(20), shade(60), shade(140));
                let x0 = fx + c as f64 * cw;
                let y0 = fy + fh - (b + 1) as f64 * bh;
                area.draw(&Rectangle::new(
                    [px((x0, y0)), px((x0 + cw + 0.5, y0 + bh + 0.5))],
                    colour.filled(),
                ))?;
            }
        }
        muted("π".into(), fx - 4.0 * scale, fy, HPos::Right, VPos::Center)?;
        muted(
            "0".into(),
            fx - 4.0 * scale,
            fy + fh / 2.0,
            HPos::Right,
            VPos::Center,
        )?;
        muted(
            "−π".into(),
            fx - 4.0 * scale,
            fy + fh,
            HPos::Right,
            VPos::Center,
        )?;
        muted("0".into(), fx, fy + fh + 3.0 * scale, HPos::Left, VPos::Top)?;
        muted(
            format!("step {}", run.computed_steps()),
            fx + fw,
            fy + fh + 3.0 * scale,
            HPos::Right,
            VPos::Top,
        )?;
        let sample = if tokens.len() < n {
            format!(
                "steps →, angle θ ↑ (darker: more tokens; {} of {n} tokens)",
                tokens.len()
            )
        } else {
            "steps →, angle θ ↑ (darker: more tokens)".to_string()
        };
        muted(
            fit_text(&sample, fw, 9.5, scale),
            fx + fw / 2.0,
            fy + fh + 15.0 * scale,
            HPos::Center,
            VPos::Top,
        )?;
    }
    Ok(())
}

/// d >= 3: the histogram of pairwise inner products (40 bins over [−1, 1]) at the step shown
/// (bars) and at step 0 (outline), over pairs of at most 400 evenly spaced tokens.
fn draw_inner_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    run: &td_particles::Run,
    k_shown: usize,
    colour: RGBColor,
    (fx, fy, fw, fh): (f64, f64, f64, f64),
    scale: f64,
) -> DrawResult<DB> {
    let (n, d) = (run.n(), run.spec().d);
    let muted = |text: String, x: f64, y: f64, h: HPos, v: VPos| {
        muted_text(area, text, (x, y), (h, v), scale)
    };
    {
        let every = n.div_ceil(HISTOGRAM_TOKENS).max(1);
        let histogram = |k: usize| {
            let x = run.positions(k);
            let mut bins = vec![0usize; BINS];
            let tokens: Vec<usize> = (0..n).step_by(every).collect();
            for (a, &i) in tokens.iter().enumerate() {
                for &j in &tokens[a + 1..] {
                    // a plain loop: this runs for every pair at every paint (the page is built
                    // for size, where the iterator chain stays a call per coordinate)
                    let mut s = 0.0;
                    for c in 0..d {
                        s += x[i * d + c] * x[j * d + c];
                    }
                    let b = ((s + 1.0) / 2.0 * BINS as f64).floor();
                    bins[(b.max(0.0) as usize).min(BINS - 1)] += 1;
                }
            }
            let total = bins.iter().sum::<usize>().max(1) as f64;
            bins.into_iter()
                .map(|c| c as f64 / total)
                .collect::<Vec<f64>>()
        };
        let (now, start) = (histogram(k_shown), histogram(0));
        let top_share = now
            .iter()
            .chain(&start)
            .fold(0.0f64, |m, &v| m.max(v))
            .max(1e-9);
        let bw = fw / BINS as f64;
        for (b, &v) in now.iter().enumerate() {
            let hgt = v / top_share * fh;
            if hgt > 0.0 {
                area.draw(&Rectangle::new(
                    [
                        px((fx + b as f64 * bw, fy + fh - hgt)),
                        px((fx + (b + 1) as f64 * bw - 1.0, fy + fh)),
                    ],
                    colour.filled(),
                ))?;
            }
        }
        let outline: Vec<(i32, i32)> = start
            .iter()
            .enumerate()
            .flat_map(|(b, &v)| {
                let y = fy + fh - v / top_share * fh;
                [
                    px((fx + b as f64 * bw, y)),
                    px((fx + (b + 1) as f64 * bw, y)),
                ]
            })
            .collect();
        area.draw(&PathElement::new(
            outline,
            ShapeStyle::from(&INK).stroke_width(lw(1.0, scale)),
        ))?;
        for (t, text) in [(-1.0, "−1"), (0.0, "0"), (1.0, "1")] {
            muted(
                text.into(),
                fx + (t + 1.0) / 2.0 * fw,
                fy + fh + 3.0 * scale,
                HPos::Center,
                VPos::Top,
            )?;
        }
        // The scale of the bars: left of the frame, or inside its top-left corner when the
        // margin is too narrow for it.
        let share = format!("{} of pairs", tick_text(top_share, top_share));
        if text_width(&share, 9.5, scale) <= fx - 6.0 * scale {
            muted(share, fx - 4.0 * scale, fy, HPos::Right, VPos::Center)?;
        } else {
            muted(
                share,
                fx + 3.0 * scale,
                fy + 2.0 * scale,
                HPos::Left,
                VPos::Top,
            )?;
        }
        let sample = if every > 1 {
            format!(
                "⟨x_i, x_j⟩ (bars: step {k_shown}; line: step 0; pairs of {} of {n} tokens)",
                n.div_ceil(every)
            )
        } else {
            format!("⟨x_i, x_j⟩ (bars: step {k_shown}; line: step 0)")
        };
        muted(
            fit_text(&sample, fw, 9.5, scale),
            fx + fw / 2.0,
            fy + fh + 15.0 * scale,
            HPos::Center,
            VPos::Top,
        )?;
    }
    Ok(())
}

/// One of the sphere's per-state diagnostics at each stored state (NaN, not drawn, in R^d).
fn sphere_points(
    run: &td_particles::Run,
    pick: fn(&td_particles::sphere::SphereDiag) -> f64,
) -> Vec<(f64, f64)> {
    run.state_diags()
        .iter()
        .enumerate()
        .map(|(k, s)| (k as f64, s.sphere.as_ref().map_or(f64::NAN, pick)))
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
