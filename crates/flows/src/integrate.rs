//! Fixed-step integrators (reproducible: no adaptive step control).
//!
//! [`rk4_step`] is classical RK4; the caller renormalises log-space states after each step.
//! [`etd2_step`] is the stiff fallback for `y' = -Λ y + N(y)` (Λ diagonal, >= 0): exponential
//! time differencing RK2 (Cox & Matthews 2002). It treats the linear relaxation exactly, so it
//! stays bounded and has the right fixed point `y = N/Λ` at any step size; the run uses it only
//! when the step cap forces `max Λ · h > 1`, where RK4 would lose accuracy or blow up.

/// Work buffers for the integrators (allocated once per run, not per step).
#[derive(Clone, Debug, Default)]
pub struct Rk4Scratch {
    k1: Vec<f64>,
    k2: Vec<f64>,
    k3: Vec<f64>,
    k4: Vec<f64>,
    tmp: Vec<f64>,
}

impl Rk4Scratch {
    /// Buffers for a state of length `n` (resized automatically if a step sees another length).
    pub fn new(n: usize) -> Self {
        let z = vec![0.0; n];
        Rk4Scratch {
            k1: z.clone(),
            k2: z.clone(),
            k3: z.clone(),
            k4: z.clone(),
            tmp: z,
        }
    }

    fn fit(&mut self, n: usize) {
        if self.k1.len() != n {
            *self = Rk4Scratch::new(n);
        }
    }
}

/// One classical RK4 step of `y' = f(y)` in place. `f(y, dy)` writes the derivative. Entries of
/// `y` that are `-inf` stay `-inf` as long as `f` returns finite derivatives for them.
pub fn rk4_step(
    y: &mut [f64],
    h: f64,
    f: &mut dyn FnMut(&[f64], &mut [f64]),
    scratch: &mut Rk4Scratch,
) {
    let n = y.len();
    scratch.fit(n);
    let Rk4Scratch {
        k1,
        k2,
        k3,
        k4,
        tmp,
    } = scratch;
    f(y, k1);
    for i in 0..n {
        tmp[i] = y[i] + 0.5 * h * k1[i];
    }
    f(tmp, k2);
    for i in 0..n {
        tmp[i] = y[i] + 0.5 * h * k2[i];
    }
    f(tmp, k3);
    for i in 0..n {
        tmp[i] = y[i] + h * k3[i];
    }
    f(tmp, k4);
    let h6 = h / 6.0;
    for i in 0..n {
        y[i] += h6 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
    }
}

/// `φ1(z) = (e^z - 1)/z` and `φ2(z) = (e^z - 1 - z)/z²`, with series near 0 (no cancellation).
pub fn phi12(z: f64) -> (f64, f64) {
    if z.abs() < 1e-2 {
        let p1 = 1.0 + z / 2.0 + z * z / 6.0 + z * z * z / 24.0 + z * z * z * z / 120.0;
        let p2 = 0.5 + z / 6.0 + z * z / 24.0 + z * z * z / 120.0 + z * z * z * z / 720.0;
        (p1, p2)
    } else {
        let em1 = z.exp_m1();
        (em1 / z, (em1 - z) / (z * z))
    }
}

/// One ETD2RK step of `y' = -Λ y + N(y)` in place (`lambda[i] >= 0`). `n(y, out)` writes N(y).
pub fn etd2_step(
    y: &mut [f64],
    h: f64,
    lambda: &[f64],
    n: &mut dyn FnMut(&[f64], &mut [f64]),
    scratch: &mut Rk4Scratch,
) {
    let len = y.len();
    scratch.fit(len);
    let Rk4Scratch { k1, k2, tmp, .. } = scratch;
    n(y, k1);
    for i in 0..len {
        let z = -lambda[i] * h;
        let (p1, _) = phi12(z);
        // A -inf (zero-mass) component stays -inf; exp(z) may underflow to 0 and 0·-inf is NaN.
        tmp[i] = if y[i] == f64::NEG_INFINITY {
            f64::NEG_INFINITY
        } else {
            z.exp() * y[i] + h * p1 * k1[i]
        };
    }
    n(tmp, k2);
    for i in 0..len {
        let z = -lambda[i] * h;
        let (_, p2) = phi12(z);
        if tmp[i] != f64::NEG_INFINITY {
            y[i] = tmp[i] + h * p2 * (k2[i] - k1[i]);
        }
    }
}
