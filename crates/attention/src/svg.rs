//! Whole-figure SVG export through plotters' SVG backend: the same drawing code as the canvases.

use plotters::prelude::*;

use super::draw;
use super::scene::Scene;

/// Which figure of the attention explorer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// Every particle panel, side by side.
    Particles,
    /// Diameter/area/distance (log), clusters, delta(k), asymmetry.
    Plots,
}

impl Figure {
    pub fn parse(name: &str) -> Option<Figure> {
        match name {
            "particles" => Some(Figure::Particles),
            "plots" => Some(Figure::Plots),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Figure::Particles => "particles",
            Figure::Plots => "plots",
        }
    }

    /// Default export size in CSS pixels.
    pub fn default_size(self, panels: usize) -> (u32, u32) {
        match self {
            Figure::Particles => (440 * panels.clamp(1, 3) as u32, 460),
            Figure::Plots => (720, 480),
        }
    }
}

/// Renders one figure of the scene as an SVG document (the particle panels side by side).
pub fn render_svg(scene: &Scene, figure: Figure, size: (u32, u32), at: f64) -> String {
    let mut out = String::new();
    let mut failure = None;
    {
        let backend = SVGBackend::with_string(&mut out, (size.0.max(1), size.1.max(1)));
        let root = backend.into_drawing_area();
        let result = match figure {
            Figure::Particles => {
                let areas = root.split_evenly((1, scene.panels.len().max(1)));
                areas
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, area)| draw::draw_particles(area, scene, i, at, 1.0, None))
            }
            Figure::Plots => draw::draw_plots(&root, scene, at, 1.0),
        };
        // Drawing into a String cannot fail for I/O reasons; a failure would be a bug worth seeing.
        if let Err(error) = result.and_then(|_| root.present()) {
            failure = Some(format!("<!-- drawing failed: {error:?} -->"));
        }
    }
    failure.unwrap_or(out)
}
