//! The energy lab's `series`, `phase` and `scatter` figures of a report: the checkpoint on the
//! left, its random twin on the right, drawn by the lab's own code (td_energy::draw) so the two
//! pictures read the same way. The page's real-model module and `token-dynamics model --figures`
//! both write them as SVG.

use td_energy::draw::{self, Panel, Panels};
use td_energy::svg::svg_document;

use crate::report::{Report, LAB_DEFAULTS};

/// A figure of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    Series,
    Phase,
    Scatter,
}

impl Figure {
    pub const ALL: [Figure; 3] = [Figure::Series, Figure::Phase, Figure::Scatter];

    pub fn parse(name: &str) -> Option<Figure> {
        Figure::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Figure::Series => "series",
            Figure::Phase => "phase",
            Figure::Scatter => "scatter",
        }
    }

    /// What the figure shows, for its caption and its text alternative.
    pub fn caption(self) -> &'static str {
        match self {
            Figure::Series => "K, U and E per position, the model beside its random twin (one energy scale for both)",
            Figure::Phase => "Phase portraits: the hidden state's speed ‖v_t‖ against U_t, tokens joined in order, with iso-energy curves",
            Figure::Scatter => "Consecutive changes ΔK against ΔU of both models; on the line ΔU = −ΔK the energy would be exactly conserved",
        }
    }

    /// Size for a given width (CSS pixels): two panels side by side from 600 px, one above the
    /// other below that (as the lab's figures); the scatter (one panel) at most 720 px wide.
    pub fn size_for_width(self, width: u32) -> (u32, u32) {
        let width = width.clamp(280, 1600);
        let stacked = width < 600;
        let height = match self {
            Figure::Series | Figure::Phase if stacked => 560,
            Figure::Series => 360,
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

/// One figure of the report as an SVG document of `size` CSS pixels.
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
    })
}
