//! Whole-figure SVG export through plotters' SVG backend: the same drawing code as the canvases.

use plotters::prelude::*;

use super::draw;
use super::scene::Scene;

/// Which figure of the energy lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    Series,
    Phase,
    Scatter,
    Dist,
}

impl Figure {
    pub const ALL: [Figure; 4] = [Figure::Series, Figure::Phase, Figure::Scatter, Figure::Dist];

    pub fn parse(name: &str) -> Option<Figure> {
        Figure::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Figure::Series => "series",
            Figure::Phase => "phase",
            Figure::Scatter => "scatter",
            Figure::Dist => "dist",
        }
    }

    /// Default export size in CSS pixels.
    pub fn default_size(self) -> (u32, u32) {
        match self {
            Figure::Series => (960, 360),
            Figure::Phase => (960, 400),
            Figure::Scatter => (640, 420),
            Figure::Dist => (640, 320),
        }
    }
}

/// Draws one figure onto an area (pixel ratio `scale`).
pub fn draw_figure<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    scene: &Scene,
    figure: Figure,
    at: f64,
    scale: f64,
) -> draw::DrawResult<DB> {
    match figure {
        Figure::Series => draw::draw_series(area, &scene.panels(), at, scale),
        Figure::Phase => draw::draw_phase(area, &scene.panels(), at, scale),
        Figure::Scatter => draw::draw_scatter(area, &scene.panels(), at, scale),
        Figure::Dist => draw::draw_distribution(area, scene, None, scale),
    }
}

/// Renders one figure of the scene as an SVG document.
pub fn render_svg(scene: &Scene, figure: Figure, size: (u32, u32), at: f64) -> String {
    svg_document(size, |root| draw_figure(root, scene, figure, at, 1.0))
}

/// An SVG document of `size` painted by `paint` (a comment saying why if drawing failed): the
/// lab's figures, and the same figures of a real checkpoint (td_checkpoint::figures).
pub fn svg_document(
    size: (u32, u32),
    paint: impl for<'b> FnOnce(
        &DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    ) -> draw::DrawResult<SVGBackend<'b>>,
) -> String {
    let mut out = String::new();
    let mut failure = None;
    {
        let backend = SVGBackend::with_string(&mut out, (size.0.max(1), size.1.max(1)));
        let root = backend.into_drawing_area();
        if let Err(error) = paint(&root).and_then(|_| root.present()) {
            failure = Some(format!("<!-- drawing failed: {error:?} -->"));
        }
    }
    failure.unwrap_or(out)
}
