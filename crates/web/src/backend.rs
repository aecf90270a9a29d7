//! One drawing backend type for the page: the canvas (painting) or plotters' SVG backend (the
//! SVG export). The drawing code is generic over `DrawingBackend`; in the page it is compiled
//! once, for this type, instead of once per backend (the drawing functions are the largest code
//! in the module: measured with twiggy, compiling them twice cost about 10 KB gzip per page).
//! Every method delegates to the backend inside, so the output is exactly that backend's: the
//! SVG export stays byte-identical to the native renderer's.

use plotters::prelude::*;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use crate::canvas::BatchedCanvas;

/// The page's drawing backend.
pub enum PageBackend<'a> {
    Canvas(BatchedCanvas),
    Svg(SVGBackend<'a>),
}

/// A drawing failure of either backend, as text.
#[derive(Debug)]
pub struct PageError(String);

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PageError {}

fn convert<E: std::error::Error + Send + Sync>(
    error: DrawingErrorKind<E>,
) -> DrawingErrorKind<PageError> {
    match error {
        DrawingErrorKind::DrawingError(e) => {
            DrawingErrorKind::DrawingError(PageError(e.to_string()))
        }
        DrawingErrorKind::FontError(e) => DrawingErrorKind::FontError(e),
    }
}

type Result = std::result::Result<(), DrawingErrorKind<PageError>>;

/// Calls the same method on whichever backend is inside, converting its error.
macro_rules! delegate {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            PageBackend::Canvas($b) => $call.map_err(convert),
            PageBackend::Svg($b) => $call.map_err(convert),
        }
    };
}

impl DrawingBackend for PageBackend<'_> {
    type ErrorType = PageError;

    fn get_size(&self) -> (u32, u32) {
        match self {
            PageBackend::Canvas(b) => b.get_size(),
            PageBackend::Svg(b) => b.get_size(),
        }
    }
    fn ensure_prepared(&mut self) -> Result {
        delegate!(self, b => b.ensure_prepared())
    }
    fn present(&mut self) -> Result {
        delegate!(self, b => b.present())
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result {
        delegate!(self, b => b.draw_pixel(point, color))
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result {
        delegate!(self, b => b.draw_line(from, to, style))
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result {
        delegate!(self, b => b.draw_rect(upper_left, bottom_right, style, fill))
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result {
        delegate!(self, b => b.draw_path(path, style))
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result {
        delegate!(self, b => b.draw_circle(center, radius, style, fill))
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result {
        delegate!(self, b => b.fill_polygon(vert, style))
    }
    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result {
        delegate!(self, b => b.draw_text(text, style, pos))
    }
    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<PageError>> {
        match self {
            PageBackend::Canvas(b) => b.estimate_text_size(text, style).map_err(convert),
            PageBackend::Svg(b) => b.estimate_text_size(text, style).map_err(convert),
        }
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Result {
        delegate!(self, b => b.blit_bitmap(pos, size, src))
    }
}
