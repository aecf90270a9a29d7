//! File exports shared by the page and the native command: CSV of the data behind the figures, JSON
//! of the full state, and file names that say what they are.
//!
//! Pure text formatting (no web-sys, no native-only crates), so the page's export buttons and
//! `token-dynamics render --csv/--json` write byte-identical files for the same link. Numbers are
//! printed with [`td_core::url::format_number`], which round-trips every f64 exactly; non-finite
//! numbers become an empty CSV cell or JSON `null`.

use td_core::export::{
    comment_text, csv_field, csv_number, json_number, json_numbers, json_object, json_string,
    page_json, params_json, safe_piece, CRLF, TOOL, VERSION,
};

use crate::params::{self, State, PARAMS};
use crate::scene::{flow_key, Readout, Scene};
use td_core::page::PageOptions;
use td_core::url::format_number;

/// The CSV columns after the three corner columns' names are substituted.
pub const CSV_COLUMNS: usize = 15;

/// The data behind the figures: one row per stored sample of every run of every panel.
///
/// Starts with `# ` comment lines (tool and version, the link, units), then a header row, then the
/// rows. The scene should be complete (`while !scene.advance(usize::MAX) {}`); an incomplete scene
/// exports the samples computed so far and says so in the header.
pub fn csv(scene: &Scene, link: &str) -> String {
    let st = &scene.state;
    let mut out = String::new();
    let mut comment = |line: &str| {
        out.push_str("# ");
        out.push_str(&comment_text(line));
        out.push_str(CRLF);
    };
    comment(&format!(
        "{TOOL} {VERSION}, next-token explorer, link format {}: data behind the figures",
        params::FORMAT_VERSION
    ));
    comment(&format!("link: {link}"));
    comment(&format!(
        "V = {}, T = {}; corners (token indices) {}",
        scene.v,
        format_number(st.temp),
        if scene.v == 2 {
            "0, 1 (V = 2: the third corner column is empty)".to_string()
        } else {
            format!(
                "{}, {}, {}",
                scene.corners[0], scene.corners[1], scene.corners[2]
            )
        }
    ));
    comment("units: t is flow time (dimensionless), t_over_T = t / T of the run; p_* are probabilities (p_other = mass of all other tokens); expected_score = <p,s> and free_energy F = <p,s> + T*H in logit units; entropy H, kl_p_target = KL(p||target), kl_target_p = KL(target||p) in nats; tv_to_target is total variation; conserved = sum q_i log p_i for an antisymmetric W (else empty)");
    comment("empty cell = not defined or not finite (e.g. KL(target||p) = +inf)");
    if !scene.is_done() {
        comment("incomplete: the scene was still being computed; later samples are missing");
    }
    let corner_name = |slot: usize| {
        if scene.v == 2 && slot == 2 {
            "p_none".to_string()
        } else {
            format!("p_{}", scene.corner_labels[slot])
        }
    };
    let header = [
        "flow".to_string(),
        "run".to_string(),
        "t".to_string(),
        "t_over_T".to_string(),
        corner_name(0),
        corner_name(1),
        corner_name(2),
        "p_other".to_string(),
        "expected_score".to_string(),
        "entropy".to_string(),
        "free_energy".to_string(),
        "kl_p_target".to_string(),
        "kl_target_p".to_string(),
        "tv_to_target".to_string(),
        "conserved".to_string(),
    ];
    debug_assert_eq!(header.len(), CSV_COLUMNS);
    out.push_str(
        &header
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str(CRLF);
    for panel in &scene.panels {
        let flow = csv_field(flow_key(panel.flow));
        for view in &panel.runs {
            let run = csv_field(&view.name);
            for sample in view.run.samples() {
                let d = &sample.diag;
                let third = if scene.v == 2 {
                    String::new()
                } else {
                    csv_number(sample.lumped[2])
                };
                let cells = [
                    csv_number(sample.t),
                    csv_number(sample.t / view.temp),
                    csv_number(sample.lumped[0]),
                    csv_number(sample.lumped[1]),
                    third,
                    csv_number(sample.lumped[3]),
                    csv_number(d.expected_score),
                    csv_number(d.entropy),
                    csv_number(d.free_energy),
                    csv_number(d.kl_to_target),
                    csv_number(d.kl_from_target),
                    csv_number(d.dist_to_face_target),
                    d.conserved.map_or(String::new(), csv_number),
                ];
                out.push_str(&flow);
                out.push(',');
                out.push_str(&run);
                for cell in &cells {
                    out.push(',');
                    out.push_str(cell);
                }
                out.push_str(CRLF);
            }
        }
    }
    out
}

/// One readout as JSON, with the same names as `window.tokenDynamics.readout()`.
fn readout_json(r: &Readout) -> String {
    let support: Vec<f64> = r.support.iter().map(|&i| i as f64).collect();
    json_object(&[
        ("flow", json_string(flow_key(r.flow))),
        ("t", json_number(r.t)),
        ("p", json_numbers(&r.p)),
        ("F", json_number(r.free_energy)),
        ("H", json_number(r.entropy)),
        ("KL", json_number(r.kl)),
        ("E", json_number(r.expected_score)),
        ("KLreverse", json_number(r.kl_reverse)),
        ("distance", json_number(r.distance)),
        ("conserved", r.conserved.map_or("null".into(), json_number)),
        ("target", json_numbers(&r.target)),
        ("support", json_numbers(&support)),
    ])
}

/// The full state as one JSON object: tool, versions, the link, every parameter (numbers for
/// numeric keys, the link's text otherwise), the page options, the canonical link and the readouts.
pub fn state_json(state: &State, page: &PageOptions, link: &str, readouts: &[Readout]) -> String {
    let state_fields = params_json(PARAMS, state, params::value_text);
    let mut pairs = params::to_pairs(state);
    pairs.extend(td_core::page::to_pairs(page));
    let canonical = td_core::url::join_hash(params::EXPLORER, &pairs);
    let readout_items: Vec<String> = readouts.iter().map(readout_json).collect();
    let mut out = json_object(&[
        ("tool", json_string(TOOL)),
        ("version", json_string(VERSION)),
        ("format", params::FORMAT_VERSION.to_string()),
        ("explorer", json_string(params::EXPLORER)),
        ("link", json_string(link)),
        ("canonical_link", json_string(&canonical)),
        ("state", state_fields),
        ("page", page_json(page)),
        ("readout", format!("[{}]", readout_items.join(","))),
    ]);
    out.push('\n');
    out
}

/// An ASCII, filesystem-safe file name stem that says what the file is, e.g.
/// `token-dynamics_next-token_compare_T1` or `token-dynamics_next-token_entropic_T0.5_top-p0.8`.
/// The page appends `_<figure>.svg|png|csv|json`.
pub fn file_stem(state: &State) -> String {
    use params::{AdjustMode, GenMode, OverlayParam, TruncMode};
    let flow = PARAMS
        .iter()
        .find(|p| p.key == "flow")
        .map(|p| params::value_text(p, state))
        .unwrap_or_default();
    let mut parts = vec![
        TOOL.to_string(),
        params::EXPLORER.to_string(),
        flow,
        format!("T{}", format_number(state.temp)),
    ];
    match state.trunc {
        TruncMode::None => {}
        TruncMode::TopK => parts.push(format!("top-k{}", state.k)),
        TruncMode::TopP => parts.push(format!("top-p{}", format_number(state.top_p))),
        TruncMode::MinP => parts.push(format!("min-p{}", format_number(state.min_p))),
    }
    match state.gen {
        GenMode::None => {}
        GenMode::Zipf => parts.push(format!("zipf-V{}-seed{}", state.v, state.seed)),
        GenMode::Gauss => parts.push(format!("gauss-V{}-seed{}", state.v, state.seed)),
    }
    match state.adjust {
        AdjustMode::None => {}
        AdjustMode::Matrix => parts.push("matrix".into()),
        AdjustMode::Memory => parts.push("memory".into()),
    }
    if let Some((param, _)) = &state.overlay {
        parts.push(match param {
            OverlayParam::Temperature => "overlay-T".into(),
            OverlayParam::Eta => "overlay-eta".into(),
        });
    }
    let mut stem = safe_piece(&parts.join("_"));
    stem.truncate(120); // ASCII only, so any byte index is a char boundary
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_and_json_strings_escape() {
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(
            json_string("a\"b\\c\n\u{1}\u{2028}"),
            "\"a\\\"b\\\\c\\n\\u0001\\u2028\""
        );
        assert_eq!(json_number(f64::INFINITY), "null");
    }

    #[test]
    fn default_file_stem() {
        assert_eq!(
            file_stem(&State::default()),
            "token-dynamics_next-token_compare_T1"
        );
    }
}
