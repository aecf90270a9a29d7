//! File exports of the energy lab, shared by the page and the native command: a tidy CSV (one row
//! per model and position), the readout and the full state as JSON, and file names.
//! Pure text formatting: the page and `token-dynamics render` write the same bytes for one link.

use super::params::{self, byte_text, State};
use super::scene::{Analysis, Scene, SteerOutcome};
use td_core::export::{
    comment_text, csv_field, csv_number, json_number, json_numbers, json_object, json_string,
    page_json, params_json, safe_piece, TOOL, VERSION,
};
use td_core::page::PageOptions;
use td_core::url::format_number;
use td_transformer::energy::{DecoupledNull, EnergySummary};

const CRLF: &str = "\r\n";

pub const CSV_HEADER: [&str; 10] = [
    "model",
    "t",
    "byte",
    "next_byte",
    "speed",
    "K",
    "U",
    "E",
    "E_steered",
    "hidden_norm",
];

fn opt_json(value: Option<f64>) -> String {
    value.map_or("null".to_string(), json_number)
}

fn summary_json(s: &EnergySummary) -> String {
    json_object(&[
        ("count", s.count.to_string()),
        ("mean_K", opt_json(s.mean_k)),
        ("mean_U", opt_json(s.mean_u)),
        ("mean_E", opt_json(s.mean_e)),
        ("cv_E", opt_json(s.cv_e)),
        ("cv_K", opt_json(s.cv_k)),
        ("cv_U", opt_json(s.cv_u)),
        ("drift_slope", opt_json(s.drift_slope)),
        ("corr_KU", opt_json(s.corr_ku)),
        ("var_ratio", opt_json(s.var_ratio)),
    ])
}

fn null_json(n: &DecoupledNull) -> String {
    json_object(&[
        ("draws", n.draws.to_string()),
        ("cv_E_mean", opt_json(n.cv_e_mean)),
        ("p_value", opt_json(n.p_value)),
        ("cv_E_independent", opt_json(n.cv_e_independent)),
    ])
}

fn analysis_json(a: &Analysis) -> String {
    let t: Vec<f64> = a.series.t.iter().map(|&t| t as f64).collect();
    json_object(&[
        ("model", json_string(a.model.key())),
        ("t", json_numbers(&t)),
        ("K", json_numbers(&a.series.k)),
        ("U", json_numbers(&a.series.u)),
        ("E", json_numbers(&a.series.e)),
        ("speed", json_numbers(&a.speed)),
        ("mass", json_number(a.series.mass.value)),
        ("mass_fitted", opt_json(a.series.mass.fitted)),
        ("mass_fell_back", a.series.mass.fell_back.to_string()),
        ("dropped", a.series.dropped.to_string()),
        ("summary", summary_json(&a.summary)),
        ("null", null_json(&a.null)),
    ])
}

fn bytes_text(tokens: &[u32]) -> String {
    let bytes: Vec<u8> = tokens.iter().map(|&t| t as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn steer_json(s: &SteerOutcome) -> String {
    json_object(&[
        ("model", json_string(s.model.key())),
        ("position", s.position.to_string()),
        ("target", s.target.to_string()),
        ("target_text", json_string(&byte_text(s.target))),
        ("suggested", s.suggested.to_string()),
        ("site", json_string(&s.site)),
        ("form", json_string(s.form)),
        ("norm", json_number(s.norm)),
        ("old_log_p", json_number(s.old_log_p)),
        ("new_log_p", json_number(s.new_log_p)),
        ("new_p", json_number(s.new_log_p.exp())),
        ("predicted_log_p", opt_json(s.predicted_log_p)),
        ("old_rank", s.old_rank.to_string()),
        ("new_rank", s.new_rank.to_string()),
        ("old_top", s.old_top.to_string()),
        ("new_top", s.new_top.to_string()),
        ("summary", summary_json(&s.summary)),
        ("E", json_numbers(&s.series.e)),
        ("n_new", s.n_new.to_string()),
        ("continuation", json_string(&bytes_text(&s.plain))),
        ("continuation_steered", json_string(&bytes_text(&s.steered))),
    ])
}

/// What `window.tokenDynamics.readout()` returns (and the JSON export's `readout`).
pub fn readout_json(scene: &Scene) -> String {
    let tokens: Vec<f64> = scene.tokens.iter().map(|&t| t as f64).collect();
    let models: Vec<String> = scene.analyses.iter().flatten().map(analysis_json).collect();
    let by_name = |name: &str| {
        scene
            .analyses
            .iter()
            .flatten()
            .find(|a| a.model.key() == name)
            .map_or("null".to_string(), analysis_json)
    };
    json_object(&[
        ("done", scene.is_done().to_string()),
        ("text", json_string(&bytes_text(&scene.tokens))),
        ("tokens", json_numbers(&tokens)),
        (
            "prompt_len",
            scene.prompt_len.map_or("null".into(), |p| p.to_string()),
        ),
        ("position", scene.position().to_string()),
        ("model", json_string(scene.model.key())),
        ("trained", by_name("trained")),
        ("random", by_name("random")),
        ("models", format!("[{}]", models.join(","))),
        (
            "steering",
            scene.steer_outcome().map_or("null".into(), steer_json),
        ),
        ("notes", td_core::export::json_strings(&scene.notes)),
        ("errors", td_core::export::json_strings(&scene.errors)),
    ])
}

/// One row per model and position of the series (tidy form), after `# ` comment lines.
pub fn csv(scene: &Scene, link: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# {TOOL} {VERSION}: hidden-state energy lab{CRLF}"
    ));
    out.push_str(&format!("# link: {}{CRLF}", comment_text(link)));
    let st = &scene.state;
    out.push_str(&format!(
        "# K = 0.5*m*|h_(t+1) - h_t|^2 ({} hidden state), U = {}, E = {} (our assumptions); speed = |v_t|; nats{CRLF}",
        params::value_text(params::param("h").expect("h"), st),
        params::value_text(params::param("U").expect("U"), st),
        params::value_text(params::param("form").expect("form"), st),
    ));
    if !scene.is_done() {
        out.push_str(&format!("# incomplete: exported while computing{CRLF}"));
    }
    out.push_str(&CSV_HEADER.join(","));
    out.push_str(CRLF);
    let steer = scene.steer_outcome();
    for a in scene.analyses.iter().flatten() {
        let steered = steer.filter(|s| s.model == a.model);
        for (i, &t) in a.series.t.iter().enumerate() {
            let byte = scene.tokens.get(t).copied().unwrap_or(0) as u8;
            let next = scene.tokens.get(t + 1).copied().unwrap_or(0) as u8;
            let e_steered = steered
                .and_then(|s| {
                    s.series
                        .t
                        .iter()
                        .position(|&x| x == t)
                        .map(|j| s.series.e[j])
                })
                .map_or(String::new(), csv_number);
            let row = [
                a.model.key().to_string(),
                t.to_string(),
                csv_field(&byte_text(byte)),
                csv_field(&byte_text(next)),
                csv_number(a.speed.get(i).copied().unwrap_or(f64::NAN)),
                csv_number(a.series.k[i]),
                csv_number(a.series.u[i]),
                csv_number(a.series.e[i]),
                e_steered,
                csv_number(a.hidden_norm.get(t).copied().unwrap_or(f64::NAN)),
            ];
            out.push_str(&row.join(","));
            out.push_str(CRLF);
        }
    }
    out
}

/// The full state and readout as JSON.
pub fn state_json(scene: &Scene, page: &PageOptions, link: &str) -> String {
    let st = &scene.state;
    let mut pairs = params::to_pairs(st);
    pairs.extend(td_core::page::to_pairs(page));
    let canonical = td_core::url::join_hash(params::EXPLORER, &pairs);
    let mut out = json_object(&[
        ("tool", json_string(TOOL)),
        ("version", json_string(VERSION)),
        ("format", params::FORMAT_VERSION.to_string()),
        ("explorer", json_string(params::EXPLORER)),
        ("link", json_string(link)),
        ("canonical_link", json_string(&canonical)),
        ("state", params_json(params::PARAMS, st, params::value_text)),
        ("page", page_json(page)),
        ("readout", readout_json(scene)),
    ]);
    out.push('\n');
    out
}

/// e.g. `energy_analyse-229B_post-invd-surprisal-additive` (+ `_steer-margin-post`).
pub fn file_stem(state: &State) -> String {
    let value =
        |key: &str| params::param(key).map_or(String::new(), |p| params::value_text(p, state));
    let input = match state.mode {
        params::InputMode::Analyse => format!("analyse-{}B", state.text.len()),
        params::InputMode::Generate => format!(
            "generate-{}-T{}",
            value("model"),
            format_number(state.temperature)
        ),
    };
    let mut stem = format!(
        "energy_{input}_{}-{}-{}-{}",
        value("h"),
        value("mass"),
        value("U"),
        value("form")
    );
    if state.steer != params::SteerMode::Off {
        stem.push_str(&format!("_steer-{}-{}", value("steer"), value("layer")));
    }
    safe_piece(&stem)
}
