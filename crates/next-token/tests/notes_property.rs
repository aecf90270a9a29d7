//! Every note the next-token explorer shows, over random links: each is a claim, checked against
//! its hypotheses (the theorem it states needs them) or against the run's own numbers (what the
//! run shows, with a tolerance). The fixed cases of the audit are in `notes_claims.rs`.

use proptest::prelude::*;
use td_core::explorer::Explorer;
use td_flows::flows::Flow;
use td_next_token::explorer::NextToken;
use td_next_token::scene::Scene;

fn computed(link: &str) -> Scene {
    let (state, _) = NextToken::from_hash(link);
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

fn has(scene: &Scene, part: &str) -> bool {
    scene.notes.iter().any(|n| n.contains(part))
}

fn max_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// The samples of the first run of the panel showing `flow`.
fn first_run(scene: &Scene, flow: Flow) -> Option<&td_flows::run::Run> {
    scene
        .panels
        .iter()
        .find(|p| p.flow == flow)
        .and_then(|p| p.runs.first())
        .map(|v| &v.run)
}

#[derive(Clone, Debug)]
struct Link {
    flow: &'static str,
    s: Vec<f64>,
    temp: f64,
    t: f64,
    eta: f64,
    trunc: &'static str,
    order: &'static str,
    adjust: &'static str,
    p0: Option<Vec<f64>>,
}

impl Link {
    fn hash(&self, temp: f64, t: f64) -> String {
        let join = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut h = format!(
            "#next-token?v=1&flow={}&s={}&T={temp}&t={t}&eta={}&order={}",
            self.flow,
            join(&self.s),
            self.eta,
            self.order
        );
        if !self.trunc.is_empty() {
            h.push('&');
            h.push_str(self.trunc);
        }
        if !self.adjust.is_empty() && (!self.adjust.contains("rps") || self.s.len() == 3) {
            h.push('&');
            h.push_str(self.adjust);
        }
        match &self.p0 {
            Some(p) => h.push_str(&format!("&p0={}", join(p))),
            None => h.push_str("&p0=uniform"),
        }
        h
    }
}

fn links() -> impl Strategy<Value = Link> {
    let flows = prop::sample::select(vec![
        "replicator",
        "mw",
        "entropic",
        "entropic-mw",
        "compare",
    ]);
    // Scores on a 0.5 grid, so ties (a face, not a vertex) come up.
    let s = prop::collection::vec((-4i32..=4).prop_map(|x| x as f64 * 0.5), 3..=5);
    let temps = prop::sample::select(vec![0.3, 0.5, 1.0, 2.0]);
    let ts = prop::sample::select(vec![2.0, 5.0, 12.0]);
    let etas = prop::sample::select(vec![0.25, 0.5, 1.0, 2.0]);
    let truncs = prop::sample::select(vec![
        "",
        "trunc=top-k&k=2",
        "trunc=top-p&top_p=0.8",
        "trunc=min-p&min_p=0.2",
    ]);
    let orders = prop::sample::select(vec!["temp-first", "trunc-first"]);
    let adjusts = prop::sample::select(vec![
        "",
        "",
        "adjust=matrix&W=rps",
        "adjust=memory&gamma=2&mu=0.5",
    ]);
    let p0 = prop::option::of(prop::collection::vec(1u32..10, 5));
    (flows, s, temps, ts, etas, truncs, orders, adjusts, p0).prop_map(
        |(flow, s, temp, t, eta, trunc, order, adjust, p0)| {
            let p0 = p0.map(|w| {
                let w = &w[..s.len()];
                let total: u32 = w.iter().sum();
                w.iter().map(|&x| x as f64 / total as f64).collect()
            });
            Link {
                flow,
                s,
                temp,
                t,
                eta,
                trunc,
                order,
                adjust,
                p0,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn every_note_is_true_for_its_link(link in links()) {
        let hash = link.hash(link.temp, link.t);
        let scene = computed(&hash);
        let st = &scene.state;
        let fixed = st.adjust == td_next_token::params::AdjustMode::None;

        // Theorems about fixed scores are shown only for fixed scores.
        for fixed_only in ["argmax vertex", "face of the tied top scores", "Flow C converges", "samples Flow A exactly"] {
            prop_assert!(fixed || !has(&scene, fixed_only), "{hash}: {fixed_only} with adjusted scores: {:?}", scene.notes);
        }
        if has(&scene, "argmax vertex") {
            prop_assert_eq!(scene.argmax.len(), 1, "{}: a vertex claimed for tied scores", hash);
        }
        if has(&scene, "face of the tied top scores") {
            prop_assert!(scene.argmax.len() > 1, "{hash}");
        }
        // Flow C: F rises along the run (to rounding).
        if has(&scene, "Flow C converges") {
            if let Some(run) = first_run(&scene, Flow::Entropic) {
                let f: Vec<f64> = run.samples().iter().map(|x| x.diag.free_energy).collect();
                for w in f.windows(2) {
                    prop_assert!(w[1] >= w[0] - 1e-9 * w[0].abs().max(1.0), "{hash}: F fell from {} to {}", w[0], w[1]);
                }
            }
        }
        // Flow A's time rescaling: p(t; T) = p(2t; 2T), to rounding.
        if has(&scene, "Temperature is an exact time rescaling for Flow A") && first_run(&scene, Flow::Replicator).is_some() {
            let other = computed(&link.hash(2.0 * link.temp, 2.0 * link.t));
            let (a, b) = (first_run(&scene, Flow::Replicator).unwrap(), first_run(&other, Flow::Replicator).unwrap());
            let gap = max_gap(a.final_p(), b.final_p());
            prop_assert!(a.diverged_at().is_some() || gap < 1e-7, "{hash}: p(t; T) and p(2t; 2T) differ by {gap}");
        }
        // Truncation first: the same set at other temperatures.
        if has(&scene, "the same at every T") {
            for factor in [0.5, 3.0] {
                let other = computed(&link.hash(factor * link.temp, link.t));
                prop_assert_eq!(&other.support, &scene.support, "{}: the set moved with T", hash);
            }
        }
        // Flow D's regimes are about η·T.
        if has(&scene, "2-cycle") {
            prop_assert!(scene.panels.iter().any(|p| p.flow == Flow::EntropicMirror));
            prop_assert!((st.eta * st.temp - 2.0).abs() < 1e-12, "{hash}");
        }
        if has(&scene, "this iteration diverges") {
            prop_assert!(st.eta * st.temp > 2.0, "{hash}");
        }
        // A conserved quantity is conserved along the run.
        if has(&scene, "is conserved") {
            let run = first_run(&scene, Flow::Replicator);
            prop_assert!(run.is_some(), "{hash}");
            let values: Vec<f64> = run.unwrap().samples().iter().filter_map(|x| x.diag.conserved).collect();
            prop_assert!(!values.is_empty(), "{hash}");
            let drift = values.iter().map(|v| (v - values[0]).abs()).fold(0.0, f64::max);
            prop_assert!(drift < 1e-6, "{hash}: Σ q log p drifted by {drift}");
        }
    }
}
