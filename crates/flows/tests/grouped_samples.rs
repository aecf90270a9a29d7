//! Closed-form samples computed in groups (`td_flows::expansion`, one exp per entry per group)
//! against the same runs computed one sample at a time (`Run::without_groups`): every stored
//! quantity of every sample and the final distribution, for the flows whose log-weights lie on a
//! line (A, B, C), uniform and random starts, several temperatures, a truncated face and sample
//! densities that do and do not form groups.
//!
//! Tolerance: the one of `kernel_reference.rs`, `|grouped - single| <= 1e-12 · max(|single|,
//! floor)`, `floor` the scale the quantity is computed at (`common::floor`).

mod common;

use common::Rand;
use td_flows::flows::{Flow, Kappa};
use td_flows::logits::{generate, Generator};
use td_flows::run::{Run, RunSpec};
use td_flows::scores::Adjust;
use td_flows::truncation::{support, TruncOrder, Truncation};

const REL_TOL: f64 = 1e-12;

struct Case {
    name: &'static str,
    spec: RunSpec,
    /// Whether this case must form groups (so that the test compares something).
    grouped: bool,
}

/// A run from the uniform start on every entry, expected to form groups; the methods below
/// change one of those.
fn case(
    name: &'static str,
    flow: Flow,
    s: &[f64],
    temp: f64,
    horizon: f64,
    samples: usize,
) -> Case {
    let v = s.len();
    Case {
        name,
        spec: RunSpec {
            flow,
            s: s.to_vec(),
            temp,
            eta: 0.01,
            kappa: Kappa::One,
            horizon,
            p0: vec![1.0 / v as f64; v],
            support: (0..v).collect(),
            adjust: Adjust::None,
            samples,
            corners: [0, 5, 17],
        },
        grouped: true,
    }
}

impl Case {
    fn start(mut self, p0: Vec<f64>) -> Case {
        self.spec.p0 = p0;
        self
    }
    fn support(mut self, support: Vec<usize>) -> Case {
        self.spec.support = support;
        self
    }
    fn one_at_a_time(mut self) -> Case {
        self.grouped = false;
        self
    }
}

fn cases() -> Vec<Case> {
    let v = 50_257;
    let zipf = generate(Generator::Zipf, v, 7);
    let gauss = generate(Generator::Gauss, 6_000, 3);
    let random_start = Rand(0x9E37_79B9_7F4A_7C15).simplex(6_000);
    let mut smaller_face = vec![0.0; v];
    smaller_face[..30_000].fill(1.0 / 30_000.0);
    let top_k = support(
        &zipf,
        0.7,
        &Truncation::TopK(5_000),
        TruncOrder::TemperatureFirst,
    );
    let (a, b, c) = (
        Flow::Replicator,
        Flow::MultiplicativeWeights,
        Flow::Entropic,
    );
    vec![
        case("C-bench", c, &zipf, 1.0, 4.0, 500),
        case("C-T0.3", c, &zipf, 0.3, 4.0, 300),
        case("C-T0.1", c, &zipf, 0.1, 4.0, 300),
        // p0 on a smaller face than the target's: Σ t < 1 on the active entries.
        case("C-smaller-start-face", c, &zipf, 1.0, 4.0, 300).start(smaller_face),
        case("C-T3", c, &zipf, 3.0, 10.0, 300),
        case("C-gauss-random-start", c, &gauss, 0.8, 4.0, 400).start(random_start.clone()),
        case("C-top-k", c, &zipf, 0.7, 4.0, 300).support(top_k),
        case("A-bench", a, &zipf, 1.0, 4.0, 500),
        case("A-gauss", a, &gauss, 1.5, 3.0, 500),
        case("B-bench", b, &zipf, 1.0, 2.0, 200),
        // A random start: A's total variation has no threshold form, so no groups.
        case("A-random-start", a, &gauss, 1.0, 4.0, 300)
            .start(random_start)
            .one_at_a_time(),
        // Too few samples per group: one at a time.
        case("A-sparse", a, &zipf, 1.0, 40.0, 30).one_at_a_time(),
    ]
}

#[test]
fn grouped_samples_match_single_samples() {
    let mut failures = Vec::new();
    for c in cases() {
        let mut grouped = Run::new(c.spec.clone());
        let mut single = Run::new(c.spec.clone()).without_groups();
        // Small budgets, as a worker slices the work.
        while !grouped.advance(3) {}
        while !single.advance(usize::MAX) {}
        assert_eq!(grouped.used_groups(), c.grouped, "{}: groups used", c.name);
        assert!(!single.used_groups());
        let s_scale = common::s_scale(&c.spec.s, c.spec.temp);
        let (worst, at) =
            common::compare_runs(c.name, &grouped, &single, s_scale, REL_TOL, &mut failures);
        eprintln!(
            "{}: {} samples, worst {worst:.2e} ({at})",
            c.name,
            grouped.samples().len()
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// At t = 0 the distribution is the start, exactly: the grouped total variation against a
/// compensated (Neumaier) sum of `|p0_i - t_i|`, where the two paths differ most (T = 0.3, 0.1).
#[test]
fn grouped_total_variation_at_the_start_is_accurate() {
    for name in ["C-T0.3", "C-T0.1"] {
        let c = cases().into_iter().find(|c| c.name == name).unwrap();
        let mut grouped = Run::new(c.spec.clone());
        let mut single = Run::new(c.spec.clone()).without_groups();
        grouped.advance(1);
        single.advance(1);
        assert!(grouped.used_groups());
        let p0 = 1.0 / c.spec.s.len() as f64;
        let (mut sum, mut comp) = (0.0f64, 0.0f64);
        for &t in grouped.target() {
            let term = (p0 - t).abs();
            let next = sum + term;
            comp += if sum.abs() >= term {
                (sum - next) + term
            } else {
                (term - next) + sum
            };
            sum = next;
        }
        let exact = 0.5 * (sum + comp);
        let g = grouped.samples()[0].diag.dist_to_face_target;
        let s = single.samples()[0].diag.dist_to_face_target;
        eprintln!(
            "{name}: TV {exact:e}; grouped off by {:.1e}, single by {:.1e}",
            g - exact,
            s - exact
        );
        assert!(
            (g - exact).abs() <= 3e-13,
            "{name}: grouped {g:e}, exact {exact:e}"
        );
    }
}

/// A run shared by several workers (ranges of samples) gives each sample the bits of the run
/// computed whole: the groups are planned over the whole schedule, not from each part's start.
#[test]
fn parts_of_a_grouped_run_have_the_whole_run_s_bits() {
    for name in ["C-bench", "A-bench"] {
        let c = cases().into_iter().find(|c| c.name == name).unwrap();
        let mut whole = Run::new(c.spec.clone());
        while !whole.advance(usize::MAX) {}
        for parts in [2, 3, 7] {
            let mut samples = Vec::new();
            for part in 0..parts {
                let mut run = Run::new(c.spec.clone());
                run.restrict_to_samples(part, parts);
                while !run.advance(5) {}
                samples.extend_from_slice(run.samples());
            }
            assert_eq!(
                samples.len(),
                whole.samples().len(),
                "{name}, {parts} parts"
            );
            for (a, b) in samples.iter().zip(whole.samples()) {
                assert_eq!(a, b, "{name}, {parts} parts, t = {}", b.t);
            }
        }
    }
}
