//! File exports of the energy lab, shared by the page and the native command: a tidy CSV (one row
//! per model and position), the readout and the full state as JSON, and file names.
//! Pure text formatting: the page and `token-dynamics render` write the same bytes for one link.
//! JSON goes through serde_json ([`td_core::export::to_json`]): the structs below give the names
//! and their order; non-finite numbers and missing values are `null`.

use super::params::{self, byte_text, State};
use super::scene::{Analysis, Scene, SteerOutcome};
use serde::Serialize;
use td_core::explorer::Explorer;
use td_core::export::{
    comment_text, csv_field, csv_number, safe_piece, to_json, ParamsJson, StateExport, TOOL,
    VERSION,
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

/// Summary statistics of one sequence ([`EnergySummary`]).
#[derive(Serialize)]
struct SummaryJson {
    count: usize,
    #[serde(rename = "mean_K")]
    mean_k: Option<f64>,
    #[serde(rename = "mean_U")]
    mean_u: Option<f64>,
    #[serde(rename = "mean_E")]
    mean_e: Option<f64>,
    #[serde(rename = "cv_E")]
    cv_e: Option<f64>,
    #[serde(rename = "cv_K")]
    cv_k: Option<f64>,
    #[serde(rename = "cv_U")]
    cv_u: Option<f64>,
    drift_slope: Option<f64>,
    #[serde(rename = "corr_KU")]
    corr_ku: Option<f64>,
    var_ratio: Option<f64>,
}

impl From<&EnergySummary> for SummaryJson {
    fn from(s: &EnergySummary) -> Self {
        SummaryJson {
            count: s.count,
            mean_k: s.mean_k,
            mean_u: s.mean_u,
            mean_e: s.mean_e,
            cv_e: s.cv_e,
            cv_k: s.cv_k,
            cv_u: s.cv_u,
            drift_slope: s.drift_slope,
            corr_ku: s.corr_ku,
            var_ratio: s.var_ratio,
        }
    }
}

/// The decoupled null ([`DecoupledNull`]).
#[derive(Serialize)]
struct NullJson {
    draws: usize,
    #[serde(rename = "cv_E_mean")]
    cv_e_mean: Option<f64>,
    p_value: Option<f64>,
    #[serde(rename = "cv_E_independent")]
    cv_e_independent: Option<f64>,
}

impl From<&DecoupledNull> for NullJson {
    fn from(n: &DecoupledNull) -> Self {
        NullJson {
            draws: n.draws,
            cv_e_mean: n.cv_e_mean,
            p_value: n.p_value,
            cv_e_independent: n.cv_e_independent,
        }
    }
}

/// One model's analysis: the aligned series (`t`, `K`, `U`, `E`, `speed`), the mass used, the
/// summary and the null.
#[derive(Serialize)]
struct AnalysisJson<'a> {
    model: &'static str,
    t: &'a [usize],
    #[serde(rename = "K")]
    k: &'a [f64],
    #[serde(rename = "U")]
    u: &'a [f64],
    #[serde(rename = "E")]
    e: &'a [f64],
    speed: &'a [f64],
    mass: f64,
    mass_fitted: Option<f64>,
    mass_fell_back: bool,
    dropped: usize,
    summary: SummaryJson,
    null: NullJson,
}

impl<'a> From<&'a Analysis> for AnalysisJson<'a> {
    fn from(a: &'a Analysis) -> Self {
        AnalysisJson {
            model: a.model.key(),
            t: &a.series.t,
            k: &a.series.k,
            u: &a.series.u,
            e: &a.series.e,
            speed: &a.speed,
            mass: a.series.mass.value,
            mass_fitted: a.series.mass.fitted,
            mass_fell_back: a.series.mass.fell_back,
            dropped: a.series.dropped,
            summary: (&a.summary).into(),
            null: (&a.null).into(),
        }
    }
}

fn bytes_text(tokens: &[u32]) -> String {
    let bytes: Vec<u8> = tokens.iter().map(|&t| t as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The steering outcome.
#[derive(Serialize)]
struct SteerJson<'a> {
    model: &'static str,
    position: usize,
    target: u8,
    target_text: String,
    suggested: bool,
    site: &'a str,
    form: &'static str,
    norm: f64,
    old_log_p: f64,
    new_log_p: f64,
    new_p: f64,
    predicted_log_p: Option<f64>,
    old_rank: usize,
    new_rank: usize,
    old_top: u8,
    new_top: u8,
    summary: SummaryJson,
    #[serde(rename = "E")]
    e: &'a [f64],
    n_new: usize,
    continuation: String,
    continuation_steered: String,
}

impl<'a> From<&'a SteerOutcome> for SteerJson<'a> {
    fn from(s: &'a SteerOutcome) -> Self {
        SteerJson {
            model: s.model.key(),
            position: s.position,
            target: s.target,
            target_text: byte_text(s.target),
            suggested: s.suggested,
            site: &s.site,
            form: s.form,
            norm: s.norm,
            old_log_p: s.old_log_p,
            new_log_p: s.new_log_p,
            new_p: s.new_log_p.exp(),
            predicted_log_p: s.predicted_log_p,
            old_rank: s.old_rank,
            new_rank: s.new_rank,
            old_top: s.old_top,
            new_top: s.new_top,
            summary: (&s.summary).into(),
            e: &s.series.e,
            n_new: s.n_new,
            continuation: bytes_text(&s.plain),
            continuation_steered: bytes_text(&s.steered),
        }
    }
}

/// What `window.tokenDynamics.readout()` returns (and the JSON export's `readout`), field by
/// field in this order ([`readout`]).
#[derive(Serialize)]
pub struct ReadoutJson<'a> {
    done: bool,
    text: String,
    tokens: &'a [u32],
    prompt_len: Option<usize>,
    position: usize,
    model: &'static str,
    trained: Option<AnalysisJson<'a>>,
    random: Option<AnalysisJson<'a>>,
    models: Vec<AnalysisJson<'a>>,
    steering: Option<SteerJson<'a>>,
    notes: &'a [String],
    errors: &'a [String],
}

/// The readout as a serialisable value ([`readout_json`] writes it; the JSON export embeds it).
pub fn readout(scene: &Scene) -> ReadoutJson<'_> {
    let by_name = |name: &str| {
        scene
            .analyses
            .iter()
            .flatten()
            .find(|a| a.model.key() == name)
            .map(AnalysisJson::from)
    };
    ReadoutJson {
        done: scene.is_done(),
        text: bytes_text(&scene.tokens),
        tokens: &scene.tokens,
        prompt_len: scene.prompt_len,
        position: scene.position(),
        model: scene.model.key(),
        trained: by_name("trained"),
        random: by_name("random"),
        models: scene
            .analyses
            .iter()
            .flatten()
            .map(AnalysisJson::from)
            .collect(),
        steering: scene.steer_outcome().map(SteerJson::from),
        notes: &scene.notes,
        errors: &scene.errors,
    }
}

/// What `window.tokenDynamics.readout()` returns (and the JSON export's `readout`).
pub fn readout_json(scene: &Scene) -> String {
    to_json(&readout(scene))
}

/// One row per model and position of the series (tidy form), after `# ` comment lines.
pub fn csv<E: Explorer<State = State, Group = params::Group>>(scene: &Scene, link: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# {TOOL} {VERSION}: hidden-state energy lab{CRLF}"
    ));
    out.push_str(&format!("# link: {}{CRLF}", comment_text(link)));
    let st = &scene.state;
    out.push_str(&format!(
        "# K = 0.5*m*|h_(t+1) - h_t|^2 ({} hidden state), U = {}, E = {} (our assumptions); speed = |v_t|; nats{CRLF}",
        E::value_text(E::param("h").expect("h"), st),
        E::value_text(E::param("U").expect("U"), st),
        E::value_text(E::param("form").expect("form"), st),
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
pub fn state_json<E: Explorer<State = State, Group = params::Group>>(
    scene: &Scene,
    page: &PageOptions,
    link: &str,
) -> String {
    let st = &scene.state;
    let mut pairs = E::to_pairs(st);
    pairs.extend(td_core::page::to_pairs(page));
    StateExport {
        tool: TOOL,
        version: VERSION,
        format: params::FORMAT_VERSION,
        explorer: params::EXPLORER,
        link,
        canonical_link: td_core::url::join_hash(params::EXPLORER, &pairs),
        state: ParamsJson {
            params: params::PARAMS,
            state: st,
            value_text: E::value_text,
        },
        page,
        readout: readout(scene),
    }
    .to_json_line()
}

/// e.g. `token-dynamics_energy_analyse-229B_post-invd-surprisal-additive` (+ `_steer-margin-post`).
pub fn file_stem<E: Explorer<State = State, Group = params::Group>>(state: &State) -> String {
    let value = |key: &str| E::param(key).map_or(String::new(), |p| E::value_text(p, state));
    let input = match state.mode {
        params::InputMode::Analyse => format!("analyse-{}B", state.text.len()),
        params::InputMode::Generate => format!(
            "generate-{}-T{}",
            value("model"),
            format_number(state.temperature)
        ),
    };
    let mut stem = format!(
        "{}_{}_{input}_{}-{}-{}-{}",
        td_core::export::TOOL,
        params::EXPLORER,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explorer::Energy;
    use crate::scene::{Models, Trained};
    use serde_json::Value;
    use td_core::export::object_keys;

    const TOP_KEYS: [&str; 9] = [
        "tool",
        "version",
        "format",
        "explorer",
        "link",
        "canonical_link",
        "state",
        "page",
        "readout",
    ];

    fn export(link: &str) -> (Scene, String) {
        let models = Models::new(Trained::Failed("not used in this test".into()), 3);
        let (state, _) = Energy::from_hash(link);
        let mut scene = Scene::new(state, &models);
        scene.run_to_end();
        assert!(scene.is_done(), "{link}");
        let page = Energy::page_from_hash(link).0;
        let text = state_json::<Energy>(&scene, &page, link);
        (scene, text)
    }

    #[test]
    fn state_json_parses_with_keys_in_the_documented_order() {
        let link =
            "#energy?v=1&model=random&text=Call%20me%20Ishmael.&steer=delta&target=q&theme=light";
        let (scene, text) = export(link);
        assert!(text.ends_with("}\n"));
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["explorer"], "energy");
        assert_eq!(json["format"], params::FORMAT_VERSION);
        assert_eq!(json["link"], link);
        assert_eq!(json["state"]["text"], "Call me Ishmael.");
        assert_eq!(json["page"]["theme"], "light");
        assert_eq!(object_keys(&text, &[]).unwrap().unwrap(), TOP_KEYS);
        let table: Vec<&str> = params::PARAMS.iter().map(|p| p.key).collect();
        assert_eq!(object_keys(&text, &["state"]).unwrap().unwrap(), table);
        let readout: Value = serde_json::from_str(&readout_json(&scene)).unwrap();
        assert_eq!(json["readout"], readout);
        assert_eq!(
            object_keys(&text, &["readout"]).unwrap().unwrap(),
            [
                "done",
                "text",
                "tokens",
                "prompt_len",
                "position",
                "model",
                "trained",
                "random",
                "models",
                "steering",
                "notes",
                "errors"
            ]
        );
        assert!(readout["trained"].is_null());
        assert_eq!(readout["random"], readout["models"][0]);
        assert_eq!(
            object_keys(&text, &["readout", "random"]).unwrap().unwrap(),
            [
                "model",
                "t",
                "K",
                "U",
                "E",
                "speed",
                "mass",
                "mass_fitted",
                "mass_fell_back",
                "dropped",
                "summary",
                "null"
            ]
        );
        assert_eq!(
            object_keys(&text, &["readout", "steering"])
                .unwrap()
                .unwrap()
                .len(),
            21
        );
        assert!(readout["tokens"][0].is_u64());
    }

    #[test]
    fn hostile_link_text_round_trips() {
        let link =
            "#energy?v=1&model=random&text=a\"b\\c\u{1}\u{1f}\u{7f}\u{2028}\u{2029}\n\t</script>";
        let (scene, text) = export(link);
        assert!(!text.contains('\u{2028}') && !text.contains('\u{2029}'));
        assert_eq!(text.matches('\n').count(), 1, "one line");
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["link"], link);
        let text_param = Energy::param("text").unwrap();
        assert_eq!(
            json["state"]["text"],
            Energy::value_text(text_param, &scene.state)
        );
        let canonical = json["canonical_link"].as_str().unwrap();
        assert_eq!(Energy::from_hash(canonical).0, scene.state);
    }

    #[test]
    fn nan_in_a_readout_is_null() {
        let summary = EnergySummary {
            count: 3,
            mean_k: Some(f64::NAN),
            mean_u: Some(f64::INFINITY),
            mean_e: None,
            cv_e: Some(0.5),
            cv_k: None,
            cv_u: None,
            drift_slope: None,
            corr_ku: None,
            var_ratio: None,
        };
        let json: Value = serde_json::from_str(&to_json(&SummaryJson::from(&summary))).unwrap();
        assert_eq!(json["count"], 3);
        assert!(json["mean_K"].is_null() && json["mean_U"].is_null() && json["mean_E"].is_null());
        assert_eq!(json["cv_E"], 0.5);
    }
}
