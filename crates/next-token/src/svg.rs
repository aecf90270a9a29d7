//! Whole-figure SVG export through plotters' SVG backend: the same drawing code as the canvases.

use plotters::prelude::*;

use super::draw;
use super::scene::Scene;

/// Which figure of the explorer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    Simplex,
    Series,
    Logits,
}

impl Figure {
    pub fn parse(name: &str) -> Option<Figure> {
        match name {
            "simplex" => Some(Figure::Simplex),
            "series" => Some(Figure::Series),
            "logits" => Some(Figure::Logits),
            _ => None,
        }
    }
    /// Default export size in CSS pixels.
    pub fn default_size(self, panels: usize) -> (u32, u32) {
        match self {
            Figure::Simplex => (440 * panels.max(1) as u32, 420),
            Figure::Series => (720, 460),
            Figure::Logits => (720, 220),
        }
    }
}

/// Renders one figure of the scene as an SVG document.
pub fn render_svg(scene: &Scene, figure: Figure, size: (u32, u32), at: f64) -> String {
    let mut out = String::new();
    let mut failure = None;
    {
        let backend = SVGBackend::with_string(&mut out, size);
        let root = backend.into_drawing_area();
        let result = match figure {
            Figure::Simplex => {
                let panels = root.split_evenly((1, scene.panels.len().max(1)));
                panels
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, area)| draw::draw_simplex(area, scene, i, at, 1.0))
            }
            Figure::Series => draw::draw_series(&root, scene, at, 1.0),
            Figure::Logits => draw::draw_logits(&root, scene, None, 1.0, None),
        };
        // Drawing into a String cannot fail for I/O reasons; a failure would be a bug worth seeing.
        if let Err(error) = result.and_then(|_| root.present()) {
            failure = Some(format!("<!-- drawing failed: {error:?} -->"));
        }
    }
    failure.unwrap_or(out)
}
