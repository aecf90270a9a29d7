//! File exports of the attention explorer, shared by the page and the native command: a tidy CSV of
//! every stored state, the full state as JSON, and file names that say what they are.
//!
//! Pure text formatting, so the page's export buttons and `token-dynamics render --csv/--json`
//! write byte-identical files for the same link. CSV numbers use [`td_core::url::format_number`],
//! JSON is written by serde_json ([`td_core::export::to_json`]); both round-trip exactly, and
//! non-finite numbers become an empty CSV cell or JSON `null`.

use super::params::{self, InitChoice, MatrixChoice, RuleChoice, ScheduleChoice, State};
use super::scene::{Membership, Scene, QUIESCENT_DEFINITION};
use td_core::explorer::Explorer;
use td_core::export::{
    comment_text, csv_field, csv_number, safe_piece, ParamsJson, StateExport, TOOL, VERSION,
};
use td_core::page::PageOptions;
use td_core::url::format_number;
use td_particles::Margin;

/// RFC 4180 line ending.
const CRLF: &str = "\r\n";

/// The fixed columns before the coordinates.
pub const LEADING_COLUMNS: [&str; 3] = ["rule", "step", "token"];
/// The columns after the coordinates x1..xd.
pub const TRAILING_COLUMNS: [&str; 14] = [
    "cluster",
    "leader",
    "fixed_leader",
    "quiescent_set",
    "diameter",
    "area",
    "clusters",
    "max_distance_to_final",
    "delta",
    "leaders",
    "fixed_leaders",
    "asymmetry",
    "edges",
    "margin_undefined",
];

/// The columns added on the sphere (after the trailing ones).
pub const SPHERE_COLUMNS: [&str; 5] = ["time", "energy", "min_inner", "substeps", "forced"];

/// The header row's column names for dimension d (R^d).
pub fn csv_header(d: usize) -> Vec<String> {
    LEADING_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .chain((1..=d).map(|c| format!("x{c}")))
        .chain(TRAILING_COLUMNS.iter().map(|s| s.to_string()))
        .collect()
}

/// The header of a scene: on the sphere with [`SPHERE_COLUMNS`] at the end.
pub fn scene_csv_header(scene: &Scene) -> Vec<String> {
    let mut header = csv_header(scene.state.d.max(1));
    if scene.state.on_sphere() {
        header.extend(SPHERE_COLUMNS.iter().map(|s| s.to_string()));
    }
    header
}

/// Every stored state in long ("tidy") form: one row per (rule, step, token) with the token's
/// coordinates, cluster label, leader flags and final quiescent set, followed by the diagnostics of
/// that state (diameter, area, cluster count, max distance to the final state) and of the step
/// taken from it (delta, leader counts, asymmetry, edges, margin reports; empty at the last state).
///
/// Starts with `# ` comment lines (tool and version, the link, the set-up, units), then the header.
/// An incomplete scene exports the states computed so far and says so.
pub fn csv(scene: &Scene, link: &str) -> String {
    let d = scene.state.d.max(1);
    let mut out = String::new();
    csv_comments(scene, link, d, &mut out);
    let header: Vec<String> = scene_csv_header(scene)
        .iter()
        .map(|h| csv_field(h))
        .collect();
    out.push_str(&header.join(","));
    out.push_str(CRLF);
    for index in 0..scene.panels.len() {
        PanelCsv::new(scene, index, d).push_rows(&mut out);
    }
    out
}

/// The `# ` comment lines that open the CSV: tool and version, the link, the set-up, units.
fn csv_comments(scene: &Scene, link: &str, d: usize, out: &mut String) {
    let st = &scene.state;
    let mut comment = |line: &str| {
        out.push_str("# ");
        out.push_str(&comment_text(line));
        out.push_str(CRLF);
    };
    comment(&format!(
        "{TOOL} {VERSION}, attention explorer, link format {}: every stored state, one row per (rule, step, token)",
        params::FORMAT_VERSION
    ));
    comment(&format!("link: {link}"));
    let n = scene.panels.first().map_or(0, |p| p.run.n());
    comment(&format!(
        "n = {n} tokens in d = {d}, {} steps, alpha = {} (gamma = alpha/(1+alpha)), rules: {}",
        st.steps,
        format_number(st.alpha),
        scene
            .panels
            .iter()
            .map(|p| p.describe)
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    comment("units: x1..xd in the units of the initial points; step is the layer index k (state k; its step leads to state k+1)");
    comment(&format!(
        "per state: cluster = single-linkage label at distance <= {} (labels by smallest member), diameter = largest pairwise distance, area = hull area (d = 2), clusters = cluster count, max_distance_to_final = max_i |x_i(k) - x_i(K)|",
        format_number(st.tol)
    ));
    comment("per step (attention graph at state k, empty at the last state): leader = i in C_i (argmax set), fixed_leader = C_i = {i}, delta = alignment sensitivity (empty for softmax), leaders/fixed_leaders = counts, asymmetry = pairs with j in N_i but i not in N_j, edges = sum of |N_i|, margin_undefined = tokens whose multiplicative margin fell back to C_i");
    comment(&format!(
        "quiescent_set: index of the token's minimal quiescent set over the window of the finished run, empty if none; {QUIESCENT_DEFINITION}"
    ));
    if let Some(sph) = st.sphere() {
        comment(&format!(
            "sphere: {}; time = k·h; energy = (1/beta)·ln(2·beta·E_beta) with beta = {} (the mean inner product at beta = 0); min_inner = smallest pairwise inner product; substeps / forced = the integrator's accepted sub-steps over the step from state k and those accepted above its tolerance",
            sph.describe(),
            format_number(st.beta)
        ));
    }
    comment("empty cell = not defined or not finite");
    if !scene.is_done() {
        comment("incomplete: the scene was still being computed; later states are missing");
    }
}

/// The rows of one panel (one rule): what every state's rows share.
struct PanelCsv<'a> {
    run: &'a td_particles::Run,
    d: usize,
    /// The rule's key, as a CSV field.
    rule: String,
    /// Each token's final quiescent set (empty if none).
    set_cell: Vec<String>,
    /// max_i |x_i(k) - x_i(K)| per state.
    distance: Vec<f64>,
    /// The last computed state.
    big_k: usize,
}

/// The cells of one state k shared by its token rows.
struct StateCsv {
    k: usize,
    /// Whether a step leaves state k (not the last state); per-step cells are empty otherwise.
    has_step: bool,
    leader: Vec<bool>,
    fixed: Vec<bool>,
    /// diameter, area, clusters.
    state_cells: [String; 3],
    dist: String,
    /// delta, leaders, fixed_leaders, asymmetry, edges, margin_undefined.
    step_cells: [String; 6],
    /// On the sphere: time, energy, min_inner, substeps, forced.
    sphere_cells: Option<[String; 5]>,
}

impl StateCsv {
    /// A per-step flag: "1"/"0", empty at the last state.
    fn flag(&self, on: bool) -> &'static str {
        if self.has_step {
            if on {
                "1"
            } else {
                "0"
            }
        } else {
            ""
        }
    }
}

impl<'a> PanelCsv<'a> {
    fn new(scene: &'a Scene, index: usize, d: usize) -> PanelCsv<'a> {
        let panel = &scene.panels[index];
        let run = &panel.run;
        let membership = scene.membership(index);
        PanelCsv {
            run,
            d,
            rule: csv_field(panel.key()),
            set_cell: (0..run.n())
                .map(|i| match membership.and_then(|m| m.get(i)) {
                    Some(Membership::Member(s)) => s.to_string(),
                    _ => String::new(),
                })
                .collect(),
            distance: match scene.max_distance_to_final(index) {
                Some(v) => v.to_vec(),
                None => run.max_distance_to_final(),
            },
            big_k: run.computed_steps(),
        }
    }

    fn push_rows(&self, out: &mut String) {
        for k in 0..=self.big_k {
            self.push_state(&self.state(k), out);
        }
    }

    fn state(&self, k: usize) -> StateCsv {
        let run = self.run;
        let has_step = k < self.big_k;
        let mut leader = vec![false; run.n()];
        let mut fixed = vec![false; run.n()];
        if has_step {
            run.leaders(k).into_iter().for_each(|i| leader[i] = true);
            run.fixed_leaders(k)
                .into_iter()
                .for_each(|i| fixed[i] = true);
        }
        let state_cells =
            run.state_diags()
                .get(k)
                .map_or([String::new(), String::new(), String::new()], |s| {
                    [
                        csv_number(s.diameter),
                        s.area.map_or(String::new(), csv_number),
                        s.clusters.to_string(),
                    ]
                });
        let step_cells: [String; 6] = match run.step_diags().get(k) {
            Some(s) => [
                s.delta.map_or(String::new(), csv_number),
                s.leaders.to_string(),
                s.fixed_leaders.to_string(),
                s.asymmetry.to_string(),
                s.edges.to_string(),
                s.margin_undefined.to_string(),
            ],
            None => Default::default(),
        };
        let sphere_cells = run.spec().sphere.as_ref().map(|sph| {
            let diag = run.state_diags().get(k).and_then(|s| s.sphere);
            let step = run.step_diags().get(k);
            [
                csv_number(k as f64 * sph.time.h()),
                diag.map_or(String::new(), |x| csv_number(x.energy)),
                diag.map_or(String::new(), |x| csv_number(x.min_inner)),
                step.map_or(String::new(), |s| s.substeps.to_string()),
                step.map_or(String::new(), |s| s.forced.to_string()),
            ]
        });
        StateCsv {
            k,
            has_step,
            leader,
            fixed,
            sphere_cells,
            state_cells,
            dist: self
                .distance
                .get(k)
                .map_or(String::new(), |&v| csv_number(v)),
            step_cells,
        }
    }

    /// One row per token of state k.
    fn push_state(&self, state: &StateCsv, out: &mut String) {
        let k = state.k;
        let labels = self.run.cluster_labels(k);
        for (i, p) in self.run.positions(k).chunks_exact(self.d).enumerate() {
            out.push_str(&self.rule);
            out.push(',');
            out.push_str(&k.to_string());
            out.push(',');
            out.push_str(&i.to_string());
            for v in p {
                out.push(',');
                out.push_str(&csv_number(*v));
            }
            out.push(',');
            out.push_str(&labels.get(i).map_or(String::new(), |l| l.to_string()));
            out.push(',');
            out.push_str(state.flag(state.leader[i]));
            out.push(',');
            out.push_str(state.flag(state.fixed[i]));
            out.push(',');
            out.push_str(&self.set_cell[i]);
            for cell in state.state_cells.iter() {
                out.push(',');
                out.push_str(cell);
            }
            out.push(',');
            out.push_str(&state.dist);
            for cell in state.step_cells.iter() {
                out.push(',');
                out.push_str(cell);
            }
            for cell in state.sphere_cells.iter().flatten() {
                out.push(',');
                out.push_str(cell);
            }
            out.push_str(CRLF);
        }
    }
}

/// The full state as one JSON object: tool, versions, the link and the canonical link, every
/// parameter (numbers for numeric keys, the link's text otherwise), the page options and the
/// readout ([`Scene::readout_json`]).
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
        readout: scene.readout(),
    }
    .to_json_line()
}

/// An ASCII, filesystem-safe file name stem that says what the file is, e.g.
/// `token-dynamics_attention_localmax-additive-delta0.1_square-n64` (every explorer's files start
/// with the tool's and the explorer's names); the page appends `_<figure>.svg|png|csv|json`.
pub fn file_stem(state: &State) -> String {
    let localmax = || {
        let margin = match state.margin {
            Margin::Additive => "additive",
            Margin::Multiplicative => "multiplicative",
        };
        let schedule = match state.schedule {
            ScheduleChoice::Constant => String::new(),
            ScheduleChoice::Vanishing => format!("-vanishing-q{}", format_number(state.q)),
            ScheduleChoice::Geometric => format!("-geometric-r{}", format_number(state.r)),
            ScheduleChoice::Piecewise => "-piecewise".to_string(),
        };
        if state.schedule == ScheduleChoice::Piecewise {
            format!("{margin}{schedule}")
        } else {
            format!("{margin}-delta{}{schedule}", format_number(state.delta))
        }
    };
    let rule = match state.rule {
        RuleChoice::Softmax => format!("softmax-beta{}", format_number(state.beta)),
        RuleChoice::Hardmax => "hardmax".to_string(),
        RuleChoice::Localmax => format!("localmax-{}", localmax()),
        RuleChoice::Compare => format!("compare-beta{}-{}", format_number(state.beta), localmax()),
    };
    let init = match state.init {
        InitChoice::Fig2Leader => "fig2-leader".to_string(),
        InitChoice::Fig2Square => "fig2-square".to_string(),
        InitChoice::Fig2NonLeader => "fig2-nonleader".to_string(),
        InitChoice::Square => "square".to_string(),
        InitChoice::Disk => "disk".to_string(),
        InitChoice::Clusters => format!("clusters{}", state.clusters),
        InitChoice::Circle => "circle".to_string(),
        InitChoice::Equiangular => format!("equiangular{}", format_number(state.rho0)),
        InitChoice::Custom => "custom".to_string(),
    };
    let mut parts = vec![
        td_core::export::TOOL.to_string(),
        params::EXPLORER.to_string(),
        rule,
        format!("{init}-n{}", state.token_count()),
    ];
    if state.d != 2 {
        parts.push(format!("d{}", state.d));
    }
    match state.norm {
        params::NormChoice::None => {}
        params::NormChoice::Sphere => parts.push("sphere".to_string()),
        params::NormChoice::Compare => parts.push("rd-vs-sphere".to_string()),
    }
    let matrix = match state.matrix {
        MatrixChoice::Identity => None,
        MatrixChoice::Diagonal => Some("A-diagonal".to_string()),
        MatrixChoice::Spd => Some("A-spd".to_string()),
        MatrixChoice::NegDef => Some("A-negdef".to_string()),
        MatrixChoice::Rotation => Some(format!("A-rotation{}", format_number(state.theta))),
        MatrixChoice::General => Some("A-general".to_string()),
        MatrixChoice::Custom => Some("A-custom".to_string()),
    };
    parts.extend(matrix);
    let mut stem = safe_piece(&parts.join("_"));
    stem.truncate(120); // ASCII only, so any byte index is a char boundary
    stem
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explorer::Attention;
    use crate::scene::Scene;
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

    fn scene_of(link: &str) -> Scene {
        let (state, _) = Attention::from_hash(link);
        let mut scene = Scene::new(state);
        while !scene.advance(usize::MAX) {}
        scene
    }

    fn export(link: &str) -> (Scene, String) {
        let scene = scene_of(link);
        let page = Attention::page_from_hash(link).0;
        let text = state_json::<Attention>(&scene, &page, link);
        (scene, text)
    }

    #[test]
    fn state_json_parses_with_keys_in_the_documented_order() {
        let link = "#attention?v=1&rule=compare&n=10&steps=6&focus=2&embed=1";
        let (scene, text) = export(link);
        assert!(text.ends_with("}\n"));
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["explorer"], "attention");
        assert_eq!(json["format"], params::FORMAT_VERSION);
        assert_eq!(json["link"], link);
        assert_eq!(json["state"]["n"], 10);
        assert_eq!(json["page"]["embed"], true);
        assert_eq!(object_keys(&text, &[]).unwrap().unwrap(), TOP_KEYS);
        let table: Vec<&str> = params::PARAMS.iter().map(|p| p.key).collect();
        assert_eq!(object_keys(&text, &["state"]).unwrap().unwrap(), table);
        // The embedded readout is Scene::readout_json, key for key.
        let readout: Value = serde_json::from_str(&scene.readout_json()).unwrap();
        assert_eq!(json["readout"], readout);
        assert_eq!(
            object_keys(&text, &["readout"]).unwrap().unwrap(),
            ["explorer", "done", "progress", "step", "steps", "panels", "notes"]
        );
        assert_eq!(readout["panels"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn hostile_link_text_round_trips() {
        let link =
            "#attention?v=1&n=5&steps=3&x=\"q\"\\\u{1}\u{1f}\u{7f}\u{2028}\u{2029}\n\t</script>";
        let (scene, text) = export(link);
        assert!(!text.contains('\u{2028}') && !text.contains('\u{2029}'));
        assert_eq!(text.matches('\n').count(), 1, "one line");
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["link"], link);
        let canonical = json["canonical_link"].as_str().unwrap();
        assert_eq!(Attention::from_hash(canonical).0, scene.state);
    }

    #[test]
    fn missing_values_are_null() {
        // Softmax has no delta; d = 3 has no area. Counts and indices are integers.
        let (_, text) = export("#attention?v=1&rule=softmax&d=3&n=6&steps=4");
        let json: Value = serde_json::from_str(&text).unwrap();
        let panel = &json["readout"]["panels"][0];
        assert!(panel["delta"].is_null(), "{panel}");
        assert!(panel["area"].is_null(), "{panel}");
        assert!(panel["cluster_count"][0].is_u64(), "{panel}");
        assert!(panel["asymmetry"][0].is_u64(), "{panel}");
        // Localmax in d = 2: both are arrays of numbers.
        let (_, text) = export("#attention?v=1&rule=localmax&n=6&steps=4");
        let json: Value = serde_json::from_str(&text).unwrap();
        let panel = &json["readout"]["panels"][0];
        assert_eq!(panel["delta"].as_array().unwrap().len(), 4);
        assert_eq!(panel["area"].as_array().unwrap().len(), 5);
    }
}
