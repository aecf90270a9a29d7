//! [`ParticleFrame`]: where a particle panel's data lands in pixels (and back, for clicks), for
//! d = 1 (space-time), d = 2 (the plane) and d >= 3 (a rotatable orthographic view).

use super::*;

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
    pub(super) rot: [[f64; 3]; 2],
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
        Self::fit_holding(scene, panel, width_px, height_px, scale, None)
    }

    /// [`ParticleFrame::fit`], except that a d = 2 plane in R^d shows the data window `hold`
    /// (x from, x to, y from, y to: the ranges of the frame the drag began in) when it is given
    /// and finite, so that moving or adding a token does not re-fit the axes under the pointer.
    pub fn fit_holding(
        scene: &Scene,
        panel: usize,
        width_px: f64,
        height_px: f64,
        scale: f64,
        hold: Option<[f64; 4]>,
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
        // A panel narrower than about 30 characters (three side by side on a phone) has no room for
        // a legend: the full-size figure and its export carry it.
        let legend = if height_px < LEGEND_MIN_HEIGHT * scale || width_px < 200.0 * scale {
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
        let hold = hold.filter(|h| h.iter().all(|v| v.is_finite()) && h[0] < h[1] && h[2] < h[3]);
        match (d, hold) {
            (2, Some([x_lo, x_hi, y_lo, y_hi])) if !st.on_sphere() => {
                frame.x_range = (x_lo, x_hi);
                frame.y_range = (y_lo, y_hi);
                return frame;
            }
            _ => {}
        }
        match d {
            1 => frame.fit_space_time(x0, st.steps),
            // On the sphere the whole circle / sphere is in view (tokens stay on it).
            2 if st.on_sphere() => frame.fit_plane(&[-1.0, -1.0, 1.0, 1.0]),
            3 if st.on_sphere() => frame.fit_view(&[-1.0, 0.0, 0.0, 1.0, 0.0, 0.0]),
            2 => frame.fit_plane(x0),
            _ => frame.fit_view(x0),
        }
        frame
    }

    /// d = 1: the initial coordinates across, steps 0..=steps downwards.
    pub(super) fn fit_space_time(&mut self, x0: &[f64], steps: usize) {
        let (lo, hi) = padded(x0.iter().copied());
        self.x_range = (lo, hi);
        self.y_range = (0.0, steps.max(1) as f64);
    }

    /// d = 2: the initial points with equal aspect (one unit is the same number of pixels across
    /// and up), centred.
    pub(super) fn fit_plane(&mut self, x0: &[f64]) {
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
    pub(super) fn fit_view(&mut self, x0: &[f64]) {
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
    pub(super) fn coords3(&self, p: &[f64]) -> [f64; 3] {
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
    pub(super) fn view(&self, q: [f64; 3]) -> (f64, f64) {
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
