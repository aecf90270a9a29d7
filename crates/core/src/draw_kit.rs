//! Drawing helpers every explorer shares: the chrome's colours, fonts (the 1.24 convention of
//! plotters' text backends), anchored text, pixel rounding that never lets NaN reach a backend,
//! line widths, star markers, and legend wrapping by estimated (never measured) text widths, so
//! canvas, SVG and native renders agree.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub const INK: RGBColor = RGBColor(34, 34, 34);
pub const MUTED: RGBColor = RGBColor(110, 110, 110);
pub const GRID: RGBColor = RGBColor(225, 225, 225);
pub const BACKGROUND: RGBColor = RGBColor(255, 255, 255);

/// WCAG 2 relative luminance of an sRGB colour.
pub fn luminance(c: &RGBColor) -> f64 {
    let channel = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(c.0) + 0.7152 * channel(c.1) + 0.0722 * channel(c.2)
}

/// WCAG 2 contrast ratio of two colours (1 to 21).
pub fn contrast_ratio(a: &RGBColor, b: &RGBColor) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The contrast every figure's text keeps against [`BACKGROUND`] (WCAG AA for normal text, with a
/// little room for rounding).
pub const TEXT_CONTRAST: f64 = 4.6;

/// `colour` for text: the same hue darkened just enough to read at [`TEXT_CONTRAST`] on the
/// figure's background. Series keep their bright colour for lines and marks; their labels use this.
pub fn text_colour(colour: &RGBColor) -> RGBColor {
    // Darkening by 2% steps: the first step (k = 0 … 50) that reads. Luminance falls as k grows,
    // so a bisection finds it in six contrast evaluations instead of up to fifty (this runs for
    // every coloured label of every paint).
    let darkened = |k: u32| {
        let factor = 1.0 - 0.02 * f64::from(k);
        let scaled = |v: u8| (f64::from(v) * factor).round() as u8;
        RGBColor(scaled(colour.0), scaled(colour.1), scaled(colour.2))
    };
    let reads = |k: u32| contrast_ratio(&darkened(k), &BACKGROUND) >= TEXT_CONTRAST;
    let (mut low, mut high) = (0, 50);
    if reads(low) {
        return *colour;
    }
    // Invariant: !reads(low); reads(high) or high = 50 (black, the darkest there is).
    while high - low > 1 {
        let mid = (low + high) / 2;
        if reads(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    darkened(high)
}

/// A font of `size` CSS pixels at pixel ratio `scale`. plotters' SVG backend (and our canvas
/// backend) render `size / 1.24`, hence the factor.
pub fn font(size: f64, scale: f64) -> TextStyle<'static> {
    // The family as a value, not the text "sans-serif": parsing a family name lower-cases it with
    // the Unicode tables (about 4 KB of each page's WebAssembly for one constant).
    (FontFamily::SansSerif, (size * scale * 1.24).max(1.0))
        .into_font()
        .color(&INK)
}

pub fn anchored(style: TextStyle<'_>, h: HPos, v: VPos) -> TextStyle<'_> {
    style.pos(Pos::new(h, v))
}

/// Pixel coordinates for a backend: rounded, clamped, and never NaN (a non-finite value lands far
/// outside the picture instead).
pub fn px(p: (f64, f64)) -> (i32, i32) {
    let f = |v: f64| {
        if v.is_finite() {
            v.clamp(-1e7, 1e7).round() as i32
        } else {
            -100_000
        }
    };
    (f(p.0), f(p.1))
}

/// A line width of `width` CSS pixels, at least one device pixel.
pub fn lw(width: f64, scale: f64) -> u32 {
    ((width * scale).round() as u32).max(1)
}

/// The ten corners of a five-pointed star (inner radius 0.45), pointing up.
pub fn star_points(centre: (f64, f64), radius: f64) -> Vec<(i32, i32)> {
    (0..10)
        .map(|i| {
            let r = if i % 2 == 0 { radius } else { radius * 0.45 };
            let angle = -std::f64::consts::FRAC_PI_2 + i as f64 * std::f64::consts::PI / 5.0;
            px((centre.0 + r * angle.cos(), centre.1 + r * angle.sin()))
        })
        .collect()
}

/// Joins legend items into lines of at most `(width - 16·scale) / char_width` characters (at least
/// `min_chars`), three spaces between items. An item longer than a line is broken between words
/// (a word longer than a line is cut with an ellipsis), so no line runs past the figure's edge.
pub fn wrap_items<S: AsRef<str>>(
    items: &[S],
    width: f64,
    char_width: f64,
    min_chars: usize,
    scale: f64,
) -> Vec<String> {
    let max_chars = ((width - 16.0 * scale) / char_width).max(min_chars as f64) as usize;
    let mut lines: Vec<String> = Vec::new();
    for item in items {
        let item = item.as_ref();
        match lines.last_mut() {
            Some(last) if last.chars().count() + 3 + item.chars().count() <= max_chars => {
                last.push_str("   ");
                last.push_str(item);
            }
            _ => lines.extend(word_wrap(item, max_chars.max(2))),
        }
    }
    lines
}

/// `text` in lines of at most `max_chars` characters, broken at spaces (a longer word is cut with
/// an ellipsis).
pub fn word_wrap(text: &str, max_chars: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let word: String = if word.chars().count() > max_chars {
            word.chars().take(max_chars - 1).chain(['…']).collect()
        } else {
            word.to_string()
        };
        if current.is_empty() {
            current = word;
        } else if current.chars().count() + 1 + word.chars().count() <= max_chars {
            current.push(' ');
            current.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut current, word));
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// Text cut to about `max_px` pixels (widths estimated, never measured: every backend agrees).
pub fn fit_text(text: &str, max_px: f64, size: f64, scale: f64) -> String {
    let per_char = 0.56 * size * scale;
    let max_chars = (max_px / per_char).floor().max(4.0) as usize;
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        text.chars().take(max_chars - 1).collect::<String>() + "…"
    }
}

/// Estimated width in pixels of `text` at `size` CSS pixels (the drawing code's own estimate: text
/// is never measured, so canvas, SVG and native renders lay out alike).
pub fn text_width(text: &str, size: f64, scale: f64) -> f64 {
    0.58 * size * scale * text.chars().count() as f64
}

/// Legend items laid out left to right from `x0`: an item that would pass `right` starts a new
/// line, and an item wider than a whole line is shortened with an ellipsis. Returns each item's
/// text (perhaps shortened), its x and its line (0 = first).
pub fn legend_layout<S: AsRef<str>>(
    items: &[S],
    x0: f64,
    right: f64,
    size: f64,
    scale: f64,
) -> Vec<(String, f64, usize)> {
    let gap = 14.0 * scale;
    let line_width = (right - x0).max(1.0);
    let (mut x, mut line) = (x0, 0);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut text = item.as_ref().to_string();
        if x > x0 && x + text_width(&text, size, scale) > right {
            x = x0;
            line += 1;
        }
        if text_width(&text, size, scale) > line_width {
            text = fit_text(&text, line_width, size * 0.58 / 0.56, scale);
        }
        let width = text_width(&text, size, scale);
        out.push((text, x, line));
        x += width + gap;
    }
    out
}

/// Draws a legend laid out by [`legend_layout`] with its top at `y0`, each item in its colour
/// made readable ([`text_colour`]); returns the height it took (lines × line height).
pub fn draw_legend<DB: DrawingBackend, S: AsRef<str>>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    items: &[(S, RGBColor)],
    (x0, y0, right): (f64, f64, f64),
    size: f64,
    scale: f64,
) -> Result<f64, DrawingAreaErrorKind<DB::ErrorType>> {
    let texts: Vec<&str> = items.iter().map(|(t, _)| t.as_ref()).collect();
    let line_height = (size * 1.4).round() * scale;
    let mut lines = 0;
    for ((text, x, line), (_, colour)) in legend_layout(&texts, x0, right, size, scale)
        .into_iter()
        .zip(items)
    {
        area.draw(&Text::new(
            text,
            px((x, y0 + line as f64 * line_height)),
            anchored(
                font(size, scale).color(&text_colour(colour)),
                HPos::Left,
                VPos::Top,
            ),
        ))?;
        lines = lines.max(line + 1);
    }
    Ok(lines as f64 * line_height)
}

/// Tick label with as many decimals as the tick step needs.
pub fn tick_text(x: f64, step: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    if x == 0.0 || x.abs() < step.abs() * 1e-9 {
        return "0".into();
    }
    if x.abs() >= 1e7 || x.abs() < 1e-4 {
        return format!("{x:.2e}");
    }
    let decimals = if step > 0.0 && step.is_finite() {
        ((-step.log10()).ceil().max(0.0) as usize + 1).min(12)
    } else {
        3
    };
    let text = format!("{x:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

/// "Nice" tick positions covering [lo, hi].
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut ticks = Vec::new();
    let mut x = (lo / step).ceil() * step;
    while x <= hi + step * 1e-9 && ticks.len() < 50 {
        ticks.push(if x.abs() < step * 1e-9 { 0.0 } else { x });
        x += step;
    }
    ticks
}
