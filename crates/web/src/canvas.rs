//! A batching canvas backend on top of plotters-canvas.
//!
//! plotters-canvas strokes every segment with its own beginPath/stroke and re-parses an `rgba(...)`
//! string each time; a simplex with a few hundred field arrows then costs tens of milliseconds in a
//! software-rendered canvas. This wrapper keeps consecutive strokes (and fills) of the same style in
//! one path and flushes it once, so a repaint fits in a 60 Hz frame. Text (and anything else) goes
//! through plotters-canvas itself, with the font size scaled exactly as plotters' SVG backend does,
//! so the canvas and the SVG export show the same figure.

use plotters::prelude::*;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontFamily,
    FontStyle, FontTransform,
};
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// plotters' SVG backend writes `font-size = size / 1.24`; we do the same on canvas.
const SVG_FONT_SCALE: f64 = 1.0 / 1.24;

/// The style of the open path: colour as (r, g, b, alpha bits) so it can be compared exactly.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Batch {
    None,
    Stroke(Rgba, u32),
    Fill(Rgba),
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Rgba(u8, u8, u8, u64);

impl From<BackendColor> for Rgba {
    fn from(c: BackendColor) -> Self {
        Rgba(c.rgb.0, c.rgb.1, c.rgb.2, c.alpha.to_bits())
    }
}

pub struct BatchedCanvas {
    inner: CanvasBackend,
    context: CanvasRenderingContext2d,
    batch: Batch,
    /// Context state last written by us: each setter crosses into JavaScript and re-parses its
    /// string (`font` most of all), so repeats are skipped. `fill` serves shapes and text alike.
    font: String,
    align: &'static str,
    baseline: &'static str,
    fill: Option<Rgba>,
    stroke: Option<(Rgba, u32)>,
}

fn css_colour(colour: Rgba) -> String {
    let Rgba(r, g, b, alpha) = colour;
    format!("rgba({r},{g},{b},{})", f64::from_bits(alpha))
}

impl BatchedCanvas {
    pub fn new(canvas: &HtmlCanvasElement) -> Option<BatchedCanvas> {
        let context = canvas
            .get_context("2d")
            .ok()??
            .dyn_into::<CanvasRenderingContext2d>()
            .ok()?;
        let inner = CanvasBackend::with_canvas_object(canvas.clone())?;
        context.set_line_join("round");
        context.set_line_cap("round");
        Some(BatchedCanvas {
            inner,
            context,
            batch: Batch::None,
            font: String::new(),
            align: "",
            baseline: "",
            fill: None,
            stroke: None,
        })
    }

    fn flush(&mut self) {
        match self.batch {
            Batch::None => {}
            Batch::Stroke(..) => self.context.stroke(),
            Batch::Fill(..) => self.context.fill(),
        }
        self.batch = Batch::None;
    }

    /// Continues the current path when the style is unchanged; otherwise flushes and starts anew.
    fn begin(&mut self, batch: Batch) {
        if self.batch == batch {
            return;
        }
        self.flush();
        self.context.begin_path();
        match batch {
            Batch::Stroke(colour, width) => {
                if self.stroke != Some((colour, width)) {
                    self.context.set_stroke_style_str(&css_colour(colour));
                    self.context.set_line_width(width as f64);
                    self.stroke = Some((colour, width));
                }
            }
            Batch::Fill(colour) => {
                if self.fill != Some(colour) {
                    self.context.set_fill_style_str(&css_colour(colour));
                    self.fill = Some(colour);
                }
            }
            Batch::None => {}
        }
        self.batch = batch;
    }
}

/// A text style with the SVG backend's size convention.
struct ScaledText<'a, S: BackendTextStyle>(&'a S);

impl<S: BackendTextStyle> BackendTextStyle for ScaledText<'_, S> {
    type FontError = S::FontError;
    fn color(&self) -> BackendColor {
        self.0.color()
    }
    fn size(&self) -> f64 {
        self.0.size() * SVG_FONT_SCALE
    }
    fn transform(&self) -> FontTransform {
        self.0.transform()
    }
    fn style(&self) -> FontStyle {
        self.0.style()
    }
    fn anchor(&self) -> plotters_backend::text_anchor::Pos {
        self.0.anchor()
    }
    fn family(&self) -> FontFamily<'_> {
        self.0.family()
    }
    fn layout_box(&self, text: &str) -> Result<((i32, i32), (i32, i32)), Self::FontError> {
        self.0.layout_box(text)
    }
    fn draw<E, F: FnMut(i32, i32, BackendColor) -> Result<(), E>>(
        &self,
        text: &str,
        pos: BackendCoord,
        draw: F,
    ) -> Result<Result<(), E>, Self::FontError> {
        self.0.draw(text, pos, draw)
    }
}

type Error = <CanvasBackend as DrawingBackend>::ErrorType;

impl DrawingBackend for BatchedCanvas {
    type ErrorType = Error;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        self.flush();
        Ok(())
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        colour: BackendColor,
    ) -> Result<(), DrawingErrorKind<Error>> {
        if colour.alpha == 0.0 {
            return Ok(());
        }
        self.begin(Batch::Fill(colour.into()));
        self.context.rect(point.0 as f64, point.1 as f64, 1.0, 1.0);
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.draw_path([from, to], style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Error>> {
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        self.begin(if fill {
            Batch::Fill(colour.into())
        } else {
            Batch::Stroke(colour.into(), style.stroke_width())
        });
        self.context.rect(
            upper_left.0 as f64,
            upper_left.1 as f64,
            (bottom_right.0 - upper_left.0) as f64,
            (bottom_right.1 - upper_left.1) as f64,
        );
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        self.begin(Batch::Stroke(colour.into(), style.stroke_width()));
        let mut points = path.into_iter();
        if let Some(first) = points.next() {
            self.context.move_to(first.0 as f64, first.1 as f64);
            // A converging trajectory puts many consecutive samples on one pixel: a segment of
            // length zero draws nothing, and each call crosses into JavaScript.
            let mut last = first;
            for point in points {
                if point != last {
                    self.context.line_to(point.0 as f64, point.1 as f64);
                    last = point;
                }
            }
        }
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Error>> {
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        self.begin(if fill {
            Batch::Fill(colour.into())
        } else {
            Batch::Stroke(colour.into(), style.stroke_width())
        });
        let (x, y, r) = (center.0 as f64, center.1 as f64, radius as f64);
        self.context.move_to(x + r, y);
        let _ = self.context.arc(x, y, r, 0.0, std::f64::consts::TAU);
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vertices: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        self.begin(Batch::Fill(colour.into()));
        let mut points = vertices.into_iter();
        if let Some(first) = points.next() {
            self.context.move_to(first.0 as f64, first.1 as f64);
            for point in points {
                self.context.line_to(point.0 as f64, point.1 as f64);
            }
            self.context.close_path();
        }
        Ok(())
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Error>> {
        use plotters_backend::text_anchor::{HPos, VPos};
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        if !matches!(style.transform(), FontTransform::None) {
            self.flush();
            return self.inner.draw_text(text, &ScaledText(style), pos);
        }
        self.flush();
        let font = format!(
            "{} {}px {}",
            style.style().as_str(),
            style.size() * SVG_FONT_SCALE,
            style.family().as_str()
        );
        if font != self.font {
            self.context.set_font(&font);
            self.font = font;
        }
        let anchor = style.anchor();
        let align = match anchor.h_pos {
            HPos::Left => "start",
            HPos::Right => "end",
            HPos::Center => "center",
        };
        if align != self.align {
            self.context.set_text_align(align);
            self.align = align;
        }
        let baseline = match anchor.v_pos {
            VPos::Top => "top",
            VPos::Center => "middle",
            VPos::Bottom => "bottom",
        };
        if baseline != self.baseline {
            self.context.set_text_baseline(baseline);
            self.baseline = baseline;
        }
        let fill: Rgba = colour.into();
        if self.fill != Some(fill) {
            self.context.set_fill_style_str(&css_colour(fill));
            self.fill = Some(fill);
        }
        let _ = self.context.fill_text(text, pos.0 as f64, pos.1 as f64);
        Ok(())
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Error>> {
        self.inner.estimate_text_size(text, &ScaledText(style))
    }
}

/// The canvas's border, each side, in CSS pixels (`www/style.css`: canvases are content-box).
const CANVAS_BORDER: f64 = 1.0;

/// Gives a canvas an outer size of `width` × `height` CSS pixels (border included) and a backing
/// store of exactly its content box at the device pixel ratio, so the picture is never resampled.
/// Returns true when the backing store changed (which clears the canvas).
pub fn set_canvas_size(canvas: &HtmlCanvasElement, width: f64, height: f64) -> bool {
    let (width, height) = (
        (width - 2.0 * CANVAS_BORDER).max(1.0),
        (height - 2.0 * CANVAS_BORDER).max(1.0),
    );
    let scale = crate::dom::device_pixel_ratio();
    let (px_w, px_h) = (
        (width * scale).round().max(1.0) as u32,
        (height * scale).round().max(1.0) as u32,
    );
    let style = canvas.style();
    let _ = style.set_property("width", &format!("{width}px"));
    let _ = style.set_property("height", &format!("{height}px"));
    if canvas.width() != px_w || canvas.height() != px_h {
        canvas.set_width(px_w);
        canvas.set_height(px_h);
        true
    } else {
        false
    }
}
