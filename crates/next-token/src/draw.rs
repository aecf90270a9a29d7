//! Drawing of the next-token explorer, generic over plotters' `DrawingBackend`: the same code paints
//! the page's canvases, writes SVG for export, and renders natively in tests and from the command line.
//!
//! We draw in pixel coordinates with small "frame" objects that map data to pixels and back (the page
//! uses the inverse maps for clicks and drags). Text is placed by anchor, never measured, so the
//! output does not depend on a font engine.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::params::XAxis;
use super::scene::{lump, Panel, RunView, Scene};
use td_core::draw_kit::{
    anchored, draw_legend, fit_text, font, lw, nice_ticks, px, star_points, text_colour,
    text_width, wrap_items, BACKGROUND, GRID, INK, MUTED,
};
use td_flows::run::Sample;

pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Colours of the three corner tokens and of the lumped "other".
pub const CORNER_COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 98, 18),
    RGBColor(44, 150, 44),
    RGBColor(120, 120, 120),
];
/// Trajectory colours (start points / overlay values).
pub const RUN_COLOURS: [RGBColor; 8] = [
    RGBColor(68, 1, 84),
    RGBColor(200, 30, 90),
    RGBColor(0, 128, 128),
    RGBColor(140, 86, 20),
    RGBColor(150, 40, 190),
    RGBColor(90, 110, 0),
    RGBColor(20, 50, 160),
    RGBColor(30, 30, 30),
];

pub fn run_colour(index: usize) -> RGBColor {
    RUN_COLOURS[index % RUN_COLOURS.len()]
}

/// Speed colour ramp (light grey-blue for slow, dark red for fast), `t` in `[0, 1]`.
pub fn speed_colour(t: f64) -> RGBColor {
    let stops = [
        (0.0, (150.0, 170.0, 200.0)),
        (0.5, (90.0, 60.0, 170.0)),
        (1.0, (190.0, 20.0, 40.0)),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (lo, hi) = if t <= 0.5 {
        (stops[0], stops[1])
    } else {
        (stops[1], stops[2])
    };
    let u = (t - lo.0) / (hi.0 - lo.0);
    let mix = |a: f64, b: f64| (a + (b - a) * u).round() as u8;
    RGBColor(
        mix(lo.1 .0, hi.1 .0),
        mix(lo.1 .1, hi.1 .1),
        mix(lo.1 .2, hi.1 .2),
    )
}

/// Maps lumped coordinates (three corners + other) to pixels: the corners are the triangle's vertices
/// and "other" sits at the centroid (the 3-simplex seen from above). For V = 3 this is the ternary plot.
#[derive(Clone, Copy, Debug)]
pub struct SimplexFrame {
    pub corners: [(f64, f64); 3],
    pub centre: (f64, f64),
}

impl SimplexFrame {
    /// The largest equilateral triangle fitting a `width`×`height` box with room for labels.
    pub fn fit(width: f64, height: f64, scale: f64) -> SimplexFrame {
        let margin_x = 34.0 * scale;
        let margin_top = 30.0 * scale;
        // Room under the base for the vertex labels and for the legend at its longest.
        let legend_lines = if height < LEGEND_MIN_HEIGHT * scale {
            0
        } else {
            wrap_items(&LONGEST_LEGEND, width, 6.0 * scale, 10, scale).len()
        };
        let margin_bottom = (30.0 + 13.0 * legend_lines as f64) * scale;
        let side = (width - 2.0 * margin_x)
            .min((height - margin_top - margin_bottom) * 2.0 / 3f64.sqrt())
            .max(10.0);
        let tri_h = side * 3f64.sqrt() / 2.0;
        let left = (width - side) / 2.0;
        let top = margin_top + ((height - margin_top - margin_bottom) - tri_h).max(0.0) / 2.0;
        let a = (left, top + tri_h);
        let b = (left + side, top + tri_h);
        let c = (left + side / 2.0, top);
        SimplexFrame {
            corners: [a, b, c],
            centre: ((a.0 + b.0 + c.0) / 3.0, (a.1 + b.1 + c.1) / 3.0),
        }
    }

    /// The frame for a vocabulary: the triangle, or for V = 2 a horizontal edge near the top (the
    /// space below it plots each trajectory against time).
    pub fn for_vocab(v: usize, width: f64, height: f64, scale: f64) -> SimplexFrame {
        if v != 2 {
            return SimplexFrame::fit(width, height, scale);
        }
        let margin = 34.0 * scale;
        let y = 58.0 * scale;
        let a = (margin, y);
        let b = ((width - margin).max(margin + 10.0), y);
        let c = ((a.0 + b.0) / 2.0, y);
        SimplexFrame {
            corners: [a, b, c],
            centre: c,
        }
    }

    /// For the V = 2 view: the vertical pixel of time t along a horizon.
    pub fn time_y(&self, t: f64, horizon: f64, height: f64, scale: f64) -> f64 {
        let top = self.corners[0].1 + 16.0 * scale;
        let bottom = (height - 44.0 * scale).max(top + 10.0);
        let f = if horizon > 0.0 {
            (t / horizon).clamp(0.0, 1.0)
        } else {
            0.0
        };
        top + f * (bottom - top)
    }

    pub fn to_px(&self, q: [f64; 4]) -> (f64, f64) {
        let w = [q[0] + q[3] / 3.0, q[1] + q[3] / 3.0, q[2] + q[3] / 3.0];
        let x = w[0] * self.corners[0].0 + w[1] * self.corners[1].0 + w[2] * self.corners[2].0;
        let y = w[0] * self.corners[0].1 + w[1] * self.corners[1].1 + w[2] * self.corners[2].1;
        (x, y)
    }

    /// Barycentric coordinates (on the three corners) of a pixel; None outside the triangle.
    pub fn from_px(&self, x: f64, y: f64) -> Option<[f64; 3]> {
        let [a, b, c] = self.corners;
        let det = (b.1 - c.1) * (a.0 - c.0) + (c.0 - b.0) * (a.1 - c.1);
        if det.abs() < 1e-12 {
            // Edge view (V = 2): any click in the plot picks the point above it on the edge.
            let f = (x - a.0) / (b.0 - a.0);
            return (f > 0.0 && f < 1.0 && y >= a.1 - 30.0).then_some([1.0 - f, f, 0.0]);
        }
        let l0 = ((b.1 - c.1) * (x - c.0) + (c.0 - b.0) * (y - c.1)) / det;
        let l1 = ((c.1 - a.1) * (x - c.0) + (a.0 - c.0) * (y - c.1)) / det;
        let l2 = 1.0 - l0 - l1;
        if l0 < 0.0 || l1 < 0.0 || l2 < 0.0 {
            None
        } else {
            Some([l0, l1, l2])
        }
    }
}

/// Below this height (CSS px) the simplex has no legend: it would cover the triangle.
const LEGEND_MIN_HEIGHT: f64 = 230.0;

/// Every legend item at once: the frame reserves room for this, so the legend never covers labels.
const LONGEST_LEGEND: [&str; 6] = [
    "★ π_T = softmax(s/T)",
    "◯ argmax",
    "arrows: one step, colour = step size",
    "red ◯ truncated target",
    "yellow: active face",
    "● centre: the other 1048573 tokens, lumped",
];

/// Index of the stored sample at scrub position `at` (0..1).
pub fn sample_index(len: usize, at: f64) -> usize {
    if len == 0 {
        return 0;
    }
    (((len - 1) as f64) * at.clamp(0.0, 1.0)).round() as usize
}

fn draw_star<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    centre: (f64, f64),
    radius: f64,
    fill: RGBColor,
    scale: f64,
) -> DrawResult<DB> {
    let points = star_points(centre, radius);
    area.draw(&Polygon::new(points.clone(), fill.filled()))?;
    let mut closed = points;
    closed.push(closed[0]);
    area.draw(&PathElement::new(
        closed,
        ShapeStyle::from(&INK).stroke_width(scale.max(1.0) as u32),
    ))
}

/// The simplex panel `panel` of the scene, with the animated point at scrub position `at`.
pub fn draw_simplex<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    panel: usize,
    at: f64,
    scale: f64,
) -> DrawResult<DB> {
    area.fill(&BACKGROUND)?;
    let (width, height) = area.dim_in_pixel();
    let frame = SimplexFrame::for_vocab(scene.v, width as f64, height as f64, scale);
    let Some(panel) = scene.panels.get(panel) else {
        return Ok(());
    };
    let painter = SimplexPainter {
        area,
        scene,
        panel,
        frame,
        width: width as f64,
        height: height as f64,
        scale,
    };
    painter.title()?;
    if scene.v == 2 {
        painter.edge_and_time_axis()?;
    } else {
        painter.triangle()?;
    }
    if painter.truncated() {
        painter.active_face()?;
    }
    if painter.shows_field() {
        painter.field()?;
    }
    painter.trajectories()?;
    painter.target_and_argmax()?;
    painter.current_points(at)?;
    // pi_T on top of the moving points: Flow C's points end exactly on it.
    painter.pi_t_star()?;
    // Vertex dots and labels (drawn last so they sit on top).
    painter.vertices()?;
    painter.legend()
}

/// Everything the parts of one simplex panel share: where to draw, the frame, the scene and panel.
struct SimplexPainter<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    scene: &'a Scene,
    panel: &'a Panel,
    frame: SimplexFrame,
    width: f64,
    height: f64,
    scale: f64,
}

/// Field arrows grouped by (quantised) speed colour so backends can batch them.
struct ArrowBatches {
    shafts: Vec<Vec<[(i32, i32); 2]>>,
    heads: Vec<Vec<[(i32, i32); 3]>>,
    /// Arrows too short to have a direction: drawn as dots.
    still: Vec<(i32, i32)>,
}

/// Number of speed colours of the field arrows.
const ARROW_LEVELS: usize = 12;

impl<DB: DrawingBackend> SimplexPainter<'_, DB> {
    /// Stroke width of `w` CSS pixels (at least 1).
    fn lw(&self, w: f64) -> u32 {
        lw(w, self.scale)
    }

    fn v(&self) -> usize {
        self.scene.v
    }

    /// Whether a truncation face is active (part of the vocabulary cut off).
    fn truncated(&self) -> bool {
        self.scene.support.len() < self.v()
    }

    fn shows_field(&self) -> bool {
        self.scene.state.field && !self.panel.field.is_empty()
    }

    /// For the V = 2 view: the vertical pixel of time t along the horizon.
    fn time_y(&self, t: f64) -> f64 {
        self.frame
            .time_y(t, self.scene.state.horizon, self.height, self.scale)
    }

    fn title(&self) -> DrawResult<DB> {
        let scale = self.scale;
        self.area.draw(&Text::new(
            fit_text(&self.panel.title, self.width - 12.0 * scale, 13.0, scale),
            px((8.0 * scale, 6.0 * scale)),
            anchored(font(13.0, scale), HPos::Left, VPos::Top),
        ))
    }

    /// V = 2: only the edge between the two tokens exists; below it, a time axis (t = 0, the
    /// horizon, and t = 1 where Flow A passes pi_T from uniform).
    fn edge_and_time_axis(&self) -> DrawResult<DB> {
        let (area, scale) = (self.area, self.scale);
        let [a, b, c] = self.frame.corners;
        area.draw(&PathElement::new(
            vec![px(a), px(b)],
            ShapeStyle::from(&INK).stroke_width(self.lw(1.5)),
        ))?;
        let room = 2.0 * c.0.min(self.width - c.0) - 8.0 * scale;
        let note = [
            "V = 2: the simplex is this edge; below it, each trajectory against time t ↓",
            "V = 2: the simplex is this edge; time t below ↓",
            "V = 2: this edge is the simplex",
        ]
        .into_iter()
        .find(|t| text_width(t, 11.0, scale) <= room)
        .unwrap_or("V = 2");
        area.draw(&Text::new(
            note,
            px((c.0, 24.0 * scale)),
            anchored(font(11.0, scale).color(&MUTED), HPos::Center, VPos::Top),
        ))?;
        let horizon = self.scene.state.horizon;
        for (t, text) in [
            (0.0, "t = 0".to_string()),
            (
                horizon,
                format!("t = {}", td_core::url::format_number(horizon)),
            ),
        ] {
            let y = self.time_y(t);
            area.draw(&PathElement::new(
                vec![px((a.0, y)), px((b.0, y))],
                ShapeStyle::from(&GRID).stroke_width(self.lw(1.0)),
            ))?;
            area.draw(&Text::new(
                text,
                px((a.0 - 4.0 * scale, y)),
                anchored(font(10.0, scale).color(&MUTED), HPos::Right, VPos::Center),
            ))?;
        }
        if horizon > 1.0 {
            let y = self.time_y(1.0);
            area.draw(&PathElement::new(
                vec![px((a.0, y)), px((b.0, y))],
                ShapeStyle::from(&RGBColor(255, 170, 0)).stroke_width(self.lw(1.0)),
            ))?;
            area.draw(&Text::new(
                "t = 1",
                px((b.0 + 3.0 * scale, y)),
                anchored(
                    font(10.5, scale).color(&text_colour(&RGBColor(200, 120, 0))),
                    HPos::Left,
                    VPos::Center,
                ),
            ))?;
        }
        Ok(())
    }

    /// The triangle; for V > 3 also the light edges to the inner "other" vertex (the tetrahedron
    /// seen from above).
    fn triangle(&self) -> DrawResult<DB> {
        let area = self.area;
        let [a, b, c] = self.frame.corners;
        area.draw(&Polygon::new(
            vec![px(a), px(b), px(c)],
            RGBColor(250, 250, 252).filled(),
        ))?;
        area.draw(&PathElement::new(
            vec![px(a), px(b), px(c), px(a)],
            ShapeStyle::from(&INK).stroke_width(self.lw(1.2)),
        ))?;
        if self.v() > 3 {
            for corner in [a, b, c] {
                area.draw(&PathElement::new(
                    vec![px(corner), px(self.frame.centre)],
                    ShapeStyle::from(&GRID).stroke_width(self.lw(1.0)),
                ))?;
            }
        }
        Ok(())
    }

    /// Active truncation face: the hull of the corners (and "other") that are in the support.
    fn active_face(&self) -> DrawResult<DB> {
        let (scene, v, scale) = (self.scene, self.v(), self.scale);
        let mut face: Vec<(f64, f64)> = Vec::new();
        for (slot, &index) in scene
            .corners
            .iter()
            .enumerate()
            .take(if v == 2 { 2 } else { 3 })
        {
            if scene.support.contains(&index) {
                face.push(self.frame.corners[slot]);
            }
        }
        if v > 3 && scene.support.iter().any(|i| !scene.corners.contains(i)) {
            face.push(self.frame.centre);
        }
        let band = RGBColor(255, 200, 60).mix(0.55);
        match face.len() {
            0 => {}
            1 => {
                self.area.draw(&Circle::new(
                    px(face[0]),
                    (9.0 * scale) as i32,
                    band.filled(),
                ))?;
            }
            2 => {
                self.area.draw(&PathElement::new(
                    vec![px(face[0]), px(face[1])],
                    band.stroke_width(self.lw(9.0)),
                ))?;
            }
            _ => {
                self.area.draw(&Polygon::new(
                    face.iter().map(|&p| px(p)).collect::<Vec<_>>(),
                    RGBColor(255, 200, 60).mix(0.25).filled(),
                ))?;
            }
        }
        Ok(())
    }

    /// Vector field: arrows of equal spacing, length and colour growing with speed.
    fn field(&self) -> DrawResult<DB> {
        let batches = self.arrow_batches();
        for level in 0..ARROW_LEVELS {
            let colour = speed_colour(level as f64 / (ARROW_LEVELS - 1) as f64);
            let style = ShapeStyle::from(&colour).stroke_width(self.lw(1.0));
            for shaft in &batches.shafts[level] {
                self.area.draw(&PathElement::new(shaft.to_vec(), style))?;
            }
            for head in &batches.heads[level] {
                self.area
                    .draw(&Polygon::new(head.to_vec(), colour.filled()))?;
            }
        }
        for p in batches.still {
            self.area.draw(&Circle::new(
                p,
                (1.5 * self.scale) as i32,
                speed_colour(0.0).filled(),
            ))?;
        }
        Ok(())
    }

    /// Each field arrow in pixels (shaft and head), in the batch of its speed colour.
    fn arrow_batches(&self) -> ArrowBatches {
        let frame = &self.frame;
        let [a, b, _] = frame.corners;
        let spacing = ((b.0 - a.0) / self.scene.field_grid.max(1) as f64).max(4.0);
        let max_speed = self.panel.max_speed.max(1e-300);
        let mut batches = ArrowBatches {
            shafts: vec![Vec::new(); ARROW_LEVELS],
            heads: vec![Vec::new(); ARROW_LEVELS],
            still: Vec::new(),
        };
        for arrow in &self.panel.field {
            let start = frame.to_px(arrow.at);
            let ahead = frame.to_px([
                arrow.at[0] + arrow.dir[0] * 1e-3,
                arrow.at[1] + arrow.dir[1] * 1e-3,
                arrow.at[2] + arrow.dir[2] * 1e-3,
                arrow.at[3] + arrow.dir[3] * 1e-3,
            ]);
            let (dx, dy) = (ahead.0 - start.0, ahead.1 - start.1);
            let norm = (dx * dx + dy * dy).sqrt();
            if !(norm > 1e-12 && norm.is_finite()) {
                batches.still.push(px(start));
                continue;
            }
            let rel = (arrow.speed / max_speed).sqrt();
            let level = ((rel * (ARROW_LEVELS - 1) as f64).round() as usize).min(ARROW_LEVELS - 1);
            let len = spacing * 0.75 * (0.35 + 0.65 * rel);
            let (ux, uy) = (dx / norm, dy / norm);
            let tail = (start.0 - ux * len / 2.0, start.1 - uy * len / 2.0);
            let head = (start.0 + ux * len / 2.0, start.1 + uy * len / 2.0);
            let hs = len * 0.35;
            let left = (
                head.0 - ux * hs - uy * hs * 0.5,
                head.1 - uy * hs + ux * hs * 0.5,
            );
            let right = (
                head.0 - ux * hs + uy * hs * 0.5,
                head.1 - uy * hs - ux * hs * 0.5,
            );
            batches.shafts[level].push([px(tail), px(head)]);
            batches.heads[level].push([px(head), px(left), px(right)]);
        }
        batches
    }

    /// Pixel of a sample: its lumped point, or for V = 2 its point on the edge at its time.
    fn trajectory_px(&self, s: &Sample) -> (i32, i32) {
        let (x, y) = self.frame.to_px(s.lumped);
        if self.v() == 2 {
            px((x, self.time_y(s.t)))
        } else {
            px((x, y))
        }
    }

    /// Each run's path, its iterates (discrete flows) and a ring at its start.
    fn trajectories(&self) -> DrawResult<DB> {
        let scale = self.scale;
        for view in &self.panel.runs {
            let samples = view.run.samples();
            if samples.len() < 2 {
                continue;
            }
            let points: Vec<(i32, i32)> = samples.iter().map(|s| self.trajectory_px(s)).collect();
            let colour = run_colour(view.colour);
            self.area.draw(&PathElement::new(
                points.clone(),
                ShapeStyle::from(&colour).stroke_width(self.lw(1.8)),
            ))?;
            // Discrete flows: the iterates themselves matter (oscillation, exactness) — mark them.
            if view.run.spec().flow.is_discrete() && samples.len() <= 80 {
                for p in &points {
                    self.area
                        .draw(&Circle::new(*p, (2.0 * scale) as i32, colour.filled()))?;
                }
            }
            self.area.draw(&Circle::new(
                points[0],
                (3.0 * scale) as i32,
                ShapeStyle::from(&colour).stroke_width(self.lw(1.2)),
            ))?;
        }
        Ok(())
    }

    /// Markers: the truncated target (red ring) and the argmax vertices (rings on the vertex).
    fn target_and_argmax(&self) -> DrawResult<DB> {
        let (scene, v, scale) = (self.scene, self.v(), self.scale);
        if self.truncated() {
            let t_l = lump(&scene.target, scene.corners, v);
            self.area.draw(&Circle::new(
                px(self.frame.to_px(t_l)),
                (7.0 * scale) as i32,
                ShapeStyle::from(&RGBColor(200, 0, 0)).stroke_width(self.lw(2.0)),
            ))?;
        }
        for &index in scene.argmax.iter().take(3) {
            let mut e = [0.0; 4];
            match scene.corners.iter().position(|&c| c == index) {
                Some(slot) if v > 2 || slot < 2 => e[slot] = 1.0,
                _ => e[3] = 1.0,
            }
            self.area.draw(&Circle::new(
                px(self.frame.to_px(e)),
                (10.0 * scale) as i32,
                ShapeStyle::from(&INK).stroke_width(self.lw(2.0)),
            ))?;
        }
        Ok(())
    }

    /// Current (animated) points at scrub position `at`; for V = 2 also on their time curves.
    fn current_points(&self, at: f64) -> DrawResult<DB> {
        let scale = self.scale;
        for view in &self.panel.runs {
            let samples = view.run.samples();
            if samples.is_empty() {
                continue;
            }
            let sample = &samples[sample_index(samples.len(), at)];
            let p = px(self.frame.to_px(sample.lumped));
            if self.v() == 2 {
                let y = self.time_y(sample.t);
                self.area.draw(&Circle::new(
                    (p.0, y.round() as i32),
                    (4.0 * scale) as i32,
                    run_colour(view.colour).filled(),
                ))?;
            }
            self.area.draw(&Circle::new(
                p,
                (5.0 * scale) as i32,
                run_colour(view.colour).filled(),
            ))?;
            self.area.draw(&Circle::new(
                p,
                (5.0 * scale) as i32,
                ShapeStyle::from(&WHITE).stroke_width(self.lw(1.2)),
            ))?;
        }
        Ok(())
    }

    /// The star at pi_T = softmax(s/T).
    fn pi_t_star(&self) -> DrawResult<DB> {
        let pi_l = lump(&self.scene.pi_t, self.scene.corners, self.v());
        draw_star(
            self.area,
            self.frame.to_px(pi_l),
            8.0 * self.scale,
            RGBColor(255, 215, 0),
            self.scale,
        )
    }

    /// Vertex dots and token labels; for V > 3 the "other" vertex too.
    fn vertices(&self) -> DrawResult<DB> {
        let (area, v, scale) = (self.area, self.v(), self.scale);
        let slots = if v == 2 { 2 } else { 3 };
        for (slot, &vertex) in self.frame.corners.iter().enumerate().take(slots) {
            area.draw(&Circle::new(
                px(vertex),
                (6.0 * scale) as i32,
                CORNER_COLOURS[slot].filled(),
            ))?;
            // A label stays inside the figure: shortened to its width, and a bottom label
            // centred under its dot only as far as the edge allows ("other (336 tokens)" at the
            // right-hand corner used to run off it).
            let edge = 4.0 * scale;
            let (h, vpos, y) = match slot {
                0 | 1 => (HPos::Center, VPos::Top, vertex.1 + 10.0 * scale),
                _ => (HPos::Left, VPos::Center, vertex.1),
            };
            let (label, x) = if slot < 2 {
                let label = fit_text(
                    &self.scene.corner_labels[slot],
                    self.width - 2.0 * edge,
                    13.0,
                    scale,
                );
                let half = text_width(&label, 13.0, scale) / 2.0;
                let x = vertex.0.min(self.width - edge - half).max(edge + half);
                (label, x)
            } else {
                let x = vertex.0 + 12.0 * scale;
                let room = (self.width - edge - x).max(0.0);
                (
                    fit_text(&self.scene.corner_labels[slot], room, 13.0, scale),
                    x,
                )
            };
            area.draw(&Text::new(
                label,
                px((x, y)),
                anchored(
                    font(13.0, scale).color(&text_colour(&CORNER_COLOURS[slot])),
                    h,
                    vpos,
                ),
            ))?;
        }
        if v > 3 {
            let centre = self.frame.centre;
            area.draw(&Circle::new(
                px(centre),
                (4.0 * scale) as i32,
                CORNER_COLOURS[3].filled(),
            ))?;
        }
        Ok(())
    }

    /// Legend, wrapped into as many lines as the width needs (widths estimated, not measured, so
    /// every backend wraps identically).
    fn legend(&self) -> DrawResult<DB> {
        let scale = self.scale;
        let mut items = vec!["★ π_T = softmax(s/T)".to_string(), "◯ argmax".to_string()];
        // The centre dot's label lives here: drawn beside the dot it hid under the ★ and the paths.
        if self.v() > 3 {
            items.push(format!(
                "● centre: the other {} tokens, lumped",
                self.v() - 3
            ));
        }
        if self.shows_field() {
            items.push(
                if self.panel.flow.is_discrete() {
                    "arrows: one step, colour = step size"
                } else {
                    "arrows: flow, colour = speed"
                }
                .to_string(),
            );
        }
        if self.truncated() {
            items.push("red ◯ truncated target".to_string());
            items.push("yellow: active face".to_string());
        }
        let lines = wrap_items(&items, self.width, 6.0 * scale, 10, scale);
        let line_height = 13.0 * scale;
        if self.height < LEGEND_MIN_HEIGHT * scale {
            // Too small for a legend without covering the triangle; the page's text explains the marks.
            return Ok(());
        }
        for (index, line) in lines.iter().rev().enumerate() {
            self.area.draw(&Text::new(
                line.clone(),
                px((
                    8.0 * scale,
                    self.height - 6.0 * scale - index as f64 * line_height,
                )),
                anchored(font(10.5, scale).color(&MUTED), HPos::Left, VPos::Bottom),
            ))?;
        }
        Ok(())
    }
}

fn tick_text(x: f64) -> String {
    let text = format!("{:.4}", x);
    let text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

/// A small chart: maps data (x, y) to pixels inside `rect`.
#[derive(Clone, Copy, Debug)]
pub struct PlotFrame {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
}

impl PlotFrame {
    pub fn to_px(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        (
            self.left + fx.clamp(-0.05, 1.05) * self.width,
            self.top + (1.0 - fy.clamp(-0.05, 1.05)) * self.height,
        )
    }
}

/// One series to plot: points, colour, dashed or not.
struct Curve {
    points: Vec<(f64, f64)>,
    colour: RGBColor,
    dashed: bool,
}

/// One small chart: where it goes, what it shows and its vertical markers.
struct Plot<'a> {
    /// (left, top, width, height) in pixels, labels included.
    rect: (f64, f64, f64, f64),
    title: &'a str,
    x_label: &'a str,
    curves: &'a [Curve],
    x_range: (f64, f64),
    /// Fixed y range; `None` fits the curves.
    fixed_y: Option<(f64, f64)>,
    /// Where to mark t = 1 (only drawn strictly inside the x range).
    mark_x: Option<f64>,
    /// The playback cursor.
    cursor_x: Option<f64>,
}

impl Plot<'_> {
    /// The y range: fixed, or the finite values of the curves padded by 8 % (never empty).
    fn y_range(&self) -> (f64, f64) {
        let mut y_range = self.fixed_y.unwrap_or_else(|| {
            let mut lo = f64::INFINITY;
            let mut hi = f64::NEG_INFINITY;
            for curve in self.curves {
                for &(_, y) in &curve.points {
                    if y.is_finite() {
                        lo = lo.min(y);
                        hi = hi.max(y);
                    }
                }
            }
            if !lo.is_finite() {
                (0.0, 1.0)
            } else {
                let pad = ((hi - lo) * 0.08).max(1e-9 * hi.abs().max(1.0)).max(1e-12);
                (lo - pad, hi + pad)
            }
        });
        if y_range.1 <= y_range.0 {
            y_range.1 = y_range.0 + 1.0;
        }
        y_range
    }

    /// The data-to-pixel map of the chart's inner box.
    fn frame(&self, scale: f64) -> PlotFrame {
        let (left, top, width, height) = self.rect;
        PlotFrame {
            left: left + 44.0 * scale,
            top: top + 20.0 * scale,
            width: (width - 52.0 * scale).max(10.0),
            height: (height - 44.0 * scale).max(10.0),
            x_range: self.x_range,
            y_range: self.y_range(),
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        scale: f64,
    ) -> DrawResult<DB> {
        let frame = self.frame(scale);
        self.draw_axes(area, &frame, scale)?;
        if let Some(x) = self.mark_x {
            if x > self.x_range.0 && x < self.x_range.1 {
                draw_t1_mark(area, &frame, x, scale)?;
            }
        }
        self.draw_curves(area, &frame, scale)?;
        if let Some(x) = self.cursor_x {
            let (cx, _) = frame.to_px(x, frame.y_range.0);
            area.draw(&PathElement::new(
                vec![px((cx, frame.top)), px((cx, frame.top + frame.height))],
                ShapeStyle::from(&INK.mix(0.5)).stroke_width(lw(1.0, scale)),
            ))?;
        }
        Ok(())
    }

    /// Title, grid, ticks, the x label and the axis lines.
    fn draw_axes<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        frame: &PlotFrame,
        scale: f64,
    ) -> DrawResult<DB> {
        let (x_range, y_range) = (self.x_range, frame.y_range);
        let room = self.rect.0 + self.rect.2 - frame.left - 4.0 * scale;
        area.draw(&Text::new(
            fit_text(self.title, room, 12.0, scale),
            px((frame.left, self.rect.1 + 4.0 * scale)),
            anchored(font(12.0, scale), HPos::Left, VPos::Top),
        ))?;
        for y in nice_ticks(y_range.0, y_range.1, 4) {
            let (_, py) = frame.to_px(x_range.0, y);
            area.draw(&PathElement::new(
                vec![px((frame.left, py)), px((frame.left + frame.width, py))],
                ShapeStyle::from(&GRID).stroke_width(lw(1.0, scale)),
            ))?;
            area.draw(&Text::new(
                tick_text(y),
                px((frame.left - 4.0 * scale, py)),
                anchored(font(10.0, scale).color(&MUTED), HPos::Right, VPos::Center),
            ))?;
        }
        for x in nice_ticks(x_range.0, x_range.1, 5) {
            let (pxx, _) = frame.to_px(x, y_range.0);
            area.draw(&Text::new(
                tick_text(x),
                px((pxx, frame.top + frame.height + 3.0 * scale)),
                anchored(font(10.0, scale).color(&MUTED), HPos::Center, VPos::Top),
            ))?;
        }
        area.draw(&Text::new(
            self.x_label.to_string(),
            px((
                frame.left + frame.width,
                frame.top + frame.height + 15.0 * scale,
            )),
            anchored(font(10.0, scale).color(&MUTED), HPos::Right, VPos::Top),
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

    /// Every curve with at least two finite points, solid or dashed.
    fn draw_curves<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        frame: &PlotFrame,
        scale: f64,
    ) -> DrawResult<DB> {
        for curve in self.curves {
            let pts: Vec<(i32, i32)> = curve
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| px(frame.to_px(x, y)))
                .collect();
            if pts.len() < 2 {
                continue;
            }
            let style = ShapeStyle::from(&curve.colour).stroke_width(lw(1.6, scale));
            if curve.dashed {
                area.draw(&DashedPathElement::new(
                    pts,
                    (5.0 * scale) as i32,
                    (4.0 * scale) as i32,
                    style,
                ))?;
            } else {
                area.draw(&PathElement::new(pts, style))?;
            }
        }
        Ok(())
    }
}

/// The orange "t = 1" line at x (where Flow A passes pi_T from uniform).
fn draw_t1_mark<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &PlotFrame,
    x: f64,
    scale: f64,
) -> DrawResult<DB> {
    let (mx, _) = frame.to_px(x, frame.y_range.0);
    area.draw(&PathElement::new(
        vec![px((mx, frame.top)), px((mx, frame.top + frame.height))],
        ShapeStyle::from(&RGBColor(255, 170, 0)).stroke_width(lw(1.0, scale)),
    ))?;
    area.draw(&Text::new(
        "t = 1",
        px((mx + 3.0 * scale, frame.top + 2.0 * scale)),
        anchored(
            font(10.5, scale).color(&text_colour(&RGBColor(200, 120, 0))),
            HPos::Left,
            VPos::Top,
        ),
    ))?;
    Ok(())
}

/// A diagnostic read from a sample (`None`: not defined for this run).
type Extract = fn(&Sample) -> Option<f64>;

/// What the series panel plots: which runs, against which time axis.
struct SeriesData<'a> {
    scene: &'a Scene,
    over_t: bool,
    overlay: bool,
    /// (panel index, run): all overlay runs, otherwise the first start of each panel.
    runs: Vec<(usize, &'a RunView)>,
}

impl<'a> SeriesData<'a> {
    fn new(scene: &'a Scene) -> SeriesData<'a> {
        let overlay = scene.state.overlay.is_some();
        let runs = scene
            .panels
            .iter()
            .enumerate()
            .flat_map(|(pi, panel)| {
                let take = if overlay { panel.runs.len() } else { 1 };
                panel.runs.iter().take(take).map(move |r| (pi, r))
            })
            .collect();
        SeriesData {
            scene,
            over_t: scene.state.x_axis == XAxis::TimeOverT,
            overlay,
            runs,
        }
    }

    /// The x coordinate of a sample of a run at temperature `temp`: t, or t/T.
    fn x_of(&self, sample: &Sample, temp: f64) -> f64 {
        if self.over_t {
            sample.t / temp
        } else {
            sample.t
        }
    }

    /// The largest x over every run of every panel (1 if none is positive).
    fn x_max(&self) -> f64 {
        let mut x_max: f64 = 0.0;
        for panel in &self.scene.panels {
            for view in &panel.runs {
                if let Some(last) = view.run.samples().last() {
                    x_max = x_max.max(self.x_of(last, view.temp));
                }
            }
        }
        if x_max.is_nan() || x_max <= 0.0 {
            x_max = 1.0;
        }
        x_max
    }

    /// The cursor: x of the first plotted run at scrub position `at`.
    fn cursor(&self, at: f64) -> Option<f64> {
        self.runs.first().and_then(|(_, r)| {
            let samples = r.run.samples();
            samples
                .get(sample_index(samples.len(), at))
                .map(|s| self.x_of(s, r.temp))
        })
    }

    /// The three diagnostics below the probabilities: the conserved quantity replaces the
    /// entropy when some run has one.
    fn metrics(&self) -> [(&'static str, Extract); 3] {
        let has_conserved = self.scene.panels.iter().any(|p| {
            p.runs.iter().any(|r| {
                r.run
                    .samples()
                    .first()
                    .is_some_and(|s| s.diag.conserved.is_some())
            })
        });
        [
            ("free energy F = <p,s> + T·H", |s| Some(s.diag.free_energy)),
            (
                if has_conserved {
                    "Σ q·log p (conserved for A with antisymmetric W)"
                } else {
                    "entropy H(p)"
                },
                if has_conserved {
                    |s| s.diag.conserved
                } else {
                    |s| Some(s.diag.entropy)
                },
            ),
            ("KL(p ‖ target)", |s| Some(s.diag.kl_to_target)),
        ]
    }

    /// Legend strip entries: which line style is which flow, which colour is which run.
    fn legend(&self) -> Vec<(String, RGBColor)> {
        let scene = self.scene;
        let mut legend: Vec<(String, RGBColor)> = Vec::new();
        if scene.panels.len() == 2 {
            legend.push(("solid: Flow A, dashed: Flow C".into(), MUTED));
        }
        if self.overlay {
            for view in scene
                .panels
                .first()
                .map(|p| p.runs.iter())
                .into_iter()
                .flatten()
            {
                legend.push((format!("■ {}", view.name), run_colour(view.colour)));
            }
        } else if let Some(view) = scene.panels.first().and_then(|p| p.runs.first()) {
            legend.push((
                format!("curves of {} (■)", view.name),
                run_colour(view.colour),
            ));
            // Which colour is which token: an exported series figure names them itself.
            let plotted = scene.v.min(3);
            for (slot, label) in scene.corner_labels.iter().enumerate().take(plotted) {
                legend.push((format!("— {label}"), CORNER_COLOURS[slot]));
            }
            if scene.v > 3 {
                legend.push((format!("— other {}", scene.v - 3), CORNER_COLOURS[3]));
            }
        }
        legend
    }

    /// Flow C (the second panel of a comparison) is dashed.
    fn dashed(panel_index: usize) -> bool {
        panel_index == 1
    }

    /// Probabilities: per token (corner colours) for the primary run; one per run when overlaying.
    fn probability_curves(&self) -> Vec<Curve> {
        let mut curves = Vec::new();
        for (panel_index, view) in &self.runs {
            let samples = view.run.samples();
            let slots: Vec<usize> = if self.overlay {
                vec![0]
            } else if self.scene.v == 2 {
                vec![0, 1]
            } else if self.scene.v == 3 {
                vec![0, 1, 2]
            } else {
                vec![0, 1, 2, 3]
            };
            for slot in slots {
                curves.push(Curve {
                    points: samples
                        .iter()
                        .map(|s| (self.x_of(s, view.temp), s.lumped[slot]))
                        .collect(),
                    colour: if self.overlay {
                        run_colour(view.colour)
                    } else {
                        CORNER_COLOURS[slot]
                    },
                    dashed: Self::dashed(*panel_index),
                });
            }
        }
        curves
    }

    fn probability_title(&self) -> String {
        if self.overlay {
            format!("p({}) per run", self.scene.corner_labels[0])
        } else {
            "probabilities p_i(t), coloured by token".to_string()
        }
    }

    /// One curve per plotted run of the diagnostic `extract`.
    fn metric_curves(&self, extract: Extract) -> Vec<Curve> {
        let mut curves = Vec::new();
        for (panel_index, view) in &self.runs {
            let points: Vec<(f64, f64)> = view
                .run
                .samples()
                .iter()
                .filter_map(|s| extract(s).map(|y| (self.x_of(s, view.temp), y)))
                .collect();
            curves.push(Curve {
                points,
                colour: run_colour(view.colour),
                dashed: Self::dashed(*panel_index),
            });
        }
        curves
    }
}

/// Grid of the series panel: a legend strip on top, then up to four plots in one or two columns.
struct SeriesGrid {
    columns: usize,
    legend_h: f64,
    cells: usize,
    cell_w: f64,
    cell_h: f64,
}

impl SeriesGrid {
    /// `legend_h`: the height of the legend strip above the plots.
    fn new(width: f64, height: f64, legend_h: f64, scale: f64) -> SeriesGrid {
        let columns = if width >= 560.0 * scale { 2 } else { 1 };
        // Small figures (embeds) show fewer, readable plots rather than four squashed ones; the
        // probabilities come first.
        let min_cell_h = 110.0 * scale;
        let fit_rows = (((height - legend_h) / min_cell_h).floor() as usize).max(1);
        let cells = (fit_rows * columns).min(4);
        let rows = cells.div_ceil(columns);
        SeriesGrid {
            columns,
            legend_h,
            cells,
            cell_w: width / columns as f64,
            cell_h: (height - legend_h) / rows as f64,
        }
    }

    /// (left, top, width, height) of plot `cell`.
    fn rect(&self, cell: usize) -> (f64, f64, f64, f64) {
        (
            (cell % self.columns) as f64 * self.cell_w,
            self.legend_h + (cell / self.columns) as f64 * self.cell_h,
            self.cell_w,
            self.cell_h,
        )
    }
}

/// The time-series panel: probabilities, free energy, entropy (or the conserved quantity) and KL.
pub fn draw_series<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    at: f64,
    scale: f64,
) -> DrawResult<DB> {
    area.fill(&BACKGROUND)?;
    let (width, height) = area.dim_in_pixel();
    let data = SeriesData::new(scene);
    let legend_h = draw_legend(
        area,
        &data.legend(),
        (6.0 * scale, 3.0 * scale, width as f64 - 4.0 * scale),
        10.5,
        scale,
    )?;
    let grid = SeriesGrid::new(
        width as f64,
        height as f64,
        (legend_h + 3.0 * scale).max(18.0 * scale),
        scale,
    );
    let metrics = data.metrics();
    let x_range = (0.0, data.x_max());
    let x_label = if data.over_t { "t / T" } else { "t" };
    let mark_x = if data.over_t { None } else { Some(1.0) };
    let cursor_x = data.cursor(at);
    for cell in 0..grid.cells {
        let (title, curves, fixed_y) = if cell == 0 {
            let curves = data.probability_curves();
            (data.probability_title(), curves, Some((0.0, 1.0)))
        } else {
            let (title, extract) = metrics[cell - 1];
            (title.to_string(), data.metric_curves(extract), None)
        };
        Plot {
            rect: grid.rect(cell),
            title: &title,
            x_label,
            curves: &curves,
            x_range,
            fixed_y,
            mark_x,
            cursor_x,
        }
        .draw(area, scale)?;
    }
    Ok(())
}

/// Geometry of the logits editor: which bar is where, and logit <-> pixel height.
#[derive(Clone, Debug)]
pub struct LogitsFrame {
    pub left: f64,
    pub bar_width: f64,
    pub baseline: f64,
    pub top: f64,
    pub bottom: f64,
    pub range: (f64, f64),
    /// Token index of each drawn bar, left to right.
    pub tokens: Vec<usize>,
}

/// Most bars drawn; larger vocabularies show their highest logits.
pub const MAX_BARS: usize = 24;

impl LogitsFrame {
    pub fn fit(scene: &Scene, width: f64, height: f64, scale: f64) -> LogitsFrame {
        Self::fit_holding(scene, width, height, scale, None)
    }

    /// [`LogitsFrame::fit`], keeping the value range `hold` (from, to) when it is given and
    /// finite: while a bar is dragged the axis stays as it was when the press began, so the
    /// pointer maps to the same value on the way up and back (re-fitted on release).
    pub fn fit_holding(
        scene: &Scene,
        width: f64,
        height: f64,
        scale: f64,
        hold: Option<(f64, f64)>,
    ) -> LogitsFrame {
        let v = scene.v;
        let tokens: Vec<usize> = if v <= MAX_BARS {
            (0..v).collect()
        } else {
            scene.top_logits(MAX_BARS)
        };
        let lo = tokens.iter().map(|&i| scene.s[i]).fold(0.0f64, f64::min);
        let hi = tokens.iter().map(|&i| scene.s[i]).fold(0.0f64, f64::max);
        // Leave headroom so a bar can be dragged beyond the current extremes.
        let span = (hi - lo).max(1.0);
        let range = match hold {
            Some((from, to)) if from.is_finite() && to.is_finite() && from < to => (from, to),
            _ => (lo - 0.25 * span, hi + 0.25 * span),
        };
        let left = 40.0 * scale;
        let bar_width = ((width - left - 8.0 * scale) / tokens.len().max(1) as f64).max(4.0);
        let top = 22.0 * scale;
        let bottom = height - 34.0 * scale;
        let mut frame = LogitsFrame {
            left,
            bar_width,
            baseline: 0.0,
            top,
            bottom,
            range,
            tokens,
        };
        frame.baseline = frame.y_of(0.0);
        frame
    }

    pub fn y_of(&self, value: f64) -> f64 {
        let f = (value - self.range.0) / (self.range.1 - self.range.0);
        self.bottom - f * (self.bottom - self.top)
    }

    /// The value at pixel height y, clamped to the axis (a pointer above the chart means its top).
    pub fn value_of(&self, y: f64) -> f64 {
        let f = ((self.bottom - y) / (self.bottom - self.top)).clamp(0.0, 1.0);
        self.range.0 + f * (self.range.1 - self.range.0)
    }

    /// Token under pixel x, if any.
    pub fn token_at(&self, x: f64) -> Option<usize> {
        if x < self.left {
            return None;
        }
        let slot = ((x - self.left) / self.bar_width) as usize;
        self.tokens.get(slot).copied()
    }
}

/// A bar's s and π in the longest form that fits under it (neighbours' values never touch).
fn bar_values(scene: &Scene, token: usize, bar_width: f64, scale: f64) -> Option<String> {
    let pi = format!("{:.3}", scene.pi_t[token]);
    [
        format!("s={}  π={pi}", tick_text(scene.s[token])),
        format!("π={pi}"),
        pi.clone(),
    ]
    .into_iter()
    .find(|t| text_width(t, 9.5, scale) <= bar_width - 2.0 * scale)
}

/// The logits chart's title in the longest form that fits `width`.
fn logits_title(scene: &Scene, width: f64, scale: f64) -> String {
    let fits = |t: &String| text_width(t, 11.5, scale) <= width - 10.0 * scale;
    if scene.v > MAX_BARS {
        // Typed logits stay editable (drag a bar); generated ones and a real model's are not.
        let source = if scene.whole.is_some() {
            " (a real model's, read-only)"
        } else if scene.state.gen != crate::params::GenMode::None {
            " (generated, read-only)"
        } else {
            ""
        };
        let full = format!(
            "logits s: the {} highest of V = {}{source}",
            MAX_BARS, scene.v
        );
        let short = format!("logits s: the {} highest of V = {}", MAX_BARS, scene.v);
        if fits(&full) {
            full
        } else if fits(&short) {
            short
        } else {
            format!("{} highest of V = {}", MAX_BARS, scene.v)
        }
    } else {
        // The instructions where they fit (the page's hint repeats them).
        [
            "logits s (drag a bar, or focus the chart: ←/→ pick, ↑/↓ change) · π = softmax(s/T)",
            "logits s (drag a bar) · π = softmax(s/T)",
            "logits s · π = softmax(s/T)",
        ]
        .into_iter()
        .find(|t| text_width(t, 11.5, scale) <= width - 10.0 * scale)
        .unwrap_or("logits s")
        .to_string()
    }
}

/// The logits editor: one bar per token (s_i), π_T as a thin marker, face members highlighted.
/// `hold`: the value range kept during a drag (see [`LogitsFrame::fit_holding`]).
pub fn draw_logits<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    selected: Option<usize>,
    scale: f64,
    hold: Option<(f64, f64)>,
) -> DrawResult<DB> {
    area.fill(&BACKGROUND)?;
    let (width, height) = area.dim_in_pixel();
    let frame = LogitsFrame::fit_holding(scene, width as f64, height as f64, scale, hold);
    let lw = |w: f64| ((w * scale).round() as u32).max(1);
    let title = logits_title(scene, width as f64, scale);
    area.draw(&Text::new(
        title,
        px((6.0 * scale, 4.0 * scale)),
        anchored(font(11.5, scale), HPos::Left, VPos::Top),
    ))?;
    for y in nice_ticks(frame.range.0, frame.range.1, 4) {
        let py = frame.y_of(y);
        area.draw(&PathElement::new(
            vec![px((frame.left, py)), px((width as f64, py))],
            ShapeStyle::from(&GRID).stroke_width(lw(1.0)),
        ))?;
        area.draw(&Text::new(
            tick_text(y),
            px((frame.left - 4.0 * scale, py)),
            anchored(font(10.0, scale).color(&MUTED), HPos::Right, VPos::Center),
        ))?;
    }
    for (slot, &token) in frame.tokens.iter().enumerate() {
        let x0 = frame.left + slot as f64 * frame.bar_width + frame.bar_width * 0.15;
        let x1 = frame.left + (slot + 1) as f64 * frame.bar_width - frame.bar_width * 0.15;
        let y = frame.y_of(scene.s[token]);
        let corner = scene
            .corners
            .iter()
            .position(|&c| c == token)
            .filter(|&k| scene.v > 2 || k < 2);
        let colour = match corner {
            Some(k) => CORNER_COLOURS[k],
            None => CORNER_COLOURS[3],
        };
        // The support is sorted (td_flows::truncation::support): no linear scan per bar.
        let in_face = scene.support.binary_search(&token).is_ok();
        let style = if in_face {
            colour.filled()
        } else {
            colour.mix(0.3).filled()
        };
        let (ya, yb) = if y < frame.baseline {
            (y, frame.baseline)
        } else {
            (frame.baseline, y)
        };
        area.draw(&Rectangle::new(
            [px((x0, ya)), px((x1, yb.max(ya + 1.0)))],
            style,
        ))?;
        if selected == Some(token) {
            area.draw(&Rectangle::new(
                [
                    px((x0 - 2.0 * scale, ya - 2.0 * scale)),
                    px((x1 + 2.0 * scale, yb + 2.0 * scale)),
                ],
                ShapeStyle::from(&INK).stroke_width(lw(2.0)),
            ))?;
        }
        let centre = (x0 + x1) / 2.0;
        if frame.bar_width >= 18.0 * scale {
            let mut label = scene.label(token);
            let max_chars = ((frame.bar_width / (6.5 * scale)) as usize).max(2);
            if label.chars().count() > max_chars {
                label = label.chars().take(max_chars - 1).collect::<String>() + "…";
            }
            area.draw(&Text::new(
                label,
                px((centre, frame.bottom + 4.0 * scale)),
                anchored(
                    font(10.5, scale).color(&text_colour(&colour)),
                    HPos::Center,
                    VPos::Top,
                ),
            ))?;
            if let Some(text) = bar_values(scene, token, frame.bar_width, scale) {
                area.draw(&Text::new(
                    text,
                    px((centre, frame.bottom + 17.0 * scale)),
                    anchored(font(9.5, scale).color(&MUTED), HPos::Center, VPos::Top),
                ))?;
            }
        }
    }
    area.draw(&PathElement::new(
        vec![
            px((frame.left, frame.baseline)),
            px((width as f64, frame.baseline)),
        ],
        ShapeStyle::from(&MUTED).stroke_width(lw(1.0)),
    ))?;
    Ok(())
}
