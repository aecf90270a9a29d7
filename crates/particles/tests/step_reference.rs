//! The step kernel (lane-shaped for d = 2 and uniform weights, see `dynamics::step`) against a
//! plain O(n² d) reference written straight from the definitions: same graph, leader flags and
//! stats exactly, same positions up to the summation order (1e-13). Coordinates are often on a
//! coarse grid so that ties, duplicates and scores exactly at a threshold occur.

use proptest::prelude::*;
use td_particles::dynamics::{self, Kernel, Scratch, StepStats, FLAG_FIXED, FLAG_LEADER};
use td_particles::graph::Bitset;
use td_particles::{Margin, TIE_REL_TOL};

struct Reference {
    out: Vec<f64>,
    members: Vec<Vec<bool>>,
    flags: Vec<u8>,
    stats: StepStats,
}

fn reference(x: &[f64], n: usize, d: usize, a: &[f64], gamma: f64, kernel: Kernel) -> Reference {
    let mut r = Reference {
        out: vec![0.0; n * d],
        members: Vec::new(),
        flags: Vec::new(),
        stats: StepStats::default(),
    };
    for i in 0..n {
        let xi = &x[i * d..(i + 1) * d];
        let y: Vec<f64> = (0..d)
            .map(|c| {
                a[c * d..(c + 1) * d]
                    .iter()
                    .zip(xi)
                    .map(|(p, q)| p * q)
                    .sum()
            })
            .collect();
        let s: Vec<f64> = (0..n)
            .map(|j| (0..d).fold(0.0, |v, c| v + y[c] * x[j * d + c]))
            .collect();
        let m = s
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        let big = s
            .iter()
            .fold(0.0f64, |b, &v| if v.abs() > b { v.abs() } else { b });
        let tie = m - TIE_REL_TOL * big;
        let w: Vec<f64> = match kernel {
            Kernel::Softmax { beta } => s
                .iter()
                .map(|&v| (beta * v - beta * m).min(0.0).exp())
                .collect(),
            Kernel::Uniform { margin, delta } => {
                let thr = match margin {
                    Margin::Additive => m - delta - TIE_REL_TOL * big,
                    Margin::Multiplicative if m > 0.0 => (1.0 - delta) * m - TIE_REL_TOL * big,
                    Margin::Multiplicative => {
                        r.stats.margin_undefined += 1;
                        tie
                    }
                };
                s.iter()
                    .map(|&v| if v >= thr { 1.0 } else { 0.0 })
                    .collect()
            }
        };
        let inside: Vec<bool> = w.iter().map(|&v| v > 0.0).collect();
        r.stats.edges += inside.iter().filter(|&&b| b).count();
        let ties = s.iter().filter(|&&v| v >= tie).count();
        let leader = s[i] >= tie;
        r.flags.push(
            if leader { FLAG_LEADER } else { 0 } | if leader && ties == 1 { FLAG_FIXED } else { 0 },
        );
        let total: f64 = w.iter().sum();
        for c in 0..d {
            let mean = (0..n).map(|j| w[j] * x[j * d + c]).sum::<f64>() / total;
            r.out[i * d + c] = xi[c] + gamma * (mean - xi[c]);
        }
        r.members.push(inside);
    }
    r
}

fn kernel(kind: u8, beta: f64, delta: f64) -> Kernel {
    match kind % 4 {
        0 => Kernel::Softmax { beta },
        1 => Kernel::Uniform {
            margin: Margin::Additive,
            delta: 0.0,
        },
        2 => Kernel::Uniform {
            margin: Margin::Additive,
            delta,
        },
        _ => Kernel::Uniform {
            margin: Margin::Multiplicative,
            delta,
        },
    }
}

/// n tokens in d dimensions and a d×d matrix, on a grid of 1/4 when `coarse`.
fn inputs() -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<f64>)> {
    (1usize..140, 1usize..=5, any::<bool>()).prop_flat_map(|(n, d, coarse)| {
        let v = move |r: f64| {
            (-r..r).prop_map(move |t: f64| if coarse { (t * 4.0).round() / 4.0 } else { t })
        };
        (
            Just(n),
            Just(d),
            prop::collection::vec(v(2.0), n * d),
            prop::collection::vec(v(1.5), d * d),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn step_equals_the_reference(
        (n, d, x, a) in inputs(),
        kind in 0u8..4,
        beta in 0.0f64..30.0,
        delta in 0.0f64..1.0,
        gamma in 0.0f64..1.0,
    ) {
        let k = kernel(kind, beta, delta);
        let want = reference(&x, n, d, &a, gamma, k);
        let (mut scratch, mut graph) = (Scratch::default(), Bitset::default());
        let (mut flags, mut out) = (vec![0u8; n], vec![0.0; n * d]);
        let stats = dynamics::step(&x, n, d, &a, dynamics::Update::Relax { gamma }, k, &mut scratch, &mut graph, &mut flags, &mut out);
        prop_assert_eq!(stats, want.stats);
        prop_assert_eq!(&flags, &want.flags);
        for (i, row) in want.members.iter().enumerate() {
            for (j, &inside) in row.iter().enumerate() {
                prop_assert_eq!(graph.contains(i, j), inside, "i {} j {}", i, j);
            }
        }
        for (k, (&got, &exp)) in out.iter().zip(&want.out).enumerate() {
            let scale = 1.0 + x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            prop_assert!((got - exp).abs() <= 1e-13 * scale, "coordinate {}: {} vs {}", k, got, exp);
        }
        // a second step with the same scratch (buffers reused, possibly of another size)
        let again = dynamics::step(&x, n, d, &a, dynamics::Update::Relax { gamma }, k, &mut scratch, &mut graph, &mut flags, &mut out);
        prop_assert_eq!(again, stats);
    }
}
