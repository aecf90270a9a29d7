//! The fast sample kernels (`run.rs`, `lanes.rs`) against values recorded from the code as it was
//! before them (commit 598b29f, plain scalar loops with the platform's `exp`): every closed-form
//! and integrated scenario below is run, and every stored quantity of every sample (time, the four
//! lumped masses, ⟨p,s⟩, H, F, both KLs, TV, the conserved quantity), the divergence time and the
//! final distribution are compared with `tests/kernel_reference.txt`.
//!
//! The fixture was written by the (ignored) generator below, run on the old code:
//!
//!   cargo test -p td-flows --test kernel_reference -- --ignored write_reference
//!
//! Never regenerate it to make a failure go away: it is the record of what the old code computed.
//!
//! Tolerance: `|new - old| <= 1e-12 · max(|old|, floor)` per quantity, where `floor` is the scale
//! the quantity is computed at (1 for probabilities and masses, `1 + |max s|` for scores, the
//! free energy and the logs inside the divergences; see `common::floor`). A sum such as KL(p || pi) that
//! cancels to 1e-15 is rounding noise in the old code as much as in the new one; relative to its
//! own size no two summation orders agree, relative to the size of its terms they do. The test
//! prints the worst difference of each quantity (`-- --nocapture`).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use td_flows::flows::{Flow, Kappa};
use td_flows::logits::{generate, Generator};
use td_flows::run::{Run, RunSpec};
use td_flows::scores::{rps_matrix, spiral_matrix, Adjust};
use td_flows::truncation::{support, TruncOrder, Truncation};

const FIXTURE: &str = "tests/kernel_reference.txt";
const REL_TOL: f64 = 1e-12;

use common::Rand;

const FLOWS: [(Flow, &str); 4] = [
    (Flow::Replicator, "A"),
    (Flow::MultiplicativeWeights, "B"),
    (Flow::Entropic, "C"),
    (Flow::EntropicMirror, "D"),
];

#[allow(clippy::too_many_arguments)]
fn spec(
    flow: Flow,
    s: &[f64],
    temp: f64,
    eta: f64,
    kappa: Kappa,
    horizon: f64,
    p0: Vec<f64>,
    support: Vec<usize>,
    adjust: Adjust,
    samples: usize,
) -> RunSpec {
    let v = s.len();
    RunSpec {
        flow,
        s: s.to_vec(),
        temp,
        eta,
        kappa,
        horizon,
        p0,
        support,
        adjust,
        samples,
        corners: [0, 1.min(v - 1), 2.min(v - 1)],
    }
}

fn uniform(v: usize) -> Vec<f64> {
    vec![1.0 / v as f64; v]
}

fn all(v: usize) -> Vec<usize> {
    (0..v).collect()
}

/// Every scenario: (name, spec). Names are unique. One long list on purpose: the fixture's record.
#[allow(clippy::too_many_lines)]
fn scenarios() -> Vec<(String, RunSpec)> {
    let mut out = Vec::new();
    let none = Adjust::None;
    // V = 2 and V = 3, all four flows; V = 3 at three temperatures (D diverges at T = 20).
    for (flow, key) in FLOWS {
        out.push((
            format!("v2-{key}"),
            spec(
                flow,
                &[1.0, -0.5],
                0.7,
                0.2,
                Kappa::One,
                5.0,
                vec![0.3, 0.7],
                all(2),
                none.clone(),
                41,
            ),
        ));
        for temp in [0.05, 1.0, 20.0] {
            for (kappa, kk) in [(Kappa::One, "1"), (Kappa::InvT, "invT")] {
                if flow != Flow::Entropic && kappa == Kappa::InvT {
                    continue; // kappa only acts on Flow C
                }
                out.push((
                    format!("v3-{key}-T{temp}-k{kk}"),
                    spec(
                        flow,
                        &[2.0, 1.0, 0.0],
                        temp,
                        0.25,
                        kappa,
                        4.0,
                        vec![0.05, 0.15, 0.8],
                        all(3),
                        none.clone(),
                        31,
                    ),
                ));
            }
        }
    }
    // V = 50: truncation faces, a random start, and a start with no mass on part of the face.
    let s50 = generate(Generator::Gauss, 50, 3);
    let mut rng = Rand(0x9E37_79B9_7F4A_7C15);
    let p_rand = rng.simplex(50);
    let mut p_holes = rng.simplex(50);
    for (i, x) in p_holes.iter_mut().enumerate() {
        if i % 3 == 1 {
            *x = 0.0;
        }
    }
    let faces = [
        ("all", Truncation::None),
        ("topk7", Truncation::TopK(7)),
        ("topp0.9", Truncation::TopP(0.9)),
        ("minp0.05", Truncation::MinP(0.05)),
    ];
    for (flow, key) in FLOWS {
        for (fname, trunc) in faces {
            let face = support(&s50, 0.8, &trunc, TruncOrder::TemperatureFirst);
            for (pname, p0) in [("rand", &p_rand), ("holes", &p_holes)] {
                out.push((
                    format!("v50-{key}-{fname}-{pname}"),
                    spec(
                        flow,
                        &s50,
                        0.8,
                        0.3,
                        Kappa::One,
                        6.0,
                        p0.clone(),
                        face.clone(),
                        none.clone(),
                        21,
                    ),
                ));
            }
        }
        // Overlays: one start, several temperatures (D: eta·T = 0.003, 0.09, 0.9, 1, 1.5, 2.5).
        for temp in [0.01, 0.3, 3.0, 10.0 / 3.0, 5.0, 25.0 / 3.0, 100.0] {
            out.push((
                format!("v50-{key}-overlay-T{temp}"),
                spec(
                    flow,
                    &s50,
                    temp,
                    0.3,
                    Kappa::InvT,
                    3.0,
                    uniform(50),
                    all(50),
                    none.clone(),
                    16,
                ),
            ));
        }
    }
    // V = 1000 Zipf (the bench's logits), and extreme scores/temperatures.
    let s1000 = generate(Generator::Zipf, 1000, 7);
    let big: Vec<f64> = s1000.iter().map(|x| 1e4 * x).collect();
    for (flow, key) in FLOWS {
        out.push((
            format!("v1000-{key}"),
            spec(
                flow,
                &s1000,
                1.0,
                0.25,
                Kappa::One,
                4.0,
                uniform(1000),
                all(1000),
                none.clone(),
                101,
            ),
        ));
        for temp in [1e-3, 1e3] {
            out.push((
                format!("v1000-{key}-big-T{temp}"),
                spec(
                    flow,
                    &big,
                    temp,
                    0.25,
                    Kappa::One,
                    4.0,
                    uniform(1000),
                    all(1000),
                    none.clone(),
                    41,
                ),
            ));
        }
    }
    // V = 50,257 Zipf: the bench scenario (fewer samples), every flow, and a top-k face.
    let s_big = generate(Generator::Zipf, 50_257, 7);
    for (flow, key) in FLOWS {
        out.push((
            format!("v50257-{key}"),
            spec(
                flow,
                &s_big,
                1.0,
                0.25,
                Kappa::One,
                4.0,
                uniform(50_257),
                all(50_257),
                none.clone(),
                if flow == Flow::Entropic { 120 } else { 25 },
            ),
        ));
    }
    out.push((
        "v50257-C-topk1000".into(),
        spec(
            Flow::Entropic,
            &s_big,
            0.7,
            0.25,
            Kappa::One,
            4.0,
            uniform(50_257),
            support(
                &s_big,
                0.7,
                &Truncation::TopK(1000),
                TruncOrder::TemperatureFirst,
            ),
            none.clone(),
            25,
        ),
    ));
    // Integrated (A, C: RK4 or ETD2) and iterated (B, D) flows with path-dependent scores.
    let mut w50 = vec![0.0; 2500];
    for x in w50.iter_mut() {
        *x = 2.0 * rng.u() - 1.0;
    }
    let adjusts: [(&str, &[f64], Adjust, f64); 6] = [
        (
            "v3-rps",
            &[0.2, 0.0, -0.1],
            Adjust::Matrix { w: rps_matrix() },
            1.0,
        ),
        (
            "v3-spiral",
            &[0.3, 0.0, 0.0],
            Adjust::Matrix {
                w: spiral_matrix(0.1),
            },
            0.5,
        ),
        (
            "v3-memory",
            &[2.0, 1.0, 0.0],
            Adjust::Memory {
                gamma: 1.0,
                mu: 0.5,
            },
            1.0,
        ),
        (
            "v3-memory-hot",
            &[2.0, 1.0, 0.0],
            Adjust::Memory {
                gamma: 2.0,
                mu: 0.5,
            },
            9.0,
        ),
        ("v50-matrix", &s50, Adjust::Matrix { w: w50.clone() }, 0.8),
        (
            "v50-memory",
            &s50,
            Adjust::Memory {
                gamma: -2.0,
                mu: 3.0,
            },
            0.8,
        ),
    ];
    for (name, s, adjust, temp) in adjusts {
        for (flow, key) in FLOWS {
            let v = s.len();
            let p0 = if v == 3 {
                vec![0.2, 0.3, 0.5]
            } else {
                p_rand.clone()
            };
            out.push((
                format!("{name}-{key}"),
                spec(
                    flow,
                    s,
                    temp,
                    0.25,
                    Kappa::One,
                    6.0,
                    p0,
                    all(v),
                    adjust.clone(),
                    41,
                ),
            ));
        }
    }
    // Divergence of Flow D (eta·T = 2.5: the spread grows like 1.5^k and passes 1e250 near
    // k = 1,420), closed form (V = 50 and V = 50,257) and iterated with memory scores (V = 3).
    for (name, s, adjust) in [
        ("v50-D-diverges", &s50[..], Adjust::None),
        ("v50257-D-diverges", &s_big[..], Adjust::None),
        (
            "v3-memory-D-diverges",
            &[2.0, 1.0, 0.0][..],
            Adjust::Memory {
                gamma: 1.0,
                mu: 0.5,
            },
        ),
    ] {
        let v = s.len();
        out.push((
            name.into(),
            spec(
                Flow::EntropicMirror,
                s,
                5.0,
                0.5,
                Kappa::One,
                1000.0,
                uniform(v),
                all(v),
                adjust,
                if v > 50 { 9 } else { 40 },
            ),
        ));
    }
    // ETD2 (stiff: kappa·T·h > 1 once the step cap binds) on V = 1000 with memory.
    out.push((
        "v1000-memory-C-etd".into(),
        spec(
            Flow::Entropic,
            &s1000,
            100.0,
            0.25,
            Kappa::One,
            200.0,
            uniform(1000),
            all(1000),
            Adjust::Memory {
                gamma: 1.0,
                mu: 0.5,
            },
            21,
        ),
    ));
    out
}

/// The recorded text of one run: one `s` line per sample, the divergence time, and `p` lines for
/// the final distribution (every entry up to V = 50, every 13th up to 1000, every 97th above).
fn render(name: &str, run: &Run) -> String {
    let mut t = String::new();
    writeln!(t, "case {name}").unwrap();
    for smp in run.samples() {
        let d = smp.diag;
        let c = d.conserved.map_or("none".to_string(), |x| format!("{x:?}"));
        writeln!(
            t,
            "s {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {c}",
            smp.t,
            smp.lumped[0],
            smp.lumped[1],
            smp.lumped[2],
            smp.lumped[3],
            d.expected_score,
            d.entropy,
            d.free_energy,
            d.kl_to_target,
            d.kl_from_target,
            d.dist_to_face_target,
        )
        .unwrap();
    }
    let div = run
        .diverged_at()
        .map_or("none".to_string(), |x| format!("{x:?}"));
    writeln!(t, "div {div}").unwrap();
    let p = run.final_p();
    let step = match p.len() {
        0..=50 => 1,
        51..=1000 => 13,
        _ => 97,
    };
    for i in (0..p.len()).step_by(step) {
        writeln!(t, "p {i} {:?}", p[i]).unwrap();
    }
    t
}

fn run_all(spec: RunSpec) -> Run {
    let mut r = Run::new(spec);
    while !r.advance(1000) {}
    r
}

#[test]
#[ignore = "writes the fixture from the current code; run only on the reference code"]
fn write_reference() {
    let mut text = String::from(
        "# Written by `cargo test -p td-flows --test kernel_reference -- --ignored write_reference`\n\
         # on the scalar code before the lane kernels (see the test's docs). Do not regenerate.\n",
    );
    for (name, spec) in scenarios() {
        text.push_str(&render(&name, &run_all(spec)));
    }
    let path = format!("{}/{FIXTURE}", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(path, text).unwrap();
}

/// The quantities of an `s` line, in order.
const FIELDS: [&str; 12] = [
    "t",
    "lump0",
    "lump1",
    "lump2",
    "other",
    "E",
    "H",
    "F",
    "KLto",
    "KLfrom",
    "TV",
    "conserved",
];

fn parse(x: &str) -> Option<f64> {
    (x != "none").then(|| x.parse().unwrap())
}

#[test]
fn closed_and_integrated_runs_match_reference() {
    let path = format!("{}/{FIXTURE}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix("case ") {
            current = name.to_string();
            expected.insert(current.clone(), Vec::new());
        } else {
            expected.get_mut(&current).unwrap().push(line.to_string());
        }
    }
    // worst |new - old| / max(|old|, floor) per quantity, with where it happened
    let mut worst: BTreeMap<&str, (f64, String)> = BTreeMap::new();
    let mut failures = Vec::new();
    let scenarios = scenarios();
    assert_eq!(scenarios.len(), expected.len(), "scenario count");
    for (name, spec) in scenarios {
        let s_scale = common::s_scale(&spec.s, spec.temp);
        let run = run_all(spec);
        let got = render(&name, &run);
        let want = &expected[&name];
        let got: Vec<&str> = got.lines().skip(1).collect();
        assert_eq!(got.len(), want.len(), "{name}: line count");
        for (g, w) in got.iter().zip(want) {
            let gw: Vec<&str> = g.split(' ').collect();
            let ww: Vec<&str> = w.split(' ').collect();
            assert_eq!(gw.len(), ww.len(), "{name}: {g} vs {w}");
            assert_eq!(gw[0], ww[0], "{name}: {g} vs {w}");
            let (fields, values): (Vec<&str>, _) = match gw[0] {
                "s" => (FIELDS.to_vec(), 1..gw.len()),
                "div" => (vec!["div"], 1..2),
                _ => {
                    assert_eq!(gw[1], ww[1], "{name}: {g} vs {w}");
                    (vec!["p"], 2..3)
                }
            };
            for (field, k) in fields.into_iter().zip(values) {
                let (a, b) = (parse(gw[k]), parse(ww[k]));
                let (a, b) = match (a, b) {
                    (Some(a), Some(b)) => (a, b),
                    (None, None) => continue,
                    _ => {
                        failures.push(format!("{name} {field}: {} vs {}", gw[k], ww[k]));
                        continue;
                    }
                };
                if a == b {
                    worst.entry(field).or_insert((0.0, String::new()));
                    continue;
                }
                let scale = b.abs().max(common::floor(field, s_scale));
                let rel = (a - b).abs() / scale;
                // NaN (inf against finite) fails too.
                if rel.is_nan() || rel > REL_TOL {
                    failures.push(format!("{name} {field}: new {a:e} old {b:e} ({rel:.2e})"));
                }
                let e = worst.entry(field).or_insert((0.0, String::new()));
                if rel > e.0 || rel.is_nan() {
                    *e = (rel, format!("{name}: new {a:e} old {b:e}"));
                }
            }
        }
    }
    for (field, (rel, at)) in &worst {
        println!("{field:>9}: worst {rel:.2e}  {at}");
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}
