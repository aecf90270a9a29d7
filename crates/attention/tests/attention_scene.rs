//! The attention explorer's scene, drawing, exports and command line: every rule / start / d builds,
//! finishes and draws both figures without NaN or panics; the readout is valid JSON that agrees with
//! the runs; the Figure 2 leader case is noted; the CSV has one row per (rule, step, token); the SVG
//! is deterministic; the native command renders `#attention?…` links.

use td_attention::draw::ParticleFrame;
use td_attention::explorer::Attention;
use td_attention::export;
use td_attention::params::{self, InitChoice, MatrixChoice, RuleChoice, ScheduleChoice, State};
use td_attention::scene::Scene;
use td_attention::svg::{render_svg, Figure};
use td_core::explorer::Explorer;
use td_particles::Margin;

fn computed(state: State) -> Scene {
    let mut scene = Scene::new(state);
    let mut guard = 0;
    while !scene.advance(7) {
        guard += 1;
        assert!(guard < 100_000, "scene never finishes");
    }
    assert!(scene.is_done());
    assert_eq!(scene.progress(), 1.0);
    scene
}

fn normalised(mut state: State) -> State {
    let mut msgs = Vec::new();
    params::normalise(&mut state, &mut msgs);
    state
}

fn scene_of(link: &str) -> Scene {
    let (state, _) = Attention::from_hash(link);
    computed(state)
}

// ---------------------------------------------------------------- a small strict JSON reader

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no key {key}")),
            other => panic!("not an object: {other:?}"),
        }
    }
    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }
    fn indices(&self) -> Vec<usize> {
        self.arr()
            .iter()
            .map(|v| match v {
                Json::Num(x) => *x as usize,
                other => panic!("not a number: {other:?}"),
            })
            .collect()
    }
}

fn parse_json(text: &str) -> Result<Json, String> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let value = json_value(bytes, &mut at, 0)?;
    skip_space(bytes, &mut at);
    if at != bytes.len() {
        return Err(format!("trailing text at {at}"));
    }
    Ok(value)
}

fn skip_space(b: &[u8], at: &mut usize) {
    while matches!(b.get(*at), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        *at += 1;
    }
}

fn json_value(b: &[u8], at: &mut usize, depth: usize) -> Result<Json, String> {
    if depth > 64 {
        return Err("too deep".into());
    }
    skip_space(b, at);
    let word = |at: &mut usize, w: &str, v: Json| {
        if b[*at..].starts_with(w.as_bytes()) {
            *at += w.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {at}"))
        }
    };
    match b.get(*at) {
        Some(b'n') => word(at, "null", Json::Null),
        Some(b't') => word(at, "true", Json::Bool(true)),
        Some(b'f') => word(at, "false", Json::Bool(false)),
        Some(b'"') => json_string(b, at).map(Json::Str),
        Some(b'[') => {
            *at += 1;
            let mut items = Vec::new();
            skip_space(b, at);
            if b.get(*at) == Some(&b']') {
                *at += 1;
                return Ok(Json::Arr(items));
            }
            loop {
                items.push(json_value(b, at, depth + 1)?);
                skip_space(b, at);
                match b.get(*at) {
                    Some(b',') => *at += 1,
                    Some(b']') => {
                        *at += 1;
                        return Ok(Json::Arr(items));
                    }
                    _ => return Err(format!("expected , or ] at {at}")),
                }
            }
        }
        Some(b'{') => {
            *at += 1;
            let mut fields: Vec<(String, Json)> = Vec::new();
            skip_space(b, at);
            if b.get(*at) == Some(&b'}') {
                *at += 1;
                return Ok(Json::Obj(fields));
            }
            loop {
                skip_space(b, at);
                let key = json_string(b, at)?;
                if fields.iter().any(|(k, _)| *k == key) {
                    return Err(format!("duplicate key {key}"));
                }
                skip_space(b, at);
                if b.get(*at) != Some(&b':') {
                    return Err(format!("expected : at {at}"));
                }
                *at += 1;
                let value = json_value(b, at, depth + 1)?;
                fields.push((key, value));
                skip_space(b, at);
                match b.get(*at) {
                    Some(b',') => *at += 1,
                    Some(b'}') => {
                        *at += 1;
                        return Ok(Json::Obj(fields));
                    }
                    _ => return Err(format!("expected , or }} at {at}")),
                }
            }
        }
        Some(b'-' | b'0'..=b'9') => {
            let start = *at;
            while matches!(
                b.get(*at),
                Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            ) {
                *at += 1;
            }
            let text = std::str::from_utf8(&b[start..*at]).unwrap();
            // JSON numbers: no leading '+', no leading zeros, digits after '.'.
            let body = text.strip_prefix('-').unwrap_or(text);
            let leading_zero =
                body.len() > 1 && body.starts_with('0') && body.as_bytes()[1].is_ascii_digit();
            let bad = body.is_empty()
                || !body.as_bytes()[0].is_ascii_digit()
                || leading_zero
                || body.contains(".e")
                || body.ends_with('.');
            match text.parse::<f64>() {
                Ok(v) if !bad && v.is_finite() => Ok(Json::Num(v)),
                _ => Err(format!("bad number {text}")),
            }
        }
        other => Err(format!("unexpected {other:?} at {at}")),
    }
}

fn json_string(b: &[u8], at: &mut usize) -> Result<String, String> {
    if b.get(*at) != Some(&b'"') {
        return Err(format!("expected a string at {at}"));
    }
    *at += 1;
    let mut out = Vec::new();
    loop {
        let c = *b.get(*at).ok_or("unterminated string")?;
        *at += 1;
        match c {
            b'"' => break,
            0..=0x1f => return Err("raw control character".into()),
            b'\\' => {
                let e = *b.get(*at).ok_or("unterminated escape")?;
                *at += 1;
                match e {
                    b'"' | b'\\' | b'/' => out.push(e),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'u' => {
                        let hex = std::str::from_utf8(b.get(*at..*at + 4).ok_or("bad \\u")?)
                            .map_err(|e| e.to_string())?;
                        let code = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                        *at += 4;
                        let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return Err("bad escape".into()),
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- checks shared by the sweeps

const PANEL_KEYS: &[&str] = &[
    "rule",
    "describe",
    "n",
    "d",
    "steps",
    "final_positions",
    "hull_vertices",
    "diameter",
    "area",
    "max_distance_to_final",
    "clusters",
    "cluster_count",
    "leaders",
    "fixed_leaders",
    "quiescent",
    "asymmetry",
    "delta",
    "margin_undefined",
    "straight_line",
];

fn check_readout(scene: &Scene) {
    let text = scene.readout_json();
    let json = parse_json(&text).unwrap_or_else(|e| panic!("readout is not JSON ({e}): {text}"));
    assert_eq!(json.get("done"), &Json::Bool(scene.is_done()));
    assert_eq!(json.get("notes").arr().len(), scene.notes.len());
    let panels = json.get("panels").arr();
    assert_eq!(panels.len(), scene.panels.len());
    for (panel, item) in scene.panels.iter().zip(panels) {
        for key in PANEL_KEYS {
            item.get(key);
        }
        let run = &panel.run;
        let (n, d) = (run.n(), run.spec().d);
        let big_k = run.computed_steps();
        assert_eq!(item.get("n"), &Json::Num(n as f64));
        assert_eq!(item.get("d"), &Json::Num(d as f64));
        assert_eq!(item.get("final_positions").arr().len(), n);
        assert_eq!(item.get("diameter").arr().len(), big_k + 1);
        assert_eq!(item.get("cluster_count").arr().len(), big_k + 1);
        assert_eq!(item.get("max_distance_to_final").arr().len(), big_k + 1);
        assert_eq!(item.get("asymmetry").arr().len(), big_k);
        assert_eq!(item.get("margin_undefined").arr().len(), big_k);
        match d {
            2 => {
                assert_eq!(
                    item.get("hull_vertices").indices(),
                    run.hull_2d(big_k).unwrap()
                );
                assert_eq!(item.get("area").arr().len(), big_k + 1);
            }
            3 => assert_eq!(
                item.get("hull_vertices").indices(),
                run.extreme_points_3d(big_k).unwrap()
            ),
            1 => assert!(!item.get("hull_vertices").arr().is_empty()),
            _ => assert_eq!(item.get("hull_vertices"), &Json::Null),
        }
        if d != 2 {
            assert_eq!(item.get("area"), &Json::Null);
        }
        let (leaders, fixed) = match big_k {
            0 => (Vec::new(), Vec::new()),
            k => (run.leaders(k - 1), run.fixed_leaders(k - 1)),
        };
        assert_eq!(item.get("leaders").indices(), leaders);
        assert_eq!(item.get("fixed_leaders").indices(), fixed);
        let clusters: usize = item
            .get("clusters")
            .arr()
            .iter()
            .map(|c| c.arr().len())
            .sum();
        assert_eq!(clusters, n, "every token in one cluster");
        let q = item.get("quiescent");
        let sets: Vec<Vec<usize>> = q.get("sets").arr().iter().map(|s| s.indices()).collect();
        assert_eq!(sets, run.quiescent().sets);
        match q.get("definition") {
            Json::Str(s) => assert!(s.starts_with("working definition")),
            other => panic!("{other:?}"),
        }
        if panel.rule == RuleChoice::Softmax {
            assert_eq!(item.get("delta"), &Json::Null);
        } else {
            assert_eq!(item.get("delta").arr().len(), big_k);
        }
    }
}

fn check_svgs(scene: &Scene, what: &str) {
    for figure in [Figure::Particles, Figure::Plots] {
        for at in [0.0, 0.37, 1.0] {
            let size = figure.default_size(scene.panels.len());
            let svg = render_svg(scene, figure, size, at);
            assert!(svg.starts_with("<svg"), "{what}: {figure:?} did not draw");
            assert!(!svg.contains("NaN"), "{what}: NaN in the {figure:?} SVG");
            assert!(!svg.contains("inf"), "{what}: inf in the {figure:?} SVG");
            assert!(
                !svg.contains("drawing failed"),
                "{what}: {figure:?} drawing failed"
            );
        }
    }
    // Narrow plots stack 4×1; small panels drop the legend; scale 2 (retina).
    let svg = render_svg(scene, Figure::Plots, (320, 900), 0.5);
    assert!(!svg.contains("NaN"), "{what}: narrow plots");
    let svg = render_svg(scene, Figure::Particles, (160, 120), 0.5);
    assert!(!svg.contains("NaN"), "{what}: small particles");
}

const RULES: [RuleChoice; 4] = [
    RuleChoice::Softmax,
    RuleChoice::Hardmax,
    RuleChoice::Localmax,
    RuleChoice::Compare,
];

const INITS: [InitChoice; 8] = [
    InitChoice::Fig2Leader,
    InitChoice::Fig2Square,
    InitChoice::Fig2NonLeader,
    InitChoice::Square,
    InitChoice::Disk,
    InitChoice::Clusters,
    InitChoice::Circle,
    InitChoice::Custom,
];

#[test]
fn every_rule_start_and_dimension_builds_finishes_and_draws() {
    for d in [1usize, 2, 3, 5] {
        for init in INITS {
            for (index, rule) in RULES.iter().enumerate() {
                let x0: Vec<f64> = (0..6 * d)
                    .map(|i| ((i * 37 % 11) as f64 - 5.0) / 5.0)
                    .collect();
                let state = normalised(State {
                    rule: *rule,
                    init,
                    d,
                    n: 24,
                    steps: 20,
                    x0,
                    margin: if index % 2 == 0 {
                        Margin::Multiplicative
                    } else {
                        Margin::Additive
                    },
                    focus: Some(1),
                    cells: true,
                    trails: true,
                    hull: true,
                    ..State::default()
                });
                let what = format!("d = {d}, {init:?}, {rule:?}");
                let scene = computed(state);
                assert_eq!(
                    scene.panels.len(),
                    if *rule == RuleChoice::Compare { 3 } else { 1 },
                    "{what}: {:?}",
                    scene.notes
                );
                assert!(!scene.notes.is_empty() && scene.notes.len() <= 8, "{what}");
                assert!(scene.notes.iter().all(|n| !n.contains("NaN")), "{what}");
                assert!(!scene.summary().is_empty());
                check_svgs(&scene, &what);
                check_readout(&scene);
            }
        }
    }
}

/// Degenerate inputs: one token, no or one step, coincident points, huge coordinates.
fn degenerate_cases() -> Vec<(&'static str, State)> {
    vec![
        (
            "one token",
            State {
                init: InitChoice::Custom,
                x0: vec![0.3, -0.2],
                ..State::default()
            },
        ),
        (
            "one step",
            State {
                steps: 1,
                ..State::default()
            },
        ),
        (
            "zero steps",
            State {
                steps: 0,
                ..State::default()
            },
        ),
        (
            "all points identical",
            State {
                init: InitChoice::Custom,
                x0: [0.5, 0.5].repeat(7),
                rule: RuleChoice::Compare,
                cells: true,
                focus: Some(2),
                ..State::default()
            },
        ),
        (
            "huge coordinates",
            State {
                init: InitChoice::Custom,
                x0: vec![1e6, 1e6, -1e6, 1e6, 0.0, -1e6, 1e6, -1e6, 3.0, 4.0],
                rule: RuleChoice::Compare,
                cells: true,
                focus: Some(0),
                ..State::default()
            },
        ),
        (
            "identical points at 1e6 in d = 1",
            State {
                init: InitChoice::Custom,
                d: 1,
                x0: vec![1e6; 5],
                ..State::default()
            },
        ),
    ]
}

/// Unusual settings: high d, indefinite and rotating matrices, extreme beta and view angles.
fn unusual_setting_cases() -> Vec<(&'static str, State)> {
    vec![
        (
            "d = 16, spd matrix",
            State {
                d: 16,
                n: 30,
                steps: 30,
                matrix: MatrixChoice::Spd,
                rule: RuleChoice::Compare,
                ..State::default()
            },
        ),
        (
            "negative definite, multiplicative margin",
            State {
                matrix: MatrixChoice::NegDef,
                margin: Margin::Multiplicative,
                cells: true,
                ..State::default()
            },
        ),
        (
            "rotation, piecewise schedule, softmax at large beta",
            State {
                matrix: MatrixChoice::Rotation,
                theta: 2.0,
                schedule: ScheduleChoice::Piecewise,
                rule: RuleChoice::Compare,
                beta: 1e4,
                yaw: 1e9,
                pitch: -1e9,
                ..State::default()
            },
        ),
        (
            "d = 3, circle, vanishing schedule",
            State {
                d: 3,
                init: InitChoice::Circle,
                schedule: ScheduleChoice::Vanishing,
                focus: Some(3),
                ..State::default()
            },
        ),
    ]
}

#[test]
fn edge_cases_never_panic_and_never_draw_nan() {
    for (what, state) in degenerate_cases()
        .into_iter()
        .chain(unusual_setting_cases())
    {
        let scene = computed(normalised(state));
        assert!(!scene.panels.is_empty(), "{what}: {:?}", scene.notes);
        check_svgs(&scene, what);
        check_readout(&scene);
        let csv = export::csv(&scene, "#attention?v=1");
        assert!(!csv.contains("NaN"), "{what}");
    }
}

#[test]
fn a_run_that_cannot_start_leaves_a_note_and_draws_a_message() {
    // Not normalised on purpose: d = 0 is refused by the maths core.
    let state = State {
        d: 0,
        ..State::default()
    };
    let scene = Scene::new(state);
    assert!(scene.panels.is_empty());
    assert!(scene.is_done());
    assert!(scene.notes.iter().any(|n| n.contains("cannot start")));
    for figure in [Figure::Particles, Figure::Plots] {
        let svg = render_svg(&scene, figure, (400, 300), 1.0);
        assert!(svg.contains("cannot start"), "{svg}");
    }
    parse_json(&scene.readout_json()).unwrap();
}

#[test]
fn figure2_leader_case_is_noted() {
    let scene = computed(normalised(State {
        rule: RuleChoice::Hardmax,
        init: InitChoice::Fig2Leader,
        steps: 30,
        ..State::default()
    }));
    assert!(
        scene
            .notes
            .iter()
            .any(|n| n.contains("token 1 became a leader at step 1 and stayed fixed")),
        "{:#?}",
        scene.notes
    );
    // In compare mode the hardmax note carries the rule's name.
    let scene = computed(normalised(State {
        rule: RuleChoice::Compare,
        init: InitChoice::Fig2Leader,
        steps: 30,
        ..State::default()
    }));
    assert!(
        scene
            .notes
            .iter()
            .any(|n| n.contains("hardmax: token 1 became a leader at step 1")),
        "{:#?}",
        scene.notes
    );
}

#[test]
fn notes_report_delta_zero_margins_and_psd() {
    let scene = computed(normalised(State {
        delta: 0.0,
        ..State::default()
    }));
    assert!(
        scene
            .notes
            .iter()
            .any(|n| n == "delta = 0: localmax is exactly hardmax"),
        "{:#?}",
        scene.notes
    );
    // A = -I and every token in the positive quadrant: every maximum alignment is negative.
    let scene = computed(normalised(State {
        margin: Margin::Multiplicative,
        matrix: MatrixChoice::Custom,
        a_custom: vec![-1.0, 0.0, 0.0, -1.0],
        init: InitChoice::Custom,
        x0: vec![0.2, 0.3, 0.9, 0.1, 0.5, 0.5, 0.1, 0.8],
        ..State::default()
    }));
    assert!(
        scene
            .notes
            .iter()
            .any(|n| n.starts_with("multiplicative margin is undefined for")),
        "{:#?}",
        scene.notes
    );
    let scene = computed(normalised(State {
        cells: true,
        matrix: MatrixChoice::Rotation,
        theta: 2.5,
        ..State::default()
    }));
    assert!(
        scene
            .notes
            .iter()
            .any(|n| n.contains("exact only for A positive semidefinite")),
        "{:#?}",
        scene.notes
    );
    // The default scene: a convergence statement and the quiescent sets.
    let scene = computed(State::default());
    assert!(
        scene
            .notes
            .iter()
            .any(|n| n.contains("no finite-time convergence")
                || n.contains("no token moves after step")),
        "{:#?}",
        scene.notes
    );
    assert!(
        scene
            .notes
            .iter()
            .any(|n| n.contains("quiescent set") && n.contains("working definition")),
        "{:#?}",
        scene.notes
    );
    assert!(scene.notes.len() <= 8);
}

#[test]
fn hardmax_with_psd_matrix_reports_the_straight_line_check() {
    let scene = computed(normalised(State {
        rule: RuleChoice::Hardmax,
        init: InitChoice::Fig2Square,
        steps: 30,
        ..State::default()
    }));
    let json = parse_json(&scene.readout_json()).unwrap();
    let line = json.get("panels").arr()[0].get("straight_line");
    assert_eq!(line.get("target").arr().len(), 10);
    // The square's vertices are their own targets with residual 0.
    for i in 0..4 {
        assert_eq!(line.get("target").arr()[i], Json::Num(i as f64));
        assert_eq!(line.get("residual").arr()[i], Json::Num(0.0));
    }
    // Softmax has none.
    let scene = computed(State {
        rule: RuleChoice::Softmax,
        steps: 5,
        ..State::default()
    });
    let json = parse_json(&scene.readout_json()).unwrap();
    assert_eq!(
        json.get("panels").arr()[0].get("straight_line"),
        &Json::Null
    );
}

#[test]
fn csv_has_one_row_per_rule_step_and_token() {
    for (link, d) in [
        ("#attention?v=1&rule=compare&n=12&steps=9", 2),
        ("#attention?v=1&rule=hardmax&n=7&d=3&steps=4", 3),
        ("#attention?v=1&n=5&d=1&steps=3", 1),
    ] {
        let scene = scene_of(link);
        assert_eq!(scene.state.d, d, "{link}");
        let csv = export::csv(&scene, link);
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        let comments = lines.iter().take_while(|l| l.starts_with("# ")).count();
        assert!(lines[1].contains(link), "{link}: the link is in the header");
        let header: Vec<&str> = lines[comments].split(',').collect();
        assert_eq!(
            header,
            export::csv_header(d)
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
        );
        assert_eq!(&header[..3], &["rule", "step", "token"]);
        assert_eq!(header[3], "x1");
        let rows: Vec<Vec<&str>> = lines[comments + 1..]
            .iter()
            .map(|l| l.split(',').collect())
            .collect();
        let n = scene.panels[0].run.n();
        let expected = scene.panels.len() * (scene.state.steps + 1) * n;
        assert_eq!(rows.len(), expected, "{link}");
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            assert_eq!(row.len(), header.len(), "{link}: {row:?}");
            assert!(
                seen.insert((row[0], row[1], row[2])),
                "{link}: duplicate {row:?}"
            );
        }
        // The coordinates are exactly the run's.
        let run = &scene.panels[0].run;
        let last = &rows[(scene.state.steps) * n];
        let x: Vec<f64> = last[3..3 + d].iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(x, run.final_positions()[..d].to_vec());
    }
}

#[test]
fn state_json_is_valid_and_names_everything() {
    let link = "#attention?v=1&rule=compare&n=10&steps=6&focus=2&embed=1";
    let (state, _) = Attention::from_hash(link);
    let scene = computed(state);
    let (page, _) = Attention::page_from_hash(link);
    let text = Attention::json(&scene, &page, link);
    let json = parse_json(text.trim_end()).unwrap();
    assert_eq!(json.get("explorer"), &Json::Str("attention".into()));
    assert_eq!(json.get("link"), &Json::Str(link.into()));
    assert_eq!(json.get("page").get("embed"), &Json::Bool(true));
    assert_eq!(json.get("state").get("rule"), &Json::Str("compare".into()));
    assert_eq!(json.get("state").get("n"), &Json::Num(10.0));
    assert_eq!(json.get("readout").get("panels").arr().len(), 3);
    match json.get("canonical_link") {
        Json::Str(canonical) => {
            let (again, msgs) = Attention::from_hash(canonical);
            assert!(msgs.is_empty(), "{msgs:?}");
            assert_eq!(again, scene.state);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn file_stems_say_what_they_are() {
    assert_eq!(
        Attention::file_stem(&State::default()),
        "token-dynamics_attention_localmax-additive-delta0.1_square-n64"
    );
    let stem = Attention::file_stem(&State {
        rule: RuleChoice::Hardmax,
        init: InitChoice::Fig2Leader,
        d: 3,
        matrix: MatrixChoice::Spd,
        ..State::default()
    });
    assert_eq!(
        stem,
        "token-dynamics_attention_hardmax_fig2-leader-n8_d3_A-spd"
    );
    assert!(stem
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
}

#[test]
fn svg_is_deterministic() {
    for link in [
        "#attention?v=1&rule=compare&n=40&steps=30&focus=3&cells=on",
        "#attention?v=1&d=5&n=30&steps=20&focus=0",
        "#attention?v=1&d=3&n=30&steps=20&yaw=50&pitch=10",
    ] {
        for figure in [Figure::Particles, Figure::Plots] {
            let a = render_svg(&scene_of(link), figure, (700, 460), 0.6);
            let b = render_svg(&scene_of(link), figure, (700, 460), 0.6);
            assert!(a == b, "{link}: {figure:?} differs between two renders");
        }
    }
}

#[test]
fn progressive_scene_draws_what_exists() {
    let mut scene = Scene::new(normalised(State {
        rule: RuleChoice::Compare,
        n: 40,
        steps: 50,
        ..State::default()
    }));
    assert!(!scene.is_done());
    assert!(scene.work_per_step() > 0.0);
    assert_eq!(scene.total_steps(), 50);
    scene.advance(20);
    assert!(!scene.is_done());
    assert!((scene.progress() - 0.4).abs() < 1e-12);
    assert_eq!(scene.step_at(1.0), 20, "clamped to what is computed");
    assert_eq!(scene.step_at(0.2), 10);
    let svg = render_svg(&scene, Figure::Particles, (900, 460), 1.0);
    assert!(svg.contains("computing… 40%"), "progress is shown");
    let svg = render_svg(&scene, Figure::Plots, (720, 480), 1.0);
    assert!(svg.contains("computing… 40%"));
    let readout = parse_json(&scene.readout_json()).unwrap();
    assert_eq!(readout.get("done"), &Json::Bool(false));
    assert!(!scene.advance(10));
    assert!(scene.advance(100));
    assert_eq!(scene.step_at(f64::NAN), 50);
}

#[test]
fn particle_frame_maps_pixels_and_tokens_both_ways() {
    let scene = scene_of("#attention?v=1&n=30&steps=10");
    let frame = ParticleFrame::fit(&scene, 0, 440.0, 460.0, 1.0);
    let x0 = scene.initial_points();
    for p in x0.chunks_exact(2) {
        let (x, y) = frame.to_px(p);
        assert!(x > frame.left && x < frame.left + frame.width, "inside");
        assert!(y > frame.top && y < frame.top + frame.height, "inside");
        let back = frame.from_px(x, y).unwrap();
        assert!((back[0] - p[0]).abs() < 1e-9 && (back[1] - p[1]).abs() < 1e-9);
    }
    // Equal aspect: one unit is as many pixels across as up.
    let (a, b) = (frame.to_px(&[0.0, 0.0]), frame.to_px(&[1.0, 1.0]));
    assert!(((b.0 - a.0) - (a.1 - b.1)).abs() < 1e-9);
    assert!(frame.from_px(1.0, 1.0).is_none(), "outside the plot");
    // nearest_token at step 0 finds the token under its own pixel.
    for (i, p) in x0.chunks_exact(2).enumerate().take(10) {
        let (x, y) = frame.to_px(p);
        let hit = frame
            .nearest_token(&scene, 0, x + 0.5, y - 0.5, 6.0)
            .unwrap();
        let q = &x0[2 * hit..2 * hit + 2];
        let (hx, hy) = frame.to_px(q);
        assert!((hx - x).hypot(hy - y) <= 1.0 || hit == i);
    }
    assert_eq!(frame.nearest_token(&scene, 0, -500.0, -500.0, 6.0), None);
    // d = 3: no inverse; every token maps inside the plot whatever the angles.
    let scene = scene_of("#attention?v=1&n=30&steps=5&d=3&yaw=123&pitch=-70");
    let frame = ParticleFrame::fit(&scene, 0, 440.0, 460.0, 2.0);
    assert!(frame.from_px(200.0, 200.0).is_none());
    for p in scene.initial_points().chunks_exact(3) {
        let (x, y) = frame.to_px(p);
        assert!(x >= frame.left && x <= frame.left + frame.width);
        assert!(y >= frame.top && y <= frame.top + frame.height);
    }
    // d = 1: the coordinate across, the step down.
    let scene = scene_of("#attention?v=1&n=9&steps=8&d=1");
    let frame = ParticleFrame::fit(&scene, 0, 440.0, 460.0, 1.0);
    let x = scene.initial_points()[0];
    let (px0, _) = frame.to_px(&[x]);
    assert_eq!(frame.from_px(px0, frame.top + 5.0).unwrap().len(), 1);
    assert!(frame.step_y(8.0) > frame.step_y(0.0));
}

#[test]
fn figure_names_and_sizes() {
    for figure in [Figure::Particles, Figure::Plots] {
        assert_eq!(Figure::parse(figure.name()), Some(figure));
    }
    assert_eq!(Figure::parse("simplex"), None);
    assert_eq!(
        Figure::Particles.default_size(3).0,
        3 * Figure::Particles.default_size(1).0
    );
}

/// The bench's sphere scenario is the page's link (so the bench table's link opens the same run).
#[cfg(feature = "bench")]
#[test]
fn sphere_bench_scenario_is_its_link() {
    use td_attention::bench::{scenario, SPHERE_SCENARIO_LINK};
    use td_attention::explorer::Attention;
    use td_core::explorer::Explorer;
    let (state, msgs) = Attention::from_hash(SPHERE_SCENARIO_LINK);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(scenario("att-sphere-n2000-d3-200"), Some(state));
}

// ------------------------------------------------------------------------------------- timings
// cargo test --release -p td-attention --test attention_scene -- --ignored --nocapture

#[cfg(feature = "bench")]
#[test]
#[ignore]
fn timings() {
    use std::time::Instant;
    fn ms(start: Instant) -> f64 {
        start.elapsed().as_secs_f64() * 1e3
    }
    for (what, state) in [
        ("default (n=64, 200 steps)", State::default()),
        (
            "n=256 x 200 localmax",
            td_attention::bench::scenario("att-n256-localmax-200").unwrap(),
        ),
        (
            "n=2000 x 200 localmax",
            td_attention::bench::scenario("att-n2000-localmax-200").unwrap(),
        ),
        (
            "n=2000 x 200 localmax d=3",
            State {
                n: 2000,
                d: 3,
                ..State::default()
            },
        ),
    ] {
        let start = Instant::now();
        let mut scene = Scene::new(state);
        while !scene.panels.iter().all(|p| p.run.finished()) {
            for panel in &mut scene.panels {
                panel.run.advance(usize::MAX);
            }
        }
        let runs = ms(start);
        let start = Instant::now();
        scene.advance(1);
        let finish = ms(start);
        let mut paint = Vec::new();
        for figure in [Figure::Particles, Figure::Plots] {
            let start = Instant::now();
            let svg = render_svg(&scene, figure, figure.default_size(scene.panels.len()), 1.0);
            paint.push((figure, ms(start), svg.len()));
        }
        let start = Instant::now();
        let readout = scene.readout_json();
        let readout_ms = ms(start);
        let start = Instant::now();
        let csv = export::csv(&scene, "#attention?v=1");
        let csv_ms = ms(start);
        println!(
            "{what}: runs {runs:.1} ms, scene finish (caches + notes) {finish:.1} ms, paint {:?}, readout {readout_ms:.1} ms ({} kB), csv {csv_ms:.1} ms ({} kB)",
            paint,
            readout.len() / 1000,
            csv.len() / 1000
        );
    }
}

// ---------------------------------------------------------------- notes are claims

fn has_note(scene: &Scene, part: &str) -> bool {
    scene.notes.iter().any(|n| n.contains(part))
}

/// Largest distance between the same token in two runs' final positions.
fn final_gap(a: &Scene, b: &Scene) -> f64 {
    let (x, y) = (
        a.panels[0].run.final_positions(),
        b.panels[0].run.final_positions(),
    );
    x.iter()
        .zip(y)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

/// Issue "every sentence is true", case 9: the paper's "a vanishing delta recovers hardmax" is not
/// a property of our stand-in rule's every schedule: with q = 1 on the square the run ends well
/// away from hardmax's end, so the page must not say it recovers hardmax.
#[test]
fn a_vanishing_delta_is_not_said_to_recover_hardmax() {
    let vanishing = scene_of("#attention?v=1&delta=0.3&schedule=vanishing&q=1&init=fig2-square");
    let hardmax = scene_of("#attention?v=1&rule=hardmax&init=fig2-square");
    let gap = final_gap(&vanishing, &hardmax);
    assert!(gap > 0.5, "q = 1 ends {gap} from hardmax's end");
    assert!(
        !has_note(&vanishing, "recovers hardmax"),
        "{:?}",
        vanishing.notes
    );
    assert!(
        has_note(&vanishing, "delta(k) decreases"),
        "{:?}",
        vanishing.notes
    );
}

/// The hull diameter of the first panel's run at every state.
fn diameters(scene: &Scene) -> Vec<f64> {
    scene.panels[0]
        .run
        .state_diags()
        .iter()
        .map(|s| s.diameter)
        .collect()
}

/// Case 10: under softmax with finite beta every weight is positive, so the hull keeps shrinking
/// and the clusters are metastable: the final hull is not "the limit polytope".
#[test]
fn softmax_clusters_are_metastable_not_a_limit_polytope() {
    let scene = scene_of("#attention?v=1&rule=softmax&beta=20");
    let diameters = diameters(&scene);
    let last = diameters.len() - 1;
    assert!(
        diameters[last] < diameters[last / 2],
        "the hull stopped shrinking: {} then {}",
        diameters[last / 2],
        diameters[last]
    );
    assert!(!has_note(&scene, "limit polytope"), "{:?}", scene.notes);
    assert!(has_note(&scene, "metastable"), "{:?}", scene.notes);
    // Hardmax is the paper's limit-polytope case, and keeps the words.
    let hardmax = scene_of("#attention?v=1&rule=hardmax&init=fig2-square");
    assert!(has_note(&hardmax, "limit polytope"), "{:?}", hardmax.notes);
}

/// At beta = 50 the clusters of the default start stop moving in floating point: the note says
/// what the run shows (the diameter no longer shrinks), not that they are still drawing together.
#[test]
fn frozen_softmax_clusters_are_described_by_the_run() {
    let scene = scene_of("#attention?v=1&rule=softmax&beta=50");
    let diameters = diameters(&scene);
    let last = diameters.len() - 1;
    assert!(
        diameters[last] >= diameters[last / 2],
        "{} then {}",
        diameters[last / 2],
        diameters[last]
    );
    assert!(!has_note(&scene, "still shrinking"), "{:?}", scene.notes);
    assert!(
        has_note(&scene, "no longer shrinks measurably"),
        "{:?}",
        scene.notes
    );
}

/// On the sphere with A = I every token attains its row's maximum, so the figure marks no leader
/// and its legend says why; in R^d (and with another A on the sphere) the stars and their legend
/// are drawn. The claim is checked on the run: every token is a leader at every step.
#[test]
fn sphere_with_identity_marks_no_leaders_and_says_why() {
    let note = "leaders not marked: on the sphere with A = I";
    let sphere = "#attention?v=1&rule=softmax&norm=sphere&time=layers&n=40&d=3&steps=30&init=disk";
    let scene = scene_of(sphere);
    assert!(scene.state.leaders_trivial());
    for panel in &scene.panels {
        let run = &panel.run;
        for k in 0..run.computed_steps() {
            assert_eq!(run.leaders(k).len(), run.n(), "{sphere}: step {k}");
        }
    }
    let svg = render_svg(&scene, Figure::Particles, (700, 460), 1.0);
    assert!(
        svg.contains(note),
        "{sphere}: the legend explains the missing stars"
    );
    assert!(!svg.contains("★"), "{sphere}: no star legend");
    for link in [
        "#attention?v=1&rule=softmax&n=40&d=3&steps=30",
        "#attention?v=1&rule=softmax&norm=sphere&matrix=spd&n=40&d=3&steps=30",
    ] {
        let scene = scene_of(link);
        assert!(!scene.state.leaders_trivial(), "{link}");
        let svg = render_svg(&scene, Figure::Particles, (700, 460), 1.0);
        assert!(
            svg.contains("★ fixed leader") && !svg.contains(note),
            "{link}"
        );
    }
}

/// An exported SVG names itself: the embed title and the figure as `<title>`, the summary and the
/// link as `<desc>`, before any drawing.
#[test]
fn exported_svg_carries_title_and_description() {
    let link = "#attention?v=1&rule=softmax&norm=sphere&n=12&d=3&steps=10&init=disk";
    let scene = scene_of(link);
    let svg = <Attention as Explorer>::render_svg(&scene, "particles", (700, 460), 1.0);
    let title = svg
        .find("<title>token-dynamics: attention particles")
        .expect("a title");
    let desc = svg.find("<desc>").expect("a description");
    assert!(title < desc && desc < svg.find("<rect").unwrap_or(usize::MAX));
    let canonical = <Attention as Explorer>::to_hash(&scene.state).replace('&', "&amp;");
    assert!(
        svg.contains(&format!("reproduces the figure: {canonical}</desc>")),
        "{}",
        &svg[..600]
    );
}
