//! Drawing of the attention explorer, generic over plotters' `DrawingBackend`: the same code paints
//! the page's canvases, writes SVG for export and renders natively in tests and from the command line.
//!
//! As in `next_token::draw`, we draw in pixel coordinates through a frame object that maps data to
//! pixels and back ([`ParticleFrame`]; the page uses the inverse for clicks), text is placed by
//! anchor and never measured, and every f64 -> pixel conversion is guarded so no NaN reaches a
//! backend.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::params::RuleChoice;
use super::scene::{Membership, Scene};
use td_core::draw_kit::nice_ticks;
use td_core::draw_kit::{
    anchored, fit_text, font, lw, px, star_points, tick_text, wrap_items, BACKGROUND, GRID, INK,
    MUTED,
};
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
    items.push("★ fixed leader (C_i = {i})  ☆ leader (i ∈ C_i)".to_string());
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

/// Maps a panel's data to pixels and back. d = 2: the plane with equal aspect; d = 1: the
/// coordinate across and the step k downwards (a space-time diagram); d >= 3: an orthographic view
/// (d > 3 first projected on 3 principal components of the initial points) rotated by yaw/pitch.
#[derive(Clone, Debug)]
pub struct ParticleFrame {
    pub panel: usize,
    pub d: usize,
    /// The plot rectangle in pixels.
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    /// Ranges shown: d = 2 data; d = 1 (x, steps); d >= 3 view coordinates.
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub scale: f64,
    /// Legend lines under the plot.
    pub legend: Vec<String>,
    /// d >= 3: centre of the initial points (3-D coordinates) and the view rows.
    centre: [f64; 3],
    rot: [[f64; 3]; 2],
    /// d >= 3: radius of the initial cloud around the centre (3-D coordinates).
    pub radius: f64,
    pca: Option<Pca>,
}

impl ParticleFrame {
    pub fn fit(
        scene: &Scene,
        panel: usize,
        width_px: f64,
        height_px: f64,
        scale: f64,
    ) -> ParticleFrame {
        let st = &scene.state;
        let d = st.d.max(1);
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let width_px = if width_px.is_finite() { width_px } else { 0.0 };
        let height_px = if height_px.is_finite() {
            height_px
        } else {
            0.0
        };
        let legend = if height_px < LEGEND_MIN_HEIGHT * scale {
            Vec::new()
        } else {
            wrap_items(
                &legend_items(scene),
                width_px,
                0.56 * 10.0 * scale,
                12,
                scale,
            )
        };
        let axes = d <= 2;
        let left = if axes { 50.0 } else { 10.0 } * scale;
        // d = 1 has a tick label at the very top (step 0): leave room under the second line.
        let top = if d == 1 { 48.0 } else { 42.0 } * scale;
        let right = 12.0 * scale;
        let bottom = (if axes { 32.0 } else { 10.0 } + 13.0 * legend.len() as f64 + 4.0) * scale;
        let mut frame = ParticleFrame {
            panel,
            d,
            left,
            top,
            width: (width_px - left - right).max(10.0),
            height: (height_px - top - bottom).max(10.0),
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
            scale,
            legend,
            centre: [0.0; 3],
            rot: view_rows(st.yaw, st.pitch),
            radius: 1.0,
            pca: scene.pca().cloned(),
        };
        let x0 = scene.initial_points();
        match d {
            1 => frame.fit_space_time(x0, st.steps),
            2 => frame.fit_plane(x0),
            _ => frame.fit_view(x0),
        }
        frame
    }

    /// d = 1: the initial coordinates across, steps 0..=steps downwards.
    fn fit_space_time(&mut self, x0: &[f64], steps: usize) {
        let (lo, hi) = padded(x0.iter().copied());
        self.x_range = (lo, hi);
        self.y_range = (0.0, steps.max(1) as f64);
    }

    /// d = 2: the initial points with equal aspect (one unit is the same number of pixels across
    /// and up), centred.
    fn fit_plane(&mut self, x0: &[f64]) {
        let (width, height) = (self.width, self.height);
        let (x_lo, x_hi) = padded(x0.iter().step_by(2).copied());
        let (y_lo, y_hi) = padded(x0.iter().skip(1).step_by(2).copied());
        let unit = (width / (x_hi - x_lo)).min(height / (y_hi - y_lo));
        let (cx, cy) = ((x_lo + x_hi) / 2.0, (y_lo + y_hi) / 2.0);
        let (hw, hh) = (width / unit / 2.0, height / unit / 2.0);
        if unit.is_finite() && unit > 0.0 && hw.is_finite() && hh.is_finite() {
            self.x_range = (cx - hw, cx + hw);
            self.y_range = (cy - hh, cy + hh);
        } else {
            self.x_range = (x_lo, x_hi);
            self.y_range = (y_lo, y_hi);
        }
    }

    /// d >= 3: centre and radius of the initial cloud (3-D coordinates); the view shows a sphere
    /// 8 % larger than the cloud whichever way it is turned.
    fn fit_view(&mut self, x0: &[f64]) {
        let (width, height) = (self.width, self.height);
        let q: Vec<[f64; 3]> = x0.chunks_exact(self.d).map(|p| self.coords3(p)).collect();
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for p in &q {
            for c in 0..3 {
                lo[c] = lo[c].min(p[c]);
                hi[c] = hi[c].max(p[c]);
            }
        }
        let centre: [f64; 3] = std::array::from_fn(|c| {
            let m = (lo[c] + hi[c]) / 2.0;
            if m.is_finite() {
                m
            } else {
                0.0
            }
        });
        let radius = q
            .iter()
            .map(|p| {
                ((p[0] - centre[0]).powi(2)
                    + (p[1] - centre[1]).powi(2)
                    + (p[2] - centre[2]).powi(2))
                .sqrt()
            })
            .fold(0.0f64, f64::max);
        let floor = 1e-9 * centre.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let radius = if radius.is_finite() && radius > floor && radius > 0.0 {
            radius
        } else {
            floor.max(1.0)
        };
        self.centre = centre;
        self.radius = radius;
        let r = radius * 1.08;
        let unit = (width / (2.0 * r)).min(height / (2.0 * r));
        self.x_range = (-width / unit / 2.0, width / unit / 2.0);
        self.y_range = (-height / unit / 2.0, height / unit / 2.0);
    }

    /// Pixels per data unit across (d = 2, d >= 3: the same up).
    pub fn unit(&self) -> f64 {
        self.width / (self.x_range.1 - self.x_range.0)
    }

    /// The 3 coordinates drawn for a d >= 3 point (PCA for d > 3), not centred.
    fn coords3(&self, p: &[f64]) -> [f64; 3] {
        match &self.pca {
            Some(pca) if pca.d == p.len() && pca.axes.len() >= 3 * pca.d => {
                let d = pca.d;
                std::array::from_fn(|r| {
                    let axis = &pca.axes[r * d..(r + 1) * d];
                    axis.iter()
                        .zip(p)
                        .zip(&pca.mean)
                        .map(|((a, x), m)| a * (x - m))
                        .sum()
                })
            }
            _ => [
                p.first().copied().unwrap_or(0.0),
                p.get(1).copied().unwrap_or(0.0),
                p.get(2).copied().unwrap_or(0.0),
            ],
        }
    }

    /// View coordinates (across, up) of 3-D coordinates.
    fn view(&self, q: [f64; 3]) -> (f64, f64) {
        let v = [
            q[0] - self.centre[0],
            q[1] - self.centre[1],
            q[2] - self.centre[2],
        ];
        let dot = |r: &[f64; 3]| r[0] * v[0] + r[1] * v[1] + r[2] * v[2];
        (dot(&self.rot[0]), dot(&self.rot[1]))
    }

    /// Pixel of plot coordinates (across, up; for d = 1 "up" is the step, growing downwards).
    pub fn plot_px(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        let py = if self.d == 1 {
            self.top + fy * self.height
        } else {
            self.top + (1.0 - fy) * self.height
        };
        (self.left + fx * self.width, py)
    }

    /// d = 1: the pixel row of step k.
    pub fn step_y(&self, k: f64) -> f64 {
        self.plot_px(self.x_range.0, k).1
    }

    /// Pixel of a d-dimensional point. For d = 1 the row is the last step; pass `[x, k]` to place
    /// it at step k (or use [`ParticleFrame::point_px`]).
    pub fn to_px(&self, point: &[f64]) -> (f64, f64) {
        match self.d {
            1 => {
                let x = point.first().copied().unwrap_or(f64::NAN);
                let k = point.get(1).copied().unwrap_or(self.y_range.1);
                self.plot_px(x, k)
            }
            2 => self.plot_px(
                point.first().copied().unwrap_or(f64::NAN),
                point.get(1).copied().unwrap_or(f64::NAN),
            ),
            _ => {
                let (a, b) = self.view(self.coords3(point));
                self.plot_px(a, b)
            }
        }
    }

    /// Pixel of a token's position at step k (d = 1 uses the step's row).
    pub fn point_px(&self, point: &[f64], k: usize) -> (f64, f64) {
        if self.d == 1 {
            self.plot_px(point.first().copied().unwrap_or(f64::NAN), k as f64)
        } else {
            self.to_px(point)
        }
    }

    /// The data point under a pixel, for d <= 2 (d = 1: just the coordinate); None outside the
    /// plot area or for d >= 3.
    pub fn from_px(&self, x: f64, y: f64) -> Option<Vec<f64>> {
        if self.d > 2 || !finite((x, y)) {
            return None;
        }
        if x < self.left || x > self.left + self.width || y < self.top || y > self.top + self.height
        {
            return None;
        }
        let fx = (x - self.left) / self.width;
        let dx = self.x_range.0 + fx * (self.x_range.1 - self.x_range.0);
        if self.d == 1 {
            return Some(vec![dx]);
        }
        let fy = 1.0 - (y - self.top) / self.height;
        Some(vec![
            dx,
            self.y_range.0 + fy * (self.y_range.1 - self.y_range.0),
        ])
    }

    /// The token drawn nearest to (x, y) at step k (the initial state for k = 0), within
    /// `radius_px`.
    pub fn nearest_token(
        &self,
        scene: &Scene,
        k: usize,
        x: f64,
        y: f64,
        radius_px: f64,
    ) -> Option<usize> {
        let run = &scene.panels.get(self.panel)?.run;
        let k = k.min(run.computed_steps());
        let d = run.spec().d;
        let mut best = None;
        let mut best_d2 = radius_px * radius_px;
        for (i, p) in run.positions(k).chunks_exact(d).enumerate() {
            let (px_, py_) = self.point_px(p, k);
            let d2 = (px_ - x).powi(2) + (py_ - y).powi(2);
            if d2 <= best_d2 {
                best_d2 = d2;
                best = Some(i);
            }
        }
        best
    }
}

/// The two view rows (across, up) of the 3-D view turned by `yaw` and tilted by `pitch`
/// (degrees; non-finite angles count as 0).
fn view_rows(yaw: f64, pitch: f64) -> [[f64; 3]; 2] {
    let yaw = yaw.to_radians();
    let pitch = pitch.to_radians();
    let (sy, cy) = if yaw.is_finite() {
        yaw.sin_cos()
    } else {
        (0.0, 1.0)
    };
    let (sp, cp) = if pitch.is_finite() {
        pitch.sin_cos()
    } else {
        (0.0, 1.0)
    };
    [[cy, -sy, 0.0], [sy * sp, cy * sp, cp]]
}

/// (lo, hi) of finite values with a 6% margin; a degenerate range (one value) is widened.
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let size = lo.abs().max(hi.abs());
    let span = hi - lo;
    if span > 1e-9 * size && span > 0.0 {
        (lo - 0.06 * span, hi + 0.06 * span)
    } else {
        let half = if size > 0.0 { 0.1 * size } else { 1.0 };
        (lo - half, hi + half)
    }
}

/// A token's colour and whether it is drawn as a ring (attends into a set it is not in).
fn token_style(membership: Option<&[Membership]>, i: usize) -> (RGBColor, bool) {
    match membership.and_then(|m| m.get(i)) {
        None => (NEUTRAL, false),
        Some(Membership::Member(s)) => (set_colour(*s), false),
        Some(Membership::Feeds(s)) => (set_colour(*s), true),
        Some(Membership::Other) => (OTHER, false),
    }
}

/// Closed polygon outline (solid or dashed).
fn outline<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[(f64, f64)],
    dashed: bool,
    colour: RGBColor,
    width: f64,
    scale: f64,
) -> DrawResult<DB> {
    if points.is_empty() || !points.iter().all(|&p| finite(p)) {
        return Ok(());
    }
    let mut path: Vec<(i32, i32)> = points.iter().map(|&p| px(p)).collect();
    if path.len() > 2 {
        path.push(path[0]);
    }
    let style = ShapeStyle::from(&colour).stroke_width(lw(width, scale));
    if path.len() == 1 {
        return area.draw(&Circle::new(path[0], (3.0 * scale) as i32, style));
    }
    if dashed {
        area.draw(&DashedPathElement::new(
            path,
            (5.0 * scale).max(1.0) as i32,
            (4.0 * scale).max(1.0) as i32,
            style,
        ))
    } else {
        area.draw(&PathElement::new(path, style))
    }
}

/// One particle panel at the scrub position `at`.
pub fn draw_particles<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    panel: usize,
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
    let Some(data) = scene.panels.get(panel) else {
        let text = scene
            .error()
            .map_or("nothing to draw".to_string(), |e| e.to_string());
        area.draw(&Text::new(
            fit_text(&text, w - 16.0 * scale, 12.0, scale),
            px((8.0 * scale, 8.0 * scale)),
            anchored(font(12.0, scale), HPos::Left, VPos::Top),
        ))?;
        return Ok(());
    };
    let painter = ParticlePainter::new(area, scene, panel, at, (w, h), scale);
    painter.header(&data.title)?;
    let frame = &painter.frame;
    if painter.d <= 2 {
        draw_axes(area, frame, scale)?;
    } else {
        draw_box_3d(area, frame, scene, scale)?;
    }
    let st = &scene.state;
    if st.cells && painter.d == 2 {
        draw_cells(
            area,
            frame,
            scene,
            panel,
            painter.k,
            painter.membership,
            scale,
        )?;
    }
    if st.trails && painter.k > 0 {
        painter.trails()?;
    }
    if st.hull {
        painter.hulls()?;
    }
    let focus = st.focus.filter(|&i| i < painter.n);
    if let Some(focus) = focus {
        painter.attention_arrows(focus)?;
    }
    painter.tokens()?;
    if painter.computed > 0 {
        painter.leaders()?;
    }
    if let Some(focus) = focus {
        painter.focus_ring(focus)?;
    }
    if painter.d >= 3 {
        draw_triad(area, frame, scene, scale)?;
    }
    painter.legend()
}

/// One particle panel at one step: what its parts share.
struct ParticlePainter<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    scene: &'a Scene,
    frame: ParticleFrame,
    run: &'a td_particles::Run,
    d: usize,
    n: usize,
    computed: usize,
    /// The step drawn.
    k: usize,
    /// Quiescent sets, once the run is done.
    membership: Option<&'a [Membership]>,
    /// Positions at step k.
    x_k: &'a [f64],
    /// Radius of a token's dot, pixels.
    dot_r: f64,
    /// Size of the area, pixels.
    size: (f64, f64),
    scale: f64,
}

impl<'a, DB: DrawingBackend> ParticlePainter<'a, DB> {
    fn new(
        area: &'a DrawingArea<DB, Shift>,
        scene: &'a Scene,
        panel: usize,
        at: f64,
        size: (f64, f64),
        scale: f64,
    ) -> ParticlePainter<'a, DB> {
        let frame = ParticleFrame::fit(scene, panel, size.0, size.1, scale);
        let run = &scene.panels[panel].run;
        let n = run.n();
        let computed = run.computed_steps();
        let k = scene.step_at(at).min(computed);
        let membership = if scene.is_done() {
            scene.membership(panel)
        } else {
            None
        };
        let dot_r = if n <= 100 {
            3.5
        } else if n <= 500 {
            2.6
        } else {
            1.8
        } * scale;
        ParticlePainter {
            area,
            scene,
            frame,
            run,
            d: run.spec().d,
            n,
            computed,
            k,
            membership,
            x_k: run.positions(k),
            dot_r,
            size,
            scale,
        }
    }

    /// Pixel of token i at step k.
    fn token_px(&self, i: usize) -> (f64, f64) {
        let d = self.d;
        self.frame.point_px(&self.x_k[i * d..(i + 1) * d], self.k)
    }

    /// Title, view line, step label and progress.
    fn header(&self, title: &str) -> DrawResult<DB> {
        let (area, scale, w) = (self.area, self.scale, self.size.0);
        area.draw(&Text::new(
            fit_text(title, w - 16.0 * scale, 12.5, scale),
            px((8.0 * scale, 6.0 * scale)),
            anchored(font(12.5, scale), HPos::Left, VPos::Top),
        ))?;
        let view_text = self.view_text();
        if !view_text.is_empty() {
            area.draw(&Text::new(
                fit_text(&view_text, w * 0.62, 10.5, scale),
                px((8.0 * scale, 24.0 * scale)),
                anchored(font(10.5, scale).color(&MUTED), HPos::Left, VPos::Top),
            ))?;
        }
        area.draw(&Text::new(
            format!("k = {} / {}", self.k, self.scene.state.steps),
            px((w - 8.0 * scale, 24.0 * scale)),
            anchored(font(11.5, scale), HPos::Right, VPos::Top),
        ))?;
        if !self.run.finished() {
            area.draw(&Text::new(
                format!("computing… {}%", (self.run.progress() * 100.0).floor()),
                px((w - 8.0 * scale, self.frame.top + 4.0 * scale)),
                anchored(font(11.0, scale).color(&BUSY), HPos::Right, VPos::Top),
            ))?;
        }
        Ok(())
    }

    /// What the view shows (empty for the plane).
    fn view_text(&self) -> String {
        let (scene, d) = (self.scene, self.d);
        let st = &scene.state;
        match d {
            1 => "d = 1: position across, step k downwards".to_string(),
            2 => String::new(),
            3 => format!(
                "d = 3: orthographic view, yaw {}°, pitch {}°",
                tick_text(st.yaw, 1.0),
                tick_text(st.pitch, 1.0)
            ),
            _ => match scene.pca() {
                Some(pca) => format!(
                    "PCA: first 3 components, {}% of variance",
                    tick_text(
                        super::scene::round_sig(
                            super::scene::pca_share(pca, scene.initial_points(), d) * 100.0,
                            3
                        ),
                        0.1
                    )
                ),
                None => format!("d = {d}: first 3 coordinates"),
            },
        }
    }

    /// Trails from step 0 to k, subsampled to at most MAX_TRAIL_SEGMENTS segments.
    fn trails(&self) -> DrawResult<DB> {
        let (n, k, d) = (self.n, self.k, self.d);
        let mut step_stride = (n * k).div_ceil(MAX_TRAIL_SEGMENTS).max(1);
        step_stride = step_stride.min((k / 16).max(1));
        let per_trail = k.div_ceil(step_stride);
        let token_stride = (n * per_trail).div_ceil(MAX_TRAIL_SEGMENTS).max(1);
        let alpha = if n <= 100 {
            0.35
        } else if n <= 600 {
            0.22
        } else {
            0.14
        };
        let mut steps: Vec<usize> = (0..k).step_by(step_stride).collect();
        steps.push(k);
        for i in (0..n).step_by(token_stride) {
            let mut path: Vec<(i32, i32)> = Vec::with_capacity(steps.len());
            for &t in &steps {
                let p = &self.run.positions(t)[i * d..(i + 1) * d];
                let q = px(self.frame.point_px(p, t));
                if path.last() != Some(&q) {
                    path.push(q);
                }
            }
            if path.len() < 2 {
                continue;
            }
            let (colour, _) = token_style(self.membership, i);
            self.area.draw(&PathElement::new(
                path,
                ShapeStyle::from(&colour.mix(alpha)).stroke_width(lw(1.0, self.scale)),
            ))?;
        }
        Ok(())
    }

    /// Hulls: initial dashed, current solid.
    fn hulls(&self) -> DrawResult<DB> {
        for (step, dashed) in [(0usize, true), (self.k, false)] {
            let poly = self.hull_px(step);
            let colour = if dashed { MUTED } else { INK };
            outline(self.area, &poly, dashed, colour, 1.3, self.scale)?;
        }
        Ok(())
    }

    /// The hull of the tokens at `step` in pixels (d = 1: the range; d >= 3: the hull of the
    /// projection).
    fn hull_px(&self, step: usize) -> Vec<(f64, f64)> {
        let (frame, d) = (&self.frame, self.d);
        let pts = self.run.positions(step);
        match d {
            1 => super::scene::hull_1d(pts)
                .iter()
                .map(|&i| frame.point_px(&pts[i..i + 1], step))
                .collect(),
            2 => hull::hull_2d(pts)
                .iter()
                .map(|&i| frame.to_px(&pts[2 * i..2 * i + 2]))
                .collect(),
            _ => {
                let flat: Vec<f64> = pts
                    .chunks_exact(d)
                    .flat_map(|p| {
                        let (a, b) = frame.to_px(p);
                        [a, b]
                    })
                    .collect();
                hull::hull_2d(&flat)
                    .iter()
                    .map(|&i| (flat[2 * i], flat[2 * i + 1]))
                    .collect()
            }
        }
    }

    /// Attention arrows from the focus token to the tokens it attends to most (opacity ∝ weight).
    fn attention_arrows(&self, focus: usize) -> DrawResult<DB> {
        let (scale, dot_r) = (self.scale, self.dot_r);
        let origin = self.token_px(focus);
        // heaviest first, ties by index (`all` is in index order; `!` reverses the key's order)
        let all = self.run.attention_row(self.k, focus);
        let mut keyed: Vec<(i64, i64, usize)> = (all.iter().enumerate())
            .map(|(p, &(_, w))| (!td_particles::total_order_key(w), 0, p))
            .collect();
        keyed.sort_unstable();
        let row: Vec<(usize, f64)> = keyed.iter().take(MAX_ARROWS).map(|k| all[k.2]).collect();
        let w_max = row.iter().map(|r| r.1).fold(0.0f64, f64::max);
        for &(j, weight) in &row {
            if j == focus || w_max <= 0.0 {
                continue;
            }
            let target = self.token_px(j);
            let (dx, dy) = (target.0 - origin.0, target.1 - origin.1);
            let len = (dx * dx + dy * dy).sqrt();
            if !(len.is_finite() && len > dot_r + 4.0 * scale) {
                continue;
            }
            let (ux, uy) = (dx / len, dy / len);
            let tip = (target.0 - ux * (dot_r + 1.0), target.1 - uy * (dot_r + 1.0));
            let hs = 6.0 * scale;
            let colour = ARROW.mix(0.15 + 0.85 * (weight / w_max).clamp(0.0, 1.0));
            self.area.draw(&PathElement::new(
                vec![
                    px(origin),
                    px((tip.0 - ux * hs * 0.8, tip.1 - uy * hs * 0.8)),
                ],
                ShapeStyle::from(&colour).stroke_width(lw(1.2, scale)),
            ))?;
            self.area.draw(&Polygon::new(
                vec![
                    px(tip),
                    px((
                        tip.0 - ux * hs - uy * hs * 0.45,
                        tip.1 - uy * hs + ux * hs * 0.45,
                    )),
                    px((
                        tip.0 - ux * hs + uy * hs * 0.45,
                        tip.1 - uy * hs - ux * hs * 0.45,
                    )),
                ],
                colour.filled(),
            ))?;
        }
        Ok(())
    }

    /// Tokens: dots in their set's colour, rings for tokens attending into a set.
    fn tokens(&self) -> DrawResult<DB> {
        let r = self.dot_r.round().max(1.0) as i32;
        for i in 0..self.n {
            let p = px(self.token_px(i));
            let (colour, ring) = token_style(self.membership, i);
            if ring {
                self.area
                    .draw(&Circle::new(p, r, colour.mix(0.35).filled()))?;
                self.area.draw(&Circle::new(
                    p,
                    r,
                    ShapeStyle::from(&colour).stroke_width(lw(1.0, self.scale)),
                ))?;
            } else {
                self.area.draw(&Circle::new(p, r, colour.filled()))?;
            }
        }
        Ok(())
    }

    /// Leaders of the graph at step k (the last graph is step K-1): stars, filled when fixed.
    fn leaders(&self) -> DrawResult<DB> {
        let graph_step = self.k.min(self.computed - 1);
        let leaders = self.run.leaders(graph_step);
        let fixed = self.run.fixed_leaders(graph_step);
        let radius = if leaders.len() > 64 { 4.0 } else { 6.5 } * self.scale;
        for &i in &leaders {
            let mut pts = star_points(self.token_px(i), radius);
            if fixed.binary_search(&i).is_ok() {
                self.area
                    .draw(&Polygon::new(pts.clone(), STAR_FILL.filled()))?;
            }
            pts.push(pts[0]);
            self.area.draw(&PathElement::new(
                pts,
                ShapeStyle::from(&INK).stroke_width(lw(1.0, self.scale)),
            ))?;
        }
        Ok(())
    }

    /// The focus token, ringed and named.
    fn focus_ring(&self, focus: usize) -> DrawResult<DB> {
        let (scale, dot_r) = (self.scale, self.dot_r);
        let c = self.token_px(focus);
        self.area.draw(&Circle::new(
            px(c),
            (dot_r + 4.0 * scale).round() as i32,
            ShapeStyle::from(&INK).stroke_width(lw(2.0, scale)),
        ))?;
        self.area.draw(&Text::new(
            format!("token {focus}"),
            px((c.0 + dot_r + 6.0 * scale, c.1 - dot_r - 4.0 * scale)),
            anchored(font(10.5, scale), HPos::Left, VPos::Bottom),
        ))?;
        Ok(())
    }

    fn legend(&self) -> DrawResult<DB> {
        let scale = self.scale;
        let line_height = 13.0 * scale;
        for (index, line) in self.frame.legend.iter().rev().enumerate() {
            self.area.draw(&Text::new(
                line.clone(),
                px((
                    8.0 * scale,
                    self.size.1 - 5.0 * scale - index as f64 * line_height,
                )),
                anchored(font(10.0, scale).color(&MUTED), HPos::Left, VPos::Bottom),
            ))?;
        }
        Ok(())
    }
}

/// Grid, ticks and tick labels of a d <= 2 panel.
fn draw_axes<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &ParticleFrame,
    scale: f64,
) -> DrawResult<DB> {
    let (l, t, wd, ht) = (frame.left, frame.top, frame.width, frame.height);
    let x_ticks = nice_ticks(frame.x_range.0, frame.x_range.1, 5);
    let x_step = tick_step(&x_ticks);
    for &x in &x_ticks {
        let (pxx, _) = frame.plot_px(x, frame.y_range.0);
        if !(pxx >= l - 0.5 && pxx <= l + wd + 0.5) {
            continue;
        }
        area.draw(&PathElement::new(
            vec![px((pxx, t)), px((pxx, t + ht))],
            ShapeStyle::from(&GRID).stroke_width(lw(1.0, scale)),
        ))?;
        area.draw(&Text::new(
            tick_text(x, x_step),
            px((pxx, t + ht + 3.0 * scale)),
            anchored(font(10.0, scale).color(&MUTED), HPos::Center, VPos::Top),
        ))?;
    }
    let y_ticks = nice_ticks(
        frame.y_range.0.min(frame.y_range.1),
        frame.y_range.1.max(frame.y_range.0),
        5,
    );
    let y_step = tick_step(&y_ticks);
    for &y in &y_ticks {
        let (_, pyy) = frame.plot_px(frame.x_range.0, y);
        if !(pyy >= t - 0.5 && pyy <= t + ht + 0.5) {
            continue;
        }
        area.draw(&PathElement::new(
            vec![px((l, pyy)), px((l + wd, pyy))],
            ShapeStyle::from(&GRID).stroke_width(lw(1.0, scale)),
        ))?;
        area.draw(&Text::new(
            tick_text(y, y_step),
            px((l - 4.0 * scale, pyy)),
            anchored(font(10.0, scale).color(&MUTED), HPos::Right, VPos::Center),
        ))?;
    }
    area.draw(&PathElement::new(
        vec![px((l, t)), px((l, t + ht)), px((l + wd, t + ht))],
        ShapeStyle::from(&MUTED).stroke_width(lw(1.0, scale)),
    ))?;
    // d = 1: the panel's second line names the axes (step k downwards).
    let (x_label, y_label) = if frame.d == 1 {
        ("x", "")
    } else {
        ("x₁", "x₂")
    };
    area.draw(&Text::new(
        x_label,
        px((l + wd, t + ht + 16.0 * scale)),
        anchored(font(10.0, scale).color(&MUTED), HPos::Right, VPos::Top),
    ))?;
    area.draw(&Text::new(
        y_label,
        px((l - 4.0 * scale, t - 3.0 * scale)),
        anchored(font(10.0, scale).color(&MUTED), HPos::Right, VPos::Bottom),
    ))?;
    Ok(())
}

fn tick_step(ticks: &[f64]) -> f64 {
    if ticks.len() >= 2 {
        (ticks[1] - ticks[0]).abs()
    } else {
        ticks.first().map_or(1.0, |t| t.abs().max(1e-300))
    }
}

/// d >= 3: the wireframe of the initial points' bounding box (in the drawn coordinates).
fn draw_box_3d<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &ParticleFrame,
    scene: &Scene,
    scale: f64,
) -> DrawResult<DB> {
    let d = frame.d;
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in scene.initial_points().chunks_exact(d) {
        let q = frame.coords3(p);
        for c in 0..3 {
            lo[c] = lo[c].min(q[c]);
            hi[c] = hi[c].max(q[c]);
        }
    }
    if !lo.iter().chain(&hi).all(|v| v.is_finite()) {
        return Ok(());
    }
    let corner = |m: usize| -> (f64, f64) {
        let q: [f64; 3] = std::array::from_fn(|c| if m >> c & 1 == 1 { hi[c] } else { lo[c] });
        let (a, b) = frame.view(q);
        frame.plot_px(a, b)
    };
    for m in 0..8usize {
        for c in 0..3 {
            if m >> c & 1 == 0 {
                let (a, b) = (corner(m), corner(m | 1 << c));
                area.draw(&PathElement::new(
                    vec![px(a), px(b)],
                    ShapeStyle::from(&GRID).stroke_width(lw(1.0, scale)),
                ))?;
            }
        }
    }
    Ok(())
}

/// d >= 3: a small axis triad and a scale bar.
fn draw_triad<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &ParticleFrame,
    scene: &Scene,
    scale: f64,
) -> DrawResult<DB> {
    let origin = (
        frame.left + 26.0 * scale,
        frame.top + frame.height - 26.0 * scale,
    );
    let length = 20.0 * scale;
    let names: [&str; 3] = if scene.pca().is_some() {
        ["PC1", "PC2", "PC3"]
    } else {
        ["x₁", "x₂", "x₃"]
    };
    for (c, name) in names.iter().enumerate() {
        let a = frame.rot[0][c];
        let b = frame.rot[1][c];
        let end = (origin.0 + a * length, origin.1 - b * length);
        area.draw(&PathElement::new(
            vec![px(origin), px(end)],
            ShapeStyle::from(&MUTED).stroke_width(lw(1.2, scale)),
        ))?;
        area.draw(&Text::new(
            name.to_string(),
            px((
                origin.0 + a * (length + 8.0 * scale),
                origin.1 - b * (length + 8.0 * scale),
            )),
            anchored(font(9.5, scale).color(&MUTED), HPos::Center, VPos::Center),
        ))?;
    }
    // Scale bar: a round length of about a quarter of the cloud's radius.
    let unit = frame.unit();
    let target = frame.radius * 0.5;
    if unit.is_finite() && unit > 0.0 && target.is_finite() && target > 0.0 {
        let mag = 10f64.powf(target.log10().floor());
        let bar = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .rfind(|&v| v <= target)
            .unwrap_or(mag);
        let len = bar * unit;
        if len.is_finite() && len > 4.0 {
            let y = frame.top + frame.height - 8.0 * scale;
            let x1 = frame.left + frame.width - 8.0 * scale;
            let x0 = x1 - len;
            area.draw(&PathElement::new(
                vec![
                    px((x0, y - 3.0 * scale)),
                    px((x0, y)),
                    px((x1, y)),
                    px((x1, y - 3.0 * scale)),
                ],
                ShapeStyle::from(&MUTED).stroke_width(lw(1.0, scale)),
            ))?;
            area.draw(&Text::new(
                tick_text(bar, bar),
                px(((x0 + x1) / 2.0, y - 3.0 * scale)),
                anchored(font(9.5, scale).color(&MUTED), HPos::Center, VPos::Bottom),
            ))?;
        }
    }
    Ok(())
}

/// d = 2: dominance cells {p : argmax_m <A p, v_m> = m} of the hull vertices at step k, on a
/// grid of CELL_PX cells inside the hull (runs of equal cells merged into one rectangle).
fn draw_cells<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &ParticleFrame,
    scene: &Scene,
    panel: usize,
    k: usize,
    membership: Option<&[Membership]>,
    scale: f64,
) -> DrawResult<DB> {
    let run = &scene.panels[panel].run;
    let pts = run.positions(k);
    let hull_idx = hull::hull_2d(pts);
    if hull_idx.len() < 3 {
        return Ok(());
    }
    let verts: Vec<f64> = hull_idx
        .iter()
        .flat_map(|&i| [pts[2 * i], pts[2 * i + 1]])
        .collect();
    let a = scene.matrix();
    // Pixel box of the hull, clipped to the plot.
    let corners: Vec<(f64, f64)> = hull_idx
        .iter()
        .map(|&i| frame.to_px(&pts[2 * i..2 * i + 2]))
        .collect();
    let x_lo = corners
        .iter()
        .map(|c| c.0)
        .fold(f64::INFINITY, f64::min)
        .max(frame.left);
    let x_hi = corners
        .iter()
        .map(|c| c.0)
        .fold(f64::NEG_INFINITY, f64::max)
        .min(frame.left + frame.width);
    let y_lo = corners
        .iter()
        .map(|c| c.1)
        .fold(f64::INFINITY, f64::min)
        .max(frame.top);
    let y_hi = corners
        .iter()
        .map(|c| c.1)
        .fold(f64::NEG_INFINITY, f64::max)
        .min(frame.top + frame.height);
    if !(x_lo.is_finite() && x_hi.is_finite() && y_lo.is_finite() && y_hi.is_finite()) {
        return Ok(());
    }
    let cell = (CELL_PX * scale).max(2.0);
    let cols = ((x_hi - x_lo) / cell).ceil().clamp(0.0, 2000.0) as usize;
    let rows = ((y_hi - y_lo) / cell).ceil().clamp(0.0, 2000.0) as usize;
    let colour_of = |m: usize| -> RGBColor {
        let token = hull_idx[m];
        match membership.and_then(|ms| ms.get(token)) {
            Some(Membership::Member(s)) | Some(Membership::Feeds(s)) => set_colour(*s),
            _ => set_colour(m),
        }
    };
    for row in 0..rows {
        let y0 = y_lo + row as f64 * cell;
        let yc = y0 + cell / 2.0;
        let mut run_start = 0usize;
        let mut current: Option<usize> = None;
        for col in 0..=cols {
            let id = if col == cols {
                None
            } else {
                let xc = x_lo + (col as f64 + 0.5) * cell;
                frame.from_px(xc, yc).and_then(|q| {
                    let q2 = [q[0], q[1]];
                    (hull::outside_distance_2d(pts, &hull_idx, q2) <= 0.0)
                        .then(|| frame_wolfe_cell(a, &verts, &q))
                        .flatten()
                })
            };
            if id != current || col == cols {
                if let Some(m) = current {
                    let x0 = x_lo + run_start as f64 * cell;
                    let x1 = x_lo + col as f64 * cell;
                    area.draw(&Rectangle::new(
                        [px((x0, y0)), px((x1, y0 + cell))],
                        colour_of(m).mix(0.16).filled(),
                    ))?;
                }
                current = id;
                run_start = col;
            }
        }
    }
    Ok(())
}

fn frame_wolfe_cell(a: &[f64], verts: &[f64], q: &[f64]) -> Option<usize> {
    frank_wolfe::dominance_cell(a, 2, verts, q)
}

// ------------------------------------------------------------------------------------ plots

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
    axis: YAxis,
    cursor: Option<f64>,
    /// Centred notes in the chart (e.g. "softmax: no delta"), one per line.
    messages: &'a [(String, RGBColor)],
}

impl Chart<'_> {
    /// The plotted value of y: itself (linear axis) or log10 (log axis); None if not drawable.
    fn value(&self, y: f64) -> Option<f64> {
        match self.axis {
            YAxis::Linear => y.is_finite().then_some(y),
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
            YAxis::Linear => {
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

    fn frame(&self, scale: f64) -> ChartFrame {
        let (left, top, width, height) = self.rect;
        let head = if self.subtitle.is_empty() { 20.0 } else { 33.0 } * scale;
        ChartFrame {
            left: left + 50.0 * scale,
            top: top + head,
            width: (width - 60.0 * scale).max(10.0),
            height: (height - head - 30.0 * scale).max(10.0),
            x_range: (0.0, self.x_max.max(1.0)),
            y_range: self.y_range(),
        }
    }

    /// The y ticks (plotted value, label): nice numbers, or every few decades as powers of ten.
    fn y_ticks(&self, y_range: (f64, f64)) -> Vec<(f64, String)> {
        match self.axis {
            YAxis::Linear => {
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
        if let Some(x) = self.cursor.filter(|x| x.is_finite()) {
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
        let x_ticks = nice_ticks(0.0, frame.x_range.1, 5);
        let x_step = tick_step(&x_ticks);
        for &x in &x_ticks {
            let (pxx, _) = frame.to_px(x, frame.y_range.0);
            area.draw(&Text::new(
                tick_text(x, x_step),
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
        area.draw(&Text::new(
            "step k",
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
            match self.value(y) {
                Some(v) if x.is_finite() => {
                    let q = px(frame.to_px(x, v));
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
    let chart = |index: usize,
                 title: &str,
                 subtitle: &str,
                 series: &[Series],
                 axis: YAxis,
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
    chart(
        0,
        "hull size and distance to the final state (log scale)",
        &subtitle,
        &size_series(scene),
        YAxis::Log,
        &[],
    )?;
    let per_panel = |diag: fn(&td_particles::Run) -> Vec<(f64, f64)>| -> Vec<Series> {
        scene
            .panels
            .iter()
            .map(|panel| Series {
                points: diag(&panel.run),
                colour: rule_colour(panel.rule),
                dash: Dash::Solid,
            })
            .collect()
    };
    chart(
        1,
        &format!(
            "clusters (single linkage, distance ≤ {})",
            tick_text(st.tol, st.tol)
        ),
        "",
        &per_panel(cluster_points),
        YAxis::Linear,
        &[],
    )?;
    let (deltas, messages) = delta_series(scene);
    let delta_title = if scene.panels.iter().any(|p| p.rule == RuleChoice::Localmax) {
        format!(
            "alignment sensitivity delta(k): {}",
            super::scene::schedule_text(st)
        )
    } else {
        "alignment sensitivity delta(k)".to_string()
    };
    chart(2, &delta_title, "", &deltas, YAxis::Linear, &messages)?;
    chart(
        3,
        "asymmetry: pairs with j ∈ N_i but i ∉ N_j",
        "",
        &per_panel(asymmetry_points),
        YAxis::Linear,
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
        let text = format!("■ {}", super::scene::rule_key(panel.rule));
        area.draw(&Text::new(
            text.clone(),
            px((lx, 4.0 * scale)),
            anchored(
                font(11.0, scale).color(&rule_colour(panel.rule)),
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
        let colour = rule_colour(panel.rule);
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
        let colour = rule_colour(panel.rule);
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
