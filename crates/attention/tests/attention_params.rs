//! The attention explorer's parameter table and links: defaults, exact round trips (examples and
//! proptest over random states), hostile values, the cross-key rules of `normalise`, presets, and
//! fuzzing of the parser (no panic, bounded time and output, idempotent normalisation).
//!
//! Case counts: the default (256, or PROPTEST_CASES, which CI sets to 64) for small inputs; at most
//! 16 for the 100 kB ones.

use std::time::{Duration, Instant};
use td_attention::explorer::Attention;
use td_core::explorer::Explorer;

use proptest::prelude::*;
use td_attention::params::{
    controlled_by, normalise, trajectory_values, Group, InitChoice, Kind, MatrixChoice, Message,
    RuleChoice, ScheduleChoice, State, MAX_ABS_COORD, MAX_CUSTOM_POINTS, MAX_D, MAX_N, MAX_PIECES,
    MAX_PIECE_DELTA, MAX_STEPS, MAX_TRAJECTORY_VALUES, PARAMS,
};
use td_attention::presets::{preset, PRESETS};
use td_core::page;
use td_particles::Margin;

const PARSE_LIMIT: Duration = Duration::from_secs(1);

fn cases(wanted: u32) -> ProptestConfig {
    ProptestConfig::with_cases(wanted.min(ProptestConfig::default().cases))
}

fn named(msgs: &[Message], key: &str) -> bool {
    msgs.iter().any(|m| m.key == key)
}

fn clean(link: &str) -> State {
    let (st, msgs) = Attention::from_hash(link);
    assert!(msgs.is_empty(), "{link}: {msgs:?}");
    st
}

/// parse(print(st)) == st with no message, and printing is stable.
fn assert_round_trip(st: &State) {
    let printed = Attention::to_hash(st);
    let (again, msgs) = Attention::from_hash(&printed);
    assert!(msgs.is_empty(), "{printed}: {msgs:?}");
    assert_eq!(&again, st, "{printed}");
    assert_eq!(Attention::to_hash(&again), printed);
}

/// Everything a parsed or normalised state satisfies, whatever came in.
fn check_bounded(st: &State) {
    for p in PARAMS {
        if let Kind::Number { min, max, get, .. } | Kind::Integer { min, max, get, .. } = &p.kind {
            let v = get(st);
            assert!(
                v.is_finite() && v >= *min && v <= *max,
                "{} = {v} outside [{min}, {max}]",
                p.key
            );
        }
    }
    let d = st.d;
    assert!((1..=MAX_D).contains(&d));
    assert!((1..=MAX_N).contains(&st.n));
    assert!((1..=MAX_STEPS).contains(&st.steps));
    assert!(st.diag.len() <= MAX_D);
    assert!(st
        .diag
        .iter()
        .all(|v| v.is_finite() && v.abs() <= MAX_ABS_COORD));
    assert!(
        st.a_custom.is_empty() || st.a_custom.len() == d * d,
        "A has {} entries, d = {d}",
        st.a_custom.len()
    );
    assert!(st
        .a_custom
        .iter()
        .all(|v| v.is_finite() && v.abs() <= MAX_ABS_COORD));
    if st.matrix == MatrixChoice::Custom {
        assert_eq!(st.a_custom.len(), d * d);
    }
    assert_eq!(st.x0.len() % d, 0);
    assert!(st.x0.len() <= MAX_CUSTOM_POINTS * d);
    assert!(st
        .x0
        .iter()
        .all(|v| v.is_finite() && v.abs() <= MAX_ABS_COORD));
    if st.init == InitChoice::Custom {
        assert!(!st.x0.is_empty());
    }
    assert!(st.pieces.len() <= MAX_PIECES);
    assert!(
        st.pieces.windows(2).all(|w| w[0].0 < w[1].0),
        "{:?}",
        st.pieces
    );
    assert!(st.pieces.iter().all(|(from, dl)| *from <= MAX_STEPS
        && dl.is_finite()
        && (0.0..=MAX_PIECE_DELTA).contains(dl)));
    assert!(trajectory_values(st) <= MAX_TRAJECTORY_VALUES);
    if let Some(k0) = st.k0 {
        assert!(k0 < st.steps);
    }
    if let Some(i) = st.focus {
        assert!(i < st.token_count());
    }
    assert_eq!(st.token_count(), st.initial_points().len() / st.d.max(1));
    // Normalising again changes nothing and says nothing.
    let mut again = st.clone();
    let mut msgs = Vec::new();
    normalise(&mut again, &mut msgs);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(&again, st);
    // The printed link is bounded and reads back to the same state.
    let printed = Attention::to_hash(st);
    assert!(
        printed.len() <= 1 << 20,
        "printed link of {} bytes",
        printed.len()
    );
    assert_round_trip(st);
}

fn timed_parse(link: &str) -> (State, Vec<Message>) {
    let start = Instant::now();
    let out = Attention::from_hash(link);
    let took = start.elapsed();
    assert!(
        took < PARSE_LIMIT,
        "parsing {} bytes took {took:?}",
        link.len()
    );
    out
}

// ---------------------------------------------------------------------------------------------
// The table itself.

#[test]
fn default_state_prints_only_the_version() {
    assert_eq!(Attention::to_hash(&State::default()), "#attention?v=1");
    assert_eq!(clean("#attention?v=1"), State::default());
    assert_eq!(clean(""), State::default());
    assert_eq!(clean("#attention"), State::default());
}

#[test]
fn table_is_well_formed() {
    let keys = Attention::control_keys();
    for (i, key) in keys.iter().enumerate() {
        assert!(!keys[..i].contains(key), "duplicate key {key}");
        assert!(!page::is_page_key(key), "{key} collides with a page option");
        assert_ne!(*key, "v");
    }
    let defaults = State::default();
    for p in PARAMS {
        assert!(!p.label.is_empty() && !p.help.is_empty(), "{}", p.key);
        let sentences = p.help.matches(". ").count() + 1;
        assert!(sentences <= 3, "{}: help too long", p.key);
        if let Kind::Number { min, max, get, .. } | Kind::Integer { min, max, get, .. } = &p.kind {
            let v = get(&defaults);
            assert!(min < max && v >= *min && v <= *max, "{} default {v}", p.key);
        }
        if let Some(parent) = controlled_by(p.key) {
            assert!(
                Attention::param(parent).is_some(),
                "{} controlled by unknown {parent}",
                p.key
            );
        }
        assert!(Group::ALL.contains(&p.group));
    }
    for g in Group::ALL {
        assert!(
            PARAMS.iter().any(|p| p.group == g),
            "{} is empty",
            g.title()
        );
    }
    assert_eq!(
        Attention::panels(),
        ["particles", "plots", "readout", "notes"]
    );
    // delta starts at exactly 0 on a linear slider: hardmax is reachable by dragging.
    match &Attention::param("delta").unwrap().kind {
        Kind::Number { min, log, .. } => assert!(*min == 0.0 && !*log),
        _ => panic!("delta is a number"),
    }
    // The margin's help says the rule is ours.
    let help = Attention::param("margin").unwrap().help;
    assert!(
        help.contains("unknown") && help.contains("stand-in"),
        "{help}"
    );
    assert_eq!(Attention::all_pairs(&defaults).len(), PARAMS.len());
}

#[test]
fn every_key_survives_a_round_trip() {
    let link = "#attention?v=1&rule=compare&norm=sphere&attn=usa&time=layers&h=0.25&itol=1e-7&value=a&margin=multiplicative&delta=0.37&schedule=piecewise&q=2.5&r=0.8&pieces=0:0.5,20:0.25,90:0&beta=12.5&alpha=0.25&matrix=rotation&theta=-1.2&diag=3,0.25,-1&A=1,2,3,4&n=300&d=2&steps=150&init=clusters&clusters=7&sd=0.2&rho0=0.25&x0=0.1,0.2;-0.3,0.4&seed=12345&tol=1e-6&k0=40&trails=off&hull=off&cells=on&focus=3&yaw=-45&pitch=10&at=0.25&speed=2";
    let (st, msgs) = Attention::from_hash(link);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(st.rule, RuleChoice::Compare);
    assert_eq!(st.margin, Margin::Multiplicative);
    assert_eq!(st.schedule, ScheduleChoice::Piecewise);
    assert_eq!(st.pieces, vec![(0, 0.5), (20, 0.25), (90, 0.0)]);
    assert_eq!(
        st.matrix,
        MatrixChoice::Rotation,
        "explicit matrix wins over A"
    );
    assert_eq!(st.a_custom, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(st.init, InitChoice::Clusters, "explicit init wins over x0");
    assert_eq!(st.x0, vec![0.1, 0.2, -0.3, 0.4]);
    assert_eq!(st.k0, Some(40));
    assert_eq!(st.focus, Some(3));
    assert!(!st.trails && !st.hull && st.cells);
    assert_round_trip(&st);
    // Every key differs from its default here, so every key is printed, in table order.
    let printed: Vec<String> = Attention::to_pairs(&st)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut expected = vec!["v".to_string()];
    expected.extend(
        PARAMS
            .iter()
            .map(|p| p.key.to_string())
            .filter(|k| k != "d"),
    );
    assert_eq!(printed, expected);
}

#[test]
fn key_order_in_a_link_does_not_matter() {
    let a = clean("#attention?v=1&d=3&x0=1,2,3;4,5,6&init=disk&A=1,0,0,0,1,0,0,0,2&matrix=spd");
    let b = clean("#attention?matrix=spd&A=1,0,0,0,1,0,0,0,2&init=disk&x0=1,2,3;4,5,6&d=3&v=1");
    assert_eq!(a, b);
    assert_eq!(a.init, InitChoice::Disk);
    assert_eq!(a.matrix, MatrixChoice::Spd);
    assert_eq!(a.x0, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // A key given twice: the last one wins.
    assert_eq!(clean("#attention?delta=0.5&delta=0.7").delta, 0.7);
}

#[test]
fn points_and_matrix_select_their_custom_family() {
    let st = clean("#attention?x0=0.5,0.5;-0.5,0.25;0,-1");
    assert_eq!(st.init, InitChoice::Custom);
    assert_eq!(st.token_count(), 3);
    assert_eq!(st.initial_points().len() / st.d, 3);
    assert_eq!(
        Attention::to_hash(&st),
        "#attention?v=1&init=custom&x0=0.5,0.5;-0.5,0.25;0,-1"
    );
    let st = clean("#attention?A=0,1,1,0");
    assert_eq!(st.matrix, MatrixChoice::Custom);
    assert_eq!(st.matrix_entries(), vec![0.0, 1.0, 1.0, 0.0]);
    // Typing them on the page does the same (one pair at a time).
    let mut st = State::default();
    let mut msgs = Vec::new();
    Attention::apply_pair(&mut st, "x0", "1,1;2,2", &mut msgs);
    Attention::apply_pair(&mut st, "A", "2,0,0,2", &mut msgs);
    normalise(&mut st, &mut msgs);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(
        (st.init, st.matrix),
        (InitChoice::Custom, MatrixChoice::Custom)
    );
    // An empty value clears them without selecting anything.
    let st = clean("#attention?x0=&A=");
    assert_eq!(
        (st.init, st.matrix),
        (InitChoice::Square, MatrixChoice::Identity)
    );
}

#[test]
fn custom_settings_survive_a_mode_switch() {
    // The reader places points and a matrix, then looks at another start and another matrix:
    // the custom ones stay in the state and in the link, and come back when selected again.
    let mut st = clean("#attention?x0=0.5,0.5;-0.5,0.25&A=0,1,1,0");
    let mut msgs = Vec::new();
    Attention::apply_pair(&mut st, "init", "disk", &mut msgs);
    Attention::apply_pair(&mut st, "matrix", "spd", &mut msgs);
    normalise(&mut st, &mut msgs);
    assert!(msgs.is_empty());
    let link = Attention::to_hash(&st);
    assert!(link.contains("x0=") && link.contains("A="), "{link}");
    assert_round_trip(&st);
    Attention::apply_pair(&mut st, "init", "custom", &mut msgs);
    Attention::apply_pair(&mut st, "matrix", "custom", &mut msgs);
    normalise(&mut st, &mut msgs);
    assert!(msgs.is_empty());
    assert_eq!(st.x0, vec![0.5, 0.5, -0.5, 0.25]);
    assert_eq!(st.a_custom, vec![0.0, 1.0, 1.0, 0.0]);
}

#[test]
fn choosing_the_custom_matrix_starts_from_the_matrix_in_use() {
    let mut st = clean("#attention?matrix=rotation&theta=0.5");
    let shown = st.matrix_entries();
    let mut msgs = Vec::new();
    Attention::apply_pair(&mut st, "matrix", "custom", &mut msgs);
    normalise(&mut st, &mut msgs);
    assert!(msgs.is_empty());
    assert_eq!(st.matrix_entries(), shown);
    assert_round_trip(&st);
    // In a link, matrix=custom without A is the identity.
    let st = clean("#attention?matrix=custom&d=3");
    assert_eq!(
        st.a_custom,
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    );
}

#[test]
fn custom_without_points_falls_back_with_a_message() {
    let (st, msgs) = Attention::from_hash("#attention?init=custom");
    assert_eq!(st.init, InitChoice::Square);
    assert!(named(&msgs, "init"), "{msgs:?}");
    let (st, msgs) = Attention::from_hash("#attention?x0=abc;1,NaN");
    assert_eq!(st.init, InitChoice::Square);
    assert!(st.x0.is_empty());
    assert!(named(&msgs, "x0"), "{msgs:?}");
}

#[test]
fn changing_d_reshapes_points_and_matrix() {
    let mut st = clean("#attention?x0=1,2;3,4&A=1,2,3,4");
    let mut msgs = Vec::new();
    Attention::apply_pair(&mut st, "d", "3", &mut msgs);
    normalise(&mut st, &mut msgs);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(st.x0, vec![1.0, 2.0, 0.0, 3.0, 4.0, 0.0]);
    assert_eq!(
        st.a_custom,
        vec![1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 1.0]
    );
    Attention::apply_pair(&mut st, "d", "1", &mut msgs);
    normalise(&mut st, &mut msgs);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(st.x0, vec![1.0, 3.0]);
    assert_eq!(st.a_custom, vec![1.0]);
    assert_round_trip(&st);
}

#[test]
fn wrong_counts_in_a_link_are_fixed_with_messages() {
    // Points in the wrong dimension: padded / cut, reported.
    let (st, msgs) = Attention::from_hash("#attention?d=3&x0=1,2;3,4,5,6");
    assert_eq!(st.x0, vec![1.0, 2.0, 0.0, 3.0, 4.0, 5.0]);
    assert!(named(&msgs, "x0"), "{msgs:?}");
    // A matrix with the wrong count: identity entries fill in, extras dropped.
    let (st, msgs) = Attention::from_hash("#attention?A=5,6,7");
    assert_eq!(st.a_custom, vec![5.0, 6.0, 7.0, 1.0]);
    assert!(named(&msgs, "A"), "{msgs:?}");
    let (st, msgs) = Attention::from_hash("#attention?d=1&A=5,6,7");
    assert_eq!(st.a_custom, vec![5.0]);
    assert!(named(&msgs, "A"), "{msgs:?}");
}

#[test]
fn pieces_are_validated_and_sorted() {
    let (st, msgs) =
        Attention::from_hash("#attention?schedule=piecewise&pieces=100:0,0:0.5,50:0.1");
    assert!(msgs.is_empty());
    assert_eq!(st.pieces, vec![(0, 0.5), (50, 0.1), (100, 0.0)]);
    let (st, msgs) = Attention::from_hash(
        "#attention?pieces=0:0.5,x:1,5:-1,2.5:1,7:NaN,10:1e9,10:0.2,20,9999999:1",
    );
    assert_eq!(st.pieces, vec![(0, 0.5), (10, 0.2)]);
    assert!(
        msgs.iter().filter(|m| m.key == "pieces").count() >= 3,
        "{msgs:?}"
    );
    let many: Vec<String> = (0..200).map(|i| format!("{i}:0.1")).collect();
    let (st, msgs) = Attention::from_hash(&format!("#attention?pieces={}", many.join(",")));
    assert_eq!(st.pieces.len(), MAX_PIECES);
    assert!(named(&msgs, "pieces"));
    // An empty list is allowed (delta = 0 throughout: hardmax).
    let st = clean("#attention?schedule=piecewise&pieces=");
    assert!(st.pieces.is_empty());
    assert_round_trip(&st);
}

#[test]
fn hostile_values_are_clamped_with_messages() {
    let link = "#attention?rule=bogus&margin=%3Cscript%3E&delta=-1&schedule=7&q=NaN&r=2&beta=inf&alpha=0&matrix=🙂&theta=1e400&diag=1,x,2e9&n=100000&d=99&steps=0&init=??&clusters=1.5&sd=-0&seed=-3&tol=0&k0=-1&trails=maybe&focus=abc&yaw=1e9&pitch=-1e9&at=2&speed=0&zzz=1&v=99";
    let (st, msgs) = timed_parse(link);
    check_bounded(&st);
    assert_eq!(st.rule, RuleChoice::Localmax);
    assert_eq!(st.delta, 0.0);
    assert_eq!(st.r, 1.0);
    assert_eq!(st.beta, 5.0);
    assert_eq!(st.alpha, 0.01);
    assert_eq!(st.theta, 0.5);
    assert_eq!(st.diag, vec![1.0, MAX_ABS_COORD]);
    assert_eq!(st.n, MAX_N);
    assert_eq!(st.d, MAX_D);
    assert_eq!(st.clusters, 2);
    assert_eq!(st.sd, 0.0);
    assert_eq!(st.seed, 0);
    assert_eq!(st.k0, None);
    assert_eq!(st.focus, None);
    for key in [
        "rule", "margin", "delta", "schedule", "q", "r", "beta", "alpha", "matrix", "theta",
        "diag", "n", "d", "steps", "init", "clusters", "seed", "tol", "k0", "trails", "focus",
        "yaw", "pitch", "at", "speed", "zzz", "v",
    ] {
        assert!(named(&msgs, key), "no message for {key}: {msgs:?}");
    }
    // -0 is a plain 0, and nothing is said about it.
    let st = clean("#attention?sd=-0&delta=-0");
    assert_eq!(st.sd.to_bits(), 0.0f64.to_bits());
    assert_eq!(Attention::to_hash(&st), "#attention?v=1&delta=0&sd=0");
}

#[test]
fn megabyte_values_are_reported_by_key() {
    let huge = "9".repeat(1 << 20);
    for p in PARAMS {
        let link = format!("#attention?{}={huge}", p.key);
        let (st, msgs) = timed_parse(&link);
        check_bounded(&st);
        assert!(named(&msgs, p.key), "{}: {msgs:?}", p.key);
    }
    let points = "1,2;".repeat(300_000);
    let (st, msgs) = timed_parse(&format!("#attention?x0={points}"));
    assert_eq!(st.x0.len(), MAX_CUSTOM_POINTS * 2);
    assert!(named(&msgs, "x0"));
    let (st, msgs) = timed_parse(&format!("#attention?A={}", "1,".repeat(500_000)));
    check_bounded(&st);
    assert!(named(&msgs, "A"));
}

#[test]
fn memory_cap_reduces_steps_with_a_message() {
    let (st, msgs) = Attention::from_hash("#attention?rule=compare&n=2000&d=16&steps=5000");
    check_bounded(&st);
    let per_state = 3 * 2000 * 16;
    assert_eq!(st.steps, MAX_TRAJECTORY_VALUES / per_state - 1);
    let msg = msgs
        .iter()
        .find(|m| m.key == "steps")
        .expect("steps message");
    assert!(
        msg.text.contains(&format!("steps={}", st.steps)),
        "{}",
        msg.text
    );
    // The same size with one rule and 200 steps fits.
    let st = clean("#attention?n=2000&d=16&steps=200");
    assert_eq!(st.steps, 200);
    // k0 follows the reduced steps.
    let (st, msgs) = Attention::from_hash("#attention?rule=compare&n=2000&d=16&steps=5000&k0=4000");
    assert_eq!(st.k0, Some(st.steps - 1));
    assert!(named(&msgs, "k0"));
}

#[test]
fn k0_and_focus_are_checked_against_steps_and_tokens() {
    let (st, msgs) = Attention::from_hash("#attention?steps=30&k0=30");
    assert_eq!(st.k0, Some(29));
    assert!(named(&msgs, "k0"));
    let st = clean("#attention?steps=30&k0=auto");
    assert_eq!(st.k0, None);
    let (st, msgs) = Attention::from_hash("#attention?init=fig2-leader&focus=8");
    assert_eq!(st.focus, None);
    assert!(named(&msgs, "focus"));
    let st = clean("#attention?init=fig2-leader&focus=7");
    assert_eq!(st.focus, Some(7));
    // Figure 2 starts ignore n but keep it.
    let st = clean("#attention?init=fig2-square&n=500");
    assert_eq!((st.n, st.token_count()), (500, 10));
}

#[test]
fn other_explorers_and_page_keys() {
    let (st, msgs) = Attention::from_hash("#next-token?delta=0.3");
    assert_eq!(st.delta, 0.3);
    assert!(named(&msgs, "link"), "{msgs:?}");
    // Page options are not explorer keys: no message here, td_core::page parses them.
    let link = "#attention?embed=1&hide=delta,schedule&view=particles,readout&theme=dark";
    let st = clean(link);
    assert_eq!(st, State::default());
    let (opts, page_msgs) = Attention::page_from_hash(link);
    assert!(page_msgs.is_empty(), "{page_msgs:?}");
    assert!(opts.embed && opts.hide == ["delta", "schedule"]);
}

#[test]
fn normalise_repairs_states_built_in_code() {
    let mut st = State {
        delta: f64::NAN,
        alpha: f64::INFINITY,
        n: 0,
        d: 40,
        steps: 0,
        init: InitChoice::Custom,
        x0: vec![1.0, f64::NAN, 3.0],
        a_custom: vec![f64::INFINITY; 3],
        matrix: MatrixChoice::Custom,
        diag: vec![f64::NAN; 20],
        pieces: vec![(50, 0.1), (0, -1.0), (0, 0.5)],
        focus: Some(1_000_000),
        k0: Some(usize::MAX),
        ..State::default()
    };
    let mut msgs = Vec::new();
    normalise(&mut st, &mut msgs);
    check_bounded(&st);
    for key in [
        "delta", "alpha", "n", "d", "steps", "x0", "A", "diag", "pieces", "focus", "k0",
    ] {
        assert!(named(&msgs, key), "no message for {key}: {msgs:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Presets.

#[test]
fn every_preset_is_a_clean_link() {
    for (i, p) in PRESETS.iter().enumerate() {
        assert!(
            PRESETS[..i].iter().all(|q| q.name != p.name),
            "duplicate {}",
            p.name
        );
        assert!(!p.title.is_empty() && !p.description.is_empty());
        let st = clean(p.hash);
        assert_eq!(
            Attention::to_hash(&st),
            p.hash,
            "preset {} is not canonical",
            p.name
        );
        check_bounded(&st);
        assert_eq!(preset(p.name).map(|q| q.hash), Some(p.hash));
    }
    for name in [
        "fig2-leader",
        "fig2-square",
        "fig2-nonleader",
        "localmax",
        "centre-cluster",
        "consensus",
        "vanishing",
        "multiplicative",
        "compare",
        "frank-wolfe",
        "negdef",
        "softmax",
        "3d",
        "pca",
        "large",
    ] {
        assert!(preset(name).is_some(), "missing preset {name}");
    }
}

#[test]
fn presets_reproduce_the_reference_set_ups() {
    let get = |name: &str| clean(preset(name).unwrap().hash);
    for (name, init) in [
        ("fig2-leader", InitChoice::Fig2Leader),
        ("fig2-square", InitChoice::Fig2Square),
        ("fig2-nonleader", InitChoice::Fig2NonLeader),
    ] {
        let st = get(name);
        assert_eq!(
            (st.rule, st.init, st.steps, st.alpha, st.d),
            (RuleChoice::Hardmax, init, 30, 0.5, 2)
        );
        assert_eq!(st.matrix_entries(), vec![1.0, 0.0, 0.0, 1.0]);
    }
    for (name, delta) in [
        ("localmax", 0.1),
        ("centre-cluster", 1.0),
        ("consensus", 5.0),
    ] {
        let st = get(name);
        assert_eq!(
            (
                st.rule,
                st.margin,
                st.schedule,
                st.init,
                st.alpha,
                st.steps,
                st.delta
            ),
            (
                RuleChoice::Localmax,
                Margin::Additive,
                ScheduleChoice::Constant,
                InitChoice::Fig2Square,
                0.5,
                200,
                delta
            )
        );
    }
    let vanishing = get("vanishing");
    assert_eq!(
        (vanishing.schedule, vanishing.q),
        (ScheduleChoice::Vanishing, 2.0)
    );
    assert_eq!(get("multiplicative").margin, Margin::Multiplicative);
    assert_eq!(get("compare").rule, RuleChoice::Compare);
    let fw = get("frank-wolfe");
    assert_eq!(
        (fw.rule, fw.matrix, fw.cells, fw.n),
        (RuleChoice::Hardmax, MatrixChoice::Spd, true, 40)
    );
    assert_eq!(get("negdef").matrix, MatrixChoice::NegDef);
    assert_eq!(get("3d").d, 3);
    let pca = get("pca");
    assert_eq!((pca.d, pca.n), (16, 200));
    let large = get("large");
    assert_eq!(
        (large.n, large.steps, large.rule),
        (2000, 200, RuleChoice::Localmax)
    );
}

// ---------------------------------------------------------------------------------------------
// Random states: exact round trips.

fn unit(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(lo), 1 => Just(hi), 8 => lo..=hi]
}

prop_compose! {
    fn rule_part()(
        rule in 0usize..4, multiplicative in any::<bool>(), delta in unit(0.0, 5.0),
        schedule in 0usize..4, q in unit(0.0, 10.0), r in unit(0.0, 1.0),
        pieces in proptest::collection::vec((0usize..=5000, unit(0.0, 1000.0)), 0..10),
        beta in unit(0.0, 50.0), alpha in unit(0.01, 100.0),
    ) -> State {
        State {
            rule: [RuleChoice::Softmax, RuleChoice::Hardmax, RuleChoice::Localmax, RuleChoice::Compare][rule],
            margin: if multiplicative { Margin::Multiplicative } else { Margin::Additive },
            delta,
            schedule: [ScheduleChoice::Constant, ScheduleChoice::Vanishing, ScheduleChoice::Geometric, ScheduleChoice::Piecewise][schedule],
            q, r, pieces, beta, alpha,
            ..State::default()
        }
    }
}

prop_compose! {
    fn any_state()(
        base in rule_part(),
        matrix in 0usize..7, theta in unit(-std::f64::consts::PI, std::f64::consts::PI),
        diag in proptest::collection::vec(-1e6f64..1e6, 0..=16),
        a in proptest::option::of(proptest::collection::vec(-3.0f64..3.0, 256)),
        n in 1usize..=2000, d in prop_oneof![3 => 1usize..=4, 1 => 5usize..=16],
        steps in prop_oneof![3 => 1usize..300, 1 => 1usize..=5000],
        init in 0usize..8, clusters in 1usize..=64, sd in unit(0.0, 1.0),
        x0 in proptest::collection::vec(-1e6f64..1e6, 0..200),
        seed in prop_oneof![0u64..10, 0u64..(1u64 << 53)],
        tol in unit(1e-9, 1.0), k0 in proptest::option::of(0usize..6000),
        trails in any::<bool>(), hull in any::<bool>(), cells in any::<bool>(),
        focus in proptest::option::of(0usize..64),
        yaw in unit(-180.0, 180.0), pitch in unit(-90.0, 90.0),
        at in unit(0.0, 1.0), speed in unit(0.1, 10.0),
    ) -> State {
        let x0 = x0[..x0.len() / d * d].to_vec();
        State {
            matrix: [MatrixChoice::Identity, MatrixChoice::Diagonal, MatrixChoice::Spd, MatrixChoice::NegDef, MatrixChoice::Rotation, MatrixChoice::General, MatrixChoice::Custom][matrix],
            theta, diag,
            a_custom: a.map(|a| a[..d * d].to_vec()).unwrap_or_default(),
            n, d, steps,
            init: [InitChoice::Fig2Leader, InitChoice::Fig2Square, InitChoice::Fig2NonLeader, InitChoice::Square, InitChoice::Disk, InitChoice::Clusters, InitChoice::Circle, InitChoice::Custom][init],
            clusters, sd, x0, seed, tol, k0, trails, hull, cells, focus, yaw, pitch, at, speed,
            ..base
        }
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn random_states_round_trip_exactly(raw in any_state()) {
        let mut st = raw;
        let mut msgs = Vec::new();
        normalise(&mut st, &mut msgs);
        check_bounded(&st);
        let printed = Attention::to_hash(&st);
        let (again, msgs) = Attention::from_hash(&printed);
        prop_assert!(msgs.is_empty(), "{printed}: {msgs:?}");
        prop_assert_eq!(&again, &st);
        prop_assert_eq!(Attention::to_hash(&again), printed);
    }

    #[test]
    fn applying_printed_pairs_equals_reading_the_link(raw in any_state()) {
        let mut st = raw;
        normalise(&mut st, &mut Vec::new());
        let pairs = Attention::to_pairs(&st);
        let mut edited = State::default();
        let mut msgs = Vec::new();
        Attention::apply_pairs(&mut edited, &pairs, &mut msgs);
        normalise(&mut edited, &mut msgs);
        prop_assert!(msgs.is_empty(), "{msgs:?}");
        prop_assert_eq!(edited, st);
    }

    #[test]
    fn reapplying_the_own_values_changes_nothing(raw in any_state(), reverse in any::<bool>()) {
        // A page that writes every current value back (tokenDynamics.set(state())), one pair at a
        // time and in any order, leaves the state as it was.
        let mut st = raw;
        normalise(&mut st, &mut Vec::new());
        let mut pairs = Attention::all_pairs(&st);
        if reverse {
            pairs.reverse();
        }
        let mut edited = st.clone();
        let mut msgs = Vec::new();
        for (key, value) in &pairs {
            Attention::apply_pair(&mut edited, key, value, &mut msgs);
        }
        normalise(&mut edited, &mut msgs);
        prop_assert!(msgs.is_empty(), "{msgs:?}");
        prop_assert_eq!(edited, st);
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzzing.

fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("NaN".to_string()),
        Just("-inf".to_string()),
        Just("1e400".to_string()),
        Just("-0".to_string()),
        Just("🙂".to_string()),
        Just("%ZZ%".to_string()),
        "-?[0-9]{1,4}(\\.[0-9]{1,3})?",
        "[-0-9.,;:e ]{0,60}",
        ".{0,40}",
        proptest::collection::vec("-?[0-9]{1,3}(\\.[0-9])?", 0..40).prop_map(|v| v.join(",")),
        proptest::collection::vec("-?[0-9](\\.[0-9])?,-?[0-9](\\.[0-9])?", 0..40)
            .prop_map(|v| v.join(";")),
        proptest::collection::vec("[0-9]{1,3}:[0-9](\\.[0-9])?", 0..80).prop_map(|v| v.join(",")),
    ]
}

fn known_key() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => proptest::sample::select(Attention::control_keys()).prop_map(str::to_string),
        1 => Just("v".to_string()),
        1 => "[a-zA-Z_]{1,8}",
    ]
}

fn check_any_link(link: &str) {
    let (st, msgs) = timed_parse(link);
    check_bounded(&st);
    for m in &msgs {
        assert!(
            m.text.chars().count() <= 2_000,
            "message too long: {}",
            m.text.len()
        );
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn fuzz_known_keys_with_garbage(pairs in proptest::collection::vec((known_key(), garbage()), 0..24)) {
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", td_core::url::percent_encode(v)))
            .collect();
        let link = format!("#attention?{}", query.join("&"));
        check_any_link(&link);
        // Every value that was not accepted as given is named.
        let (st, msgs) = Attention::from_hash(&link);
        let last: std::collections::HashMap<&str, &str> =
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for (key, value) in last {
            if Attention::param(key).is_none() && key != "v" && !page::is_page_key(key) {
                prop_assert!(named(&msgs, key), "unknown {key} not named");
                continue;
            }
            if let Some(p) = Attention::param(key) {
                if let Kind::Choice { options, .. } = &p.kind {
                    if !options.iter().any(|(o, _)| *o == value) {
                        prop_assert!(named(&msgs, key), "{key}={value} not named: {msgs:?}");
                    }
                }
                if let Kind::Number { .. } | Kind::Integer { .. } = &p.kind {
                    let text = Attention::value_text(p, &st);
                    let parsed = td_core::url::parse_number(value);
                    if parsed.is_none_or(|v| v != text.parse::<f64>().unwrap()) && !named(&msgs, key) {
                        // Accepted silently only if the value stands unchanged after normalise.
                        prop_assert!(false, "{key}={value} became {text} without a message");
                    }
                }
            }
        }
    }

    #[test]
    fn fuzz_arbitrary_text(text in ".{0,2000}") {
        check_any_link(&text);
        check_any_link(&format!("#attention?{text}"));
    }
}

proptest! {
    #![proptest_config(cases(16))]

    #[test]
    fn fuzz_large_inputs(bytes in proptest::collection::vec(any::<u8>(), 0..100_000), key in known_key()) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        check_any_link(&text);
        check_any_link(&format!("#attention?{key}={}", text));
    }
}

// ---------------------------------------------------------------------------------------------
// Preset outcomes (run by hand while writing preset descriptions):
//   cargo test -p td-attention --test attention_params -- --ignored --nocapture preset_outcomes

#[test]
#[ignore]
fn preset_outcomes() {
    use td_particles::Run;
    // PRESET_LINKS="name=#attention?…|name=#attention?…" looks at other links instead.
    let extra = std::env::var("PRESET_LINKS").unwrap_or_default();
    let links: Vec<(String, String)> = if extra.is_empty() {
        PRESETS
            .iter()
            .map(|p| (p.name.to_string(), p.hash.to_string()))
            .collect()
    } else {
        extra
            .split('|')
            .map(|l| {
                let (n, h) = l.split_once('=').unwrap_or(("link", l));
                (n.to_string(), h.to_string())
            })
            .collect()
    };
    for (name, hash) in &links {
        let st = clean(hash);
        for (choice, rule) in st.rules() {
            let mut run = Run::new(st.spec(rule)).unwrap();
            while !run.advance(1000) {}
            let diags = run.state_diags();
            let last = diags.last().unwrap();
            let steps = run.step_diags();
            let undefined: usize = steps.iter().map(|s| s.margin_undefined).sum();
            let q = run.quiescent();
            println!(
                "{:15} {:?}: tokens {} diameter {:.3e} -> {:.3e}, clusters {} -> {}, leaders(0) {} fixed(last) {}, margin undefined {undefined}, quiescent sets {}",
                name,
                choice,
                run.n(),
                diags[0].diameter,
                last.diameter,
                diags[0].clusters,
                last.clusters,
                steps.first().map_or(0, |s| s.leaders),
                steps.last().map_or(0, |s| s.fixed_leaders),
                q.sets.len()
            );
            if run.n() <= 10 {
                let x = run.final_positions();
                let pts: Vec<String> = x
                    .chunks(st.d)
                    .map(|c| format!("({:.3},{:.3})", c[0], c.get(1).copied().unwrap_or(0.0)))
                    .collect();
                println!("    final {}", pts.join(" "));
            }
        }
    }
}
