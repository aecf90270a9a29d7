//! Helpers shared by the integration tests of td-flows.

/// Tiny deterministic generator for test inputs (xorshift64*).
pub struct Rand(pub u64);

impl Rand {
    pub fn u(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    #[allow(dead_code)] // not every test file draws ranges
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.u()
    }
    pub fn simplex(&mut self, v: usize) -> Vec<f64> {
        let x: Vec<f64> = (0..v).map(|_| -(1.0 - self.u()).ln()).collect();
        let s: f64 = x.iter().sum();
        x.into_iter().map(|a| a / s).collect()
    }
}

/// The scores' scale of a run, `1 + max|s|/T` (T as the run clamps it from below).
#[allow(dead_code)] // not every test file compares runs
pub fn s_scale(s: &[f64], temp: f64) -> f64 {
    1.0 + s.iter().fold(0.0f64, |m, x| m.max(x.abs())) / temp.max(1e-6)
}

/// The scale a stored quantity is computed at, for relative comparisons between two ways of
/// computing a run (`kernel_reference.rs`, `grouped_samples.rs`): the scores' scale for ⟨p,s⟩,
/// F, the KLs and the conserved quantity, at least 1 for H, 1 for probabilities and TV.
#[allow(dead_code)] // not every test file compares runs
pub fn floor(field: &str, s_scale: f64) -> f64 {
    match field {
        "E" | "F" | "KLto" | "KLfrom" | "conserved" => s_scale,
        "H" => s_scale.max(1.0),
        _ => 1.0,
    }
}

/// The stored quantities of a sample, named as `floor` knows them.
#[allow(dead_code)] // not every test file compares runs
pub fn fields(x: &td_flows::run::Sample) -> [(&'static str, f64); 10] {
    let d = &x.diag;
    [
        ("E", d.expected_score),
        ("H", d.entropy),
        ("F", d.free_energy),
        ("KLto", d.kl_to_target),
        ("KLfrom", d.kl_from_target),
        ("TV", d.dist_to_face_target),
        ("lump0", x.lumped[0]),
        ("lump1", x.lumped[1]),
        ("lump2", x.lumped[2]),
        ("other", x.lumped[3]),
    ]
}

/// Compares run `a` with run `b` (the reference), computed two ways from one spec: every stored
/// quantity of every sample relative to `max(|b|, floor)`, and the final distribution absolutely,
/// against `tol`; pushes a line per difference over it to `failures` and returns the worst
/// relative difference with where it was.
#[allow(dead_code)] // not every test file compares runs
pub fn compare_runs(
    name: &str,
    a: &td_flows::run::Run,
    b: &td_flows::run::Run,
    s_scale: f64,
    tol: f64,
    failures: &mut Vec<String>,
) -> (f64, String) {
    let (xs, ys) = (a.samples(), b.samples());
    assert_eq!(xs.len(), ys.len(), "{name}: sample count");
    let mut worst = (0.0f64, String::new());
    for (x, y) in xs.iter().zip(ys) {
        assert_eq!(x.t.to_bits(), y.t.to_bits(), "{name}: sample times");
        for ((field, u), (_, w)) in fields(x).into_iter().zip(fields(y)) {
            // Equal (infinite KL(t‖p) off a smaller face included): no difference.
            let err = if u == w {
                0.0
            } else {
                (u - w).abs() / w.abs().max(floor(field, s_scale))
            };
            if err > worst.0 {
                worst = (err, format!("t={} {field}", x.t));
            }
            if err.is_nan() || err > tol {
                failures.push(format!(
                    "{name} t={} {field}: {u:e} vs {w:e} ({err:.2e})",
                    x.t
                ));
            }
        }
    }
    let p_err = a
        .final_p()
        .iter()
        .zip(b.final_p())
        .fold(0.0f64, |m, (u, w)| m.max((u - w).abs()));
    if p_err.is_nan() || p_err > tol {
        failures.push(format!("{name}: final p differs by {p_err:e}"));
    }
    worst
}
