//! The energy lab's `series`, `phase` and `scatter` figures of a report: the checkpoint on the
//! left, its random twin on the right, drawn by the lab's own code (td_energy::draw) so the two
//! pictures read the same way. The page's real-model module and `token-dynamics model --figures`
//! both write them as SVG.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use td_core::draw_kit::{anchored, fit_text, font, px, BACKGROUND, INK};
use td_energy::draw::{self, chart, panel_rects, polyline, range_of, Panel, Panels};
use td_energy::svg::svg_document;

use crate::report::{Report, LAB_DEFAULTS};

/// A figure of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    Series,
    Phase,
    Scatter,
    /// The per-layer view (when the report has it): the residual stream's speed entering each
    /// block, and each layer's logit lens.
    Layers,
}

impl Figure {
    pub const ALL: [Figure; 4] = [
        Figure::Series,
        Figure::Phase,
        Figure::Scatter,
        Figure::Layers,
    ];

    pub fn parse(name: &str) -> Option<Figure> {
        Figure::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Figure::Series => "series",
            Figure::Phase => "phase",
            Figure::Scatter => "scatter",
            Figure::Layers => "layers",
        }
    }

    /// What the figure shows, for its caption and its text alternative.
    pub fn caption(self) -> &'static str {
        match self {
            Figure::Series => "K, U and E per position, the model beside its random twin (one energy scale for both)",
            Figure::Phase => "Phase portraits: the hidden state's speed ‖v_t‖ against U_t, tokens joined in order, with iso-energy curves",
            Figure::Scatter => "Consecutive changes ΔK against ΔU of both models; on the line ΔU = −ΔK the energy would be exactly conserved",
            Figure::Layers => "Per layer: the mean speed of the residual stream entering each block, and the logit lens at the last position (each layer's most probable next token and its probability)",
        }
    }

    /// Size for a given width (CSS pixels): two panels side by side from 600 px, one above the
    /// other below that (as the lab's figures); the scatter (one panel) at most 720 px wide.
    pub fn size_for_width(self, width: u32) -> (u32, u32) {
        let width = width.clamp(280, 1600);
        let stacked = width < 600;
        let height = match self {
            Figure::Series | Figure::Phase | Figure::Layers if stacked => 560,
            Figure::Series | Figure::Layers => 360,
            Figure::Phase => 400,
            Figure::Scatter => 420.min(width * 3 / 4 + 60),
        };
        // One cloud of points: wider than the lab's 640 px only spreads it thin.
        let width = if self == Figure::Scatter {
            width.min(720)
        } else {
            width
        };
        (width, height)
    }
}

/// The report's two sides as the lab's figures take them; `name` is the model's title.
pub fn panels<'a>(report: &'a Report, names: &'a [String; 2]) -> Panels<'a> {
    let side = |i: usize| {
        let s = &report.sides[i];
        Ok(Panel {
            title: &names[i],
            series: &s.series,
            speed: &s.speed,
            summary: &s.summary,
        })
    };
    Panels {
        sides: [side(0), side(1)],
        token_count: report.tokens.len(),
        // The position of the next-token table and link, on the model's side.
        cursor: Some((0, report.position)),
        steer: None,
        potential: LAB_DEFAULTS.potential,
        form: LAB_DEFAULTS.form,
    }
}

/// The titles of the two sides: the model's name (its repo id, folder or file name, else its
/// architecture) and "random twin (seed s)".
pub fn names(report: &Report, source: Option<&str>) -> [String; 2] {
    let named = source
        .map(|s| {
            let s = s.trim();
            if let Some(file) = s.strip_prefix("file:") {
                file.rsplit_once('@')
                    .map_or(file, |(name, _)| name)
                    .to_string()
            } else if s.starts_with("http://") || s.starts_with("https://") {
                s.trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or(s)
                    .to_string()
            } else {
                s.to_string()
            }
        })
        .filter(|s| !s.is_empty() && !s.chars().any(char::is_control));
    let mut model = named.unwrap_or_else(|| report.model.architecture.clone());
    if model.chars().count() > 48 {
        model = model.chars().take(47).chain(['…']).collect();
    }
    [model, format!("random twin (seed {})", report.twin_seed)]
}

/// The figures this report has: the per-layer view only when it was asked for.
pub fn figures_of(report: &Report) -> Vec<Figure> {
    Figure::ALL
        .into_iter()
        .filter(|&f| f != Figure::Layers || report.layers.is_some())
        .collect()
}

/// One figure of the report as an SVG document of `size` CSS pixels (the per-layer figure of a
/// report without layers says so).
pub fn render_svg(
    report: &Report,
    names: &[String; 2],
    figure: Figure,
    size: (u32, u32),
) -> String {
    let panels = panels(report, names);
    svg_document(size, |root| match figure {
        Figure::Series => draw::draw_series(root, &panels, 1.0, 1.0),
        Figure::Phase => draw::draw_phase(root, &panels, 1.0, 1.0),
        Figure::Scatter => draw::draw_scatter(root, &panels, 1.0, 1.0),
        Figure::Layers => draw_layers(root, report, &names[0]),
    })
}

/// A token's text as a figure label: whitespace visible, at most 8 characters.
fn short_piece(piece: &str) -> String {
    let shown: String = piece
        .chars()
        .map(|c| match c {
            ' ' => '·',
            '\n' => '↵',
            c if c.is_control() => '·',
            c => c,
        })
        .collect();
    fit_text(&shown, 8.0 * 0.56 * 9.5, 9.5, 1.0)
}

/// The per-layer figure: left, the mean speed ‖r(t+1) − r(t)‖ of the stream entering each block;
/// right, the logit lens's top probability per layer, each dot labelled with its token.
fn draw_layers<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    report: &Report,
    name: &str,
) -> draw::DrawResult<DB> {
    area.fill(&BACKGROUND)?;
    let (w, h) = area.dim_in_pixel();
    let rects = panel_rects(w as f64, h as f64, 0.0, 1.0);
    let Some(layers) = &report.layers else {
        let text = "this report has no per-layer view: tick \"per-layer view\" and analyse again";
        return area.draw(&Text::new(
            text,
            px((w as f64 / 2.0, h as f64 / 2.0)),
            anchored(font(11.0, 1.0), HPos::Center, VPos::Center),
        ));
    };
    let n = layers.iter().map(|l| l.layer).max().unwrap_or(0) as f64;
    let x = (-0.3, n + 0.3);
    let speeds: Vec<(f64, f64)> = layers
        .iter()
        .filter_map(|l| l.mean_speed.map(|v| (l.layer as f64, v)))
        .collect();
    let frame = chart(
        area,
        rects[0],
        &format!("{name}: speed entering each block"),
        "mean ‖r(t+1) − r(t)‖ over the energy's positions; the last is the stream before the final norm",
        x,
        range_of(speeds.iter().map(|p| p.1), true),
        ("layer", "mean speed"),
        1.0,
    )?;
    polyline(area, &frame, &speeds, draw::TRAINED_COLOUR, 1.4, false, 1.0)?;
    for &(l, v) in &speeds {
        area.draw(&Circle::new(
            px(frame.to_px(l, v)),
            3,
            draw::TRAINED_COLOUR.filled(),
        ))?;
    }
    let tops: Vec<(f64, f64, String)> = layers
        .iter()
        .filter_map(|l| {
            l.top
                .first()
                .map(|t| (l.layer as f64, t.p, short_piece(&t.piece)))
        })
        .collect();
    let frame = chart(
        area,
        rects[1],
        // The lens is at the last position (Model::layer_lens), whatever `report.position` is.
        &format!(
            "{name}: logit lens after position {}",
            report.tokens.len().saturating_sub(1)
        ),
        "each layer's stream through the final norm and the unembedding: its top token",
        x,
        (0.0, 1.08),
        ("layer", "p(top token)"),
        1.0,
    )?;
    let line: Vec<(f64, f64)> = tops.iter().map(|t| (t.0, t.1)).collect();
    polyline(area, &frame, &line, draw::U_COLOUR, 1.4, false, 1.0)?;
    for (l, p, piece) in &tops {
        let at = frame.to_px(*l, *p);
        area.draw(&Circle::new(px(at), 3, draw::U_COLOUR.filled()))?;
        area.draw(&Text::new(
            piece.clone(),
            px((at.0, at.1 - 5.0)),
            anchored(font(9.5, 1.0).color(&INK), HPos::Center, VPos::Bottom),
        ))?;
    }
    Ok(())
}
