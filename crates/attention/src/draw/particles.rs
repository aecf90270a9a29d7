//! The particles figure: one panel per rule at a step (positions, trails, hulls, leaders,
//! quiescent sets, attention arrows).

use super::axes::{draw_axes, draw_box_3d, draw_cells, draw_triad};
use super::*;

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
/// `hold`: the data window to keep (d = 2, during a drag; see `View::hold`).
pub fn draw_particles<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    panel: usize,
    at: f64,
    scale: f64,
    hold: Option<[f64; 4]>,
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
    let painter = ParticlePainter::new(area, scene, panel, at, (w, h), scale, hold);
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
    if st.on_sphere() && painter.d <= 3 {
        painter.unit_outline()?;
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
        hold: Option<[f64; 4]>,
    ) -> ParticlePainter<'a, DB> {
        let frame = ParticleFrame::fit_holding(scene, panel, size.0, size.1, scale, hold);
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
        let step_text = format!("k = {} / {}", self.k, self.scene.state.steps);
        // The view line keeps clear of the step label on its right (or is left out).
        let room = w - 28.0 * scale - text_width(&step_text, 11.5, scale);
        if !view_text.is_empty() && room >= 60.0 * scale {
            area.draw(&Text::new(
                fit_text(&view_text, room, 10.5, scale),
                px((8.0 * scale, 24.0 * scale)),
                anchored(font(10.5, scale).color(&MUTED), HPos::Left, VPos::Top),
            ))?;
        }
        area.draw(&Text::new(
            step_text,
            px((w - 8.0 * scale, 24.0 * scale)),
            anchored(font(11.5, scale), HPos::Right, VPos::Top),
        ))?;
        if !self.run.finished() {
            area.draw(&Text::new(
                format!("computing… {}%", (self.run.progress() * 100.0).floor()),
                px((w - 8.0 * scale, self.frame.top + 4.0 * scale)),
                anchored(
                    font(11.0, scale).color(&text_colour(&BUSY)),
                    HPos::Right,
                    VPos::Top,
                ),
            ))?;
        }
        Ok(())
    }

    /// What the view shows (empty for the plane).
    /// The unit circle (d = 2) or the unit sphere's silhouette (d = 3) the tokens live on.
    fn unit_outline(&self) -> DrawResult<DB> {
        let frame = &self.frame;
        let points: Vec<(i32, i32)> = (0..=160)
            .map(|t| {
                let a = t as f64 / 160.0 * std::f64::consts::TAU;
                let (c, s) = (a.cos(), a.sin());
                let p = if self.d == 2 {
                    frame.plot_px(c, s)
                } else {
                    let q: [f64; 3] =
                        std::array::from_fn(|r| c * frame.rot[0][r] + s * frame.rot[1][r]);
                    let (x, y) = frame.view(q);
                    frame.plot_px(x, y)
                };
                px(p)
            })
            .collect();
        self.area.draw(&PathElement::new(
            points,
            ShapeStyle::from(&MUTED).stroke_width(lw(1.0, self.scale)),
        ))
    }

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
                        crate::scene::round_sig(
                            crate::scene::pca_share(pca, scene.initial_points(), d) * 100.0,
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
            1 => crate::scene::hull_1d(pts)
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
        let spec = self.run.spec();
        if spec.sphere.is_some() && td_particles::pairwise::is_identity(&spec.a, self.d) {
            // Every token is a leader there (see `State::leaders_trivial`): no stars.
            return Ok(());
        }
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
