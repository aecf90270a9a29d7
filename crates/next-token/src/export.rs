//! File exports shared by the page and the native command: CSV of the data behind the figures, JSON
//! of the full state, and file names that say what they are.
//!
//! Pure text formatting (no web-sys, no native-only crates), so the page's export buttons and
//! `token-dynamics render --csv/--json` write byte-identical files for the same link. CSV numbers
//! are printed with [`td_core::url::format_number`], JSON through serde_json
//! ([`td_core::export::to_json`]); both round-trip every f64 exactly, and non-finite numbers become
//! an empty CSV cell or JSON `null`.

use serde::Serialize;
use td_core::explorer::Explorer;
use td_core::export::{
    comment_text, csv_field, csv_number, safe_piece, to_json, ParamsJson, StateExport, CRLF, TOOL,
    VERSION,
};

use crate::params::{self, State, PARAMS};
use crate::scene::{flow_key, Readout, Scene};
use td_core::page::PageOptions;
use td_core::url::format_number;
use td_flows::run::Sample;

/// The CSV columns after the three corner columns' names are substituted.
pub const CSV_COLUMNS: usize = 15;

/// The data behind the figures: one row per stored sample of every run of every panel.
///
/// Starts with `# ` comment lines (tool and version, the link, units), then a header row, then the
/// rows. The scene should be complete (`while !scene.advance(usize::MAX) {}`); an incomplete scene
/// exports the samples computed so far and says so in the header.
pub fn csv(scene: &Scene, link: &str) -> String {
    let mut out = String::new();
    csv_comments(scene, link, &mut out);
    out.push_str(
        &csv_header(scene)
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
                out.push_str(&flow);
                out.push(',');
                out.push_str(&run);
                for cell in &sample_cells(scene, sample, view.temp) {
                    out.push(',');
                    out.push_str(cell);
                }
                out.push_str(CRLF);
            }
        }
    }
    out
}

/// The `# ` comment lines that open the CSV: tool and version, the link, the corners, units.
fn csv_comments(scene: &Scene, link: &str, out: &mut String) {
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
        format_number(scene.state.temp),
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
}

/// The header row (the corner columns are named after their tokens).
fn csv_header(scene: &Scene) -> [String; CSV_COLUMNS] {
    let corner_name = |slot: usize| {
        if scene.v == 2 && slot == 2 {
            "p_none".to_string()
        } else {
            format!("p_{}", scene.corner_labels[slot])
        }
    };
    [
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
    ]
}

/// The cells of one sample's row after `flow` and `run` (`temp`: the run's temperature).
fn sample_cells(scene: &Scene, sample: &Sample, temp: f64) -> [String; CSV_COLUMNS - 2] {
    let d = &sample.diag;
    let third = if scene.v == 2 {
        String::new()
    } else {
        csv_number(sample.lumped[2])
    };
    [
        csv_number(sample.t),
        csv_number(sample.t / temp),
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
    ]
}

/// One readout as JSON, with the same names as `window.tokenDynamics.readout()`: an element of the
/// JSON export's `readout` array, and the fields of [`readout_json`] (non-finite numbers, e.g.
/// KL(target || p) = +inf, and a missing conserved quantity are `null`).
#[derive(Clone, Debug, Serialize)]
pub struct ReadoutJson<'a> {
    pub flow: &'static str,
    pub t: f64,
    pub p: &'a [f64],
    #[serde(rename = "F")]
    pub free_energy: f64,
    #[serde(rename = "H")]
    pub entropy: f64,
    #[serde(rename = "KL")]
    pub kl: f64,
    #[serde(rename = "E")]
    pub expected_score: f64,
    #[serde(rename = "KLreverse")]
    pub kl_reverse: f64,
    pub distance: f64,
    pub conserved: Option<f64>,
    pub target: &'a [f64],
    pub support: &'a [usize],
}

impl<'a> From<&Readout<'a>> for ReadoutJson<'a> {
    fn from(r: &Readout<'a>) -> Self {
        ReadoutJson {
            flow: flow_key(r.flow),
            t: r.t,
            p: r.p,
            free_energy: r.free_energy,
            entropy: r.entropy,
            kl: r.kl,
            expected_score: r.expected_score,
            kl_reverse: r.kl_reverse,
            distance: r.distance,
            conserved: r.conserved,
            target: r.target,
            support: r.support,
        }
    }
}

/// What `window.tokenDynamics.readout()` returns: the first readout's fields, then `compare` (the
/// second readout) when there is one, `done` and `notes`.
#[derive(Serialize)]
struct PageReadout<'a> {
    #[serde(flatten)]
    first: ReadoutJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compare: Option<ReadoutJson<'a>>,
    done: bool,
    notes: &'a [String],
}

/// The object `window.tokenDynamics.readout()` returns, as JSON: `flow, t, p, F, H, KL, E,
/// KLreverse, distance, conserved, target, support` of the first readout, `compare` (the same
/// fields for the second readout, compare mode only), `done` and `notes`; `null` when the scene has
/// no readout.
pub fn readout_json(scene: &Scene) -> String {
    let readouts = scene.readouts();
    let object = readouts.first().map(|first| PageReadout {
        first: first.into(),
        compare: readouts.get(1).map(ReadoutJson::from),
        done: scene.is_done(),
        notes: &scene.notes,
    });
    to_json(&object)
}

/// The full state as one JSON object: tool, versions, the link, every parameter (numbers for
/// numeric keys, the link's text otherwise), the page options, the canonical link and the readouts.
pub fn state_json<E: Explorer<State = State, Group = params::Group>>(
    state: &State,
    page: &PageOptions,
    link: &str,
    readouts: &[Readout],
) -> String {
    let mut pairs = E::to_pairs(state);
    pairs.extend(td_core::page::to_pairs(page));
    StateExport {
        tool: TOOL,
        version: VERSION,
        format: params::FORMAT_VERSION,
        explorer: params::EXPLORER,
        link,
        canonical_link: td_core::url::join_hash(params::EXPLORER, &pairs),
        state: ParamsJson {
            params: PARAMS,
            state,
            value_text: E::value_text,
        },
        page,
        readout: readouts.iter().map(ReadoutJson::from).collect::<Vec<_>>(),
    }
    .to_json_line()
}

/// An ASCII, filesystem-safe file name stem that says what the file is, e.g.
/// `token-dynamics_next-token_compare_T1` or `token-dynamics_next-token_entropic_T0.5_top-p0.8`.
/// The page appends `_<figure>.svg|png|csv|json`.
pub fn file_stem<E: Explorer<State = State, Group = params::Group>>(state: &State) -> String {
    use params::{AdjustMode, GenMode, OverlayParam, TruncMode};
    let flow = PARAMS
        .iter()
        .find(|p| p.key == "flow")
        .map(|p| E::value_text(p, state))
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
    use crate::explorer::NextToken;

    #[test]
    fn csv_fields_and_json_strings_escape() {
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(
            to_json("a\"b\\c\n\u{1}\u{2028}"),
            "\"a\\\"b\\\\c\\n\\u0001\\u2028\""
        );
        assert_eq!(to_json(&f64::INFINITY), "null");
    }

    use serde_json::Value;
    use td_core::export::object_keys;
    use td_flows::flows::Flow;

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
    const READOUT_KEYS: [&str; 12] = [
        "flow",
        "t",
        "p",
        "F",
        "H",
        "KL",
        "E",
        "KLreverse",
        "distance",
        "conserved",
        "target",
        "support",
    ];

    fn scene_of(link: &str) -> Scene {
        let (state, _) = NextToken::from_hash(link);
        let mut scene = Scene::new(state);
        while !scene.advance(usize::MAX) {}
        scene
    }

    fn page_of(link: &str) -> PageOptions {
        NextToken::page_from_hash(link).0
    }

    fn export(link: &str) -> String {
        let scene = scene_of(link);
        state_json::<NextToken>(&scene.state, &page_of(link), link, &scene.readouts())
    }

    #[test]
    fn state_json_parses_with_keys_in_the_documented_order() {
        let link = "#next-token?v=1&flow=compare&T=0.5&embed=1&theme=dark";
        let text = export(link);
        assert!(text.ends_with("}\n"));
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["tool"], TOOL);
        assert_eq!(json["format"], params::FORMAT_VERSION);
        assert_eq!(json["explorer"], "next-token");
        assert_eq!(json["link"], link);
        assert_eq!(json["page"]["embed"], true);
        assert_eq!(json["page"]["theme"], "dark");
        assert_eq!(json["state"]["T"], 0.5);
        assert_eq!(object_keys(&text, &[]).unwrap().unwrap(), TOP_KEYS);
        // The state in parameter-table order, the page options in link order.
        let table: Vec<&str> = PARAMS.iter().map(|p| p.key).collect();
        assert_eq!(object_keys(&text, &["state"]).unwrap().unwrap(), table);
        assert_eq!(
            object_keys(&text, &["page"]).unwrap().unwrap(),
            ["embed", "hide", "controls", "autoplay", "loop", "theme", "view"]
        );
        let readouts = json["readout"].as_array().unwrap();
        assert_eq!(readouts.len(), scene_of(link).readouts().len());
        for item in readouts {
            let keys: Vec<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            let mut want = READOUT_KEYS.to_vec();
            want.sort_unstable(); // serde_json::Value sorts keys
            assert_eq!(keys, want);
        }
    }

    #[test]
    fn hostile_link_text_round_trips() {
        let link =
            "#next-token?v=1&labels=a\"b\\c,\u{1}\u{1f}\u{7f}x,\u{2028}\u{2029}\n\r\t</script>";
        let text = export(link);
        assert!(!text.contains('\u{2028}') && !text.contains('\u{2029}'));
        assert_eq!(text.matches('\n').count(), 1, "one line");
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["link"], link);
        let (state, _) = NextToken::from_hash(link);
        let labels = PARAMS.iter().find(|p| p.key == "labels").unwrap();
        assert_eq!(
            json["state"]["labels"],
            NextToken::value_text(labels, &state)
        );
        // The canonical link reads back to the same state.
        let canonical = json["canonical_link"].as_str().unwrap();
        assert_eq!(NextToken::from_hash(canonical).0, state);
    }

    #[test]
    fn nan_and_infinite_readout_values_are_null() {
        let r = Readout {
            flow: Flow::Replicator,
            t: f64::NAN,
            p: &[0.5, f64::NAN],
            free_energy: f64::INFINITY,
            entropy: 0.25,
            kl: f64::NAN,
            expected_score: f64::NEG_INFINITY,
            kl_reverse: f64::INFINITY,
            distance: 0.0,
            conserved: None,
            target: &[1.0, 0.0],
            support: &[0, 1],
        };
        let text = state_json::<NextToken>(
            &State::default(),
            &PageOptions::default(),
            "#next-token",
            &[r],
        );
        let json: Value = serde_json::from_str(&text).unwrap();
        let item = &json["readout"][0];
        for key in ["t", "F", "KL", "E", "KLreverse", "conserved"] {
            assert!(item[key].is_null(), "{key}: {item}");
        }
        assert_eq!(item["p"], serde_json::json!([0.5, null]));
        assert_eq!(item["H"], 0.25);
        assert_eq!(item["support"], serde_json::json!([0, 1]));
        assert!(text.contains("\"support\":[0,1]"), "indices are integers");
    }

    #[test]
    fn readout_json_is_the_page_readout() {
        for (link, compare) in [
            ("#next-token?v=1&flow=compare", true),
            ("#next-token?v=1&flow=entropic", false),
            ("#next-token?v=1&flow=replicator&p0=0.5,0.5,0&t=2", false),
        ] {
            let scene = scene_of(link);
            let readouts = scene.readouts();
            assert_eq!(readouts.len() > 1, compare, "{link}");
            let text = readout_json(&scene);
            let json: Value = serde_json::from_str(&text).unwrap();
            let mut want: Vec<&str> = READOUT_KEYS.to_vec();
            if compare {
                want.push("compare");
            }
            want.extend(["done", "notes"]);
            assert_eq!(object_keys(&text, &[]).unwrap().unwrap(), want, "{link}");
            if compare {
                assert_eq!(
                    object_keys(&text, &["compare"]).unwrap().unwrap(),
                    READOUT_KEYS,
                    "{link}"
                );
                assert_eq!(json["compare"]["flow"], flow_key(readouts[1].flow));
                assert_eq!(json["compare"]["F"], readouts[1].free_energy);
            }
            let first = &readouts[0];
            assert_eq!(json["flow"], flow_key(first.flow));
            assert_eq!(json["t"], first.t);
            assert_eq!(json["F"], first.free_energy);
            assert_eq!(json["p"].as_array().unwrap().len(), first.p.len());
            assert_eq!(json["done"], scene.is_done());
            assert_eq!(json["notes"], serde_json::json!(scene.notes));
            if first.kl_reverse.is_infinite() {
                assert!(json["KLreverse"].is_null());
            }
            match first.conserved {
                Some(c) => assert_eq!(json["conserved"], c),
                None => assert!(json["conserved"].is_null()),
            }
            // The same fields as the JSON export's readout array.
            let export: Value = serde_json::from_str(&state_json::<NextToken>(
                &scene.state,
                &page_of(link),
                link,
                &readouts,
            ))
            .unwrap();
            for key in READOUT_KEYS {
                assert_eq!(json[key], export["readout"][0][key], "{key}");
            }
        }
    }

    #[test]
    fn readout_json_without_readouts_is_null() {
        // Nothing computed yet: no sample, no readout.
        let scene = Scene::new(State::default());
        assert!(scene.readouts().is_empty());
        assert_eq!(readout_json(&scene), "null");
    }

    #[test]
    fn default_file_stem() {
        assert_eq!(
            file_stem::<NextToken>(&State::default()),
            "token-dynamics_next-token_compare_T1"
        );
    }
}
