//! What frames a particle panel: the grid and ticks (d <= 2), the box and triad (d >= 3), and the
//! dominance cells of the hull vertices (d = 2).

use super::*;

/// Grid, ticks and tick labels of a d <= 2 panel.
pub(super) fn draw_axes<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &ParticleFrame,
    scale: f64,
) -> DrawResult<DB> {
    let (l, t, wd, ht) = (frame.left, frame.top, frame.width, frame.height);
    // About one tick label per 45 px, so narrow panels (three side by side) keep them apart.
    let x_count = ((wd / (45.0 * scale)).floor() as usize).clamp(2, 5);
    let x_ticks = nice_ticks(frame.x_range.0, frame.x_range.1, x_count);
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

/// d >= 3: the wireframe of the initial points' bounding box (in the drawn coordinates).
pub(super) fn draw_box_3d<DB: DrawingBackend>(
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
pub(super) fn draw_triad<DB: DrawingBackend>(
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
pub(super) fn draw_cells<DB: DrawingBackend>(
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
