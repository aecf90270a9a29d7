//! Sampling and stepwise generation (one token per call, so a page can run one per animation frame).
//!
//! Each step samples from [`sampling_distribution`] of the log-probabilities at the last position
//! with one uniform of a seeded `Source` ([`draw`]). The first step runs the full (optionally
//! patched) forward pass over the prompt; later steps run the new token only, with the keys and
//! values of earlier positions kept (`forward::Cache`): bit-identical to a full
//! [`forward_patched`](super::forward::forward_patched) over the tokens so far (tested), because a
//! steering patch sits inside the prompt and the pass computes every row in the same order.

use super::forward::{Cache, Patch};
use super::weights::Weights;
use td_rng::Source;

/// Largest temperature accepted by [`Generator::new`] (above it the distribution is uniform over
/// the kept tokens to many digits anyway).
pub const MAX_TEMPERATURE: f64 = 100.0;

/// Sampling settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Divides the log-probabilities; 0 = greedy argmax (lowest index on ties). Finite, 0..=100.
    pub temperature: f64,
    /// Keep the k most probable tokens (ties broken by lower index); 0 = off.
    pub top_k: usize,
    /// Nucleus: keep the smallest prefix, by descending probability, with mass ≥ top_p; in (0, 1],
    /// 1 = off.
    pub top_p: f64,
    /// Keep only tokens whose probability is at least `min_p` times the largest one (as
    /// transformers' `MinPLogitsWarper`, after temperature, top-k and top-p); in [0, 1], 0 = off.
    pub min_p: f64,
}

impl Default for Sampling {
    /// Plain sampling: temperature 1, no top-k, no top-p.
    fn default() -> Self {
        Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
        }
    }
}

impl Sampling {
    /// Greedy decoding (temperature 0).
    pub fn greedy() -> Self {
        Sampling {
            temperature: 0.0,
            ..Sampling::default()
        }
    }

    /// temperature finite in `0..=MAX_TEMPERATURE`, top_p finite in (0, 1], min_p in [0, 1].
    pub fn validate(&self) -> Result<(), String> {
        if !self.temperature.is_finite()
            || self.temperature < 0.0
            || self.temperature > MAX_TEMPERATURE
        {
            return Err(format!(
                "temperature {} is outside 0..={MAX_TEMPERATURE}",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("top_p {} is outside (0, 1]", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return Err(format!("min_p {} is outside [0, 1]", self.min_p));
        }
        Ok(())
    }
}

/// The distribution actually sampled from: temperature-scaled softmax of the log-probabilities
/// (log-sum-exp, max subtracted), then top-k, then the top-p nucleus of the renormalised top-k
/// distribution, then min-p (tokens below `min_p` times the most probable one dropped; the most
/// probable is always kept), renormalised. Order for top-k/top-p: descending log-probability, ties by lower
/// index; the nucleus test `cumulative ≥ top_p·mass` has a relative slack of 1e-12 (rounding).
/// Returns probabilities (0 outside the kept set) summing to 1 (to rounding), never NaN.
///
/// Total on any input: NaN entries count as −∞ (probability 0); if some entry is +∞ the +∞ entries
/// share the mass; if none is above −∞ the distribution is uniform. Settings outside
/// [`Sampling::validate`] are clamped: temperature NaN or ≤ 0 → greedy, above 100 → 100; top_p NaN
/// or ≥ 1 → off, ≤ 0 → the top token only; min_p NaN or ≤ 0 → off, above 1 → 1. Empty input →
/// empty output.
pub fn sampling_distribution(log_probs: &[f64], s: &Sampling) -> Vec<f64> {
    let n = log_probs.len();
    if n == 0 {
        return Vec::new();
    }
    let lp: Vec<f64> = log_probs
        .iter()
        .map(|&v| if v.is_nan() { f64::NEG_INFINITY } else { v })
        .collect();
    let max = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return vec![1.0 / n as f64; n];
    }
    // Descending log-probability, ties by lower index.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| lp[b].total_cmp(&lp[a]).then(a.cmp(&b)));
    let temperature = s.temperature.min(MAX_TEMPERATURE);
    let mut p = vec![0.0; n];
    if max == f64::INFINITY || temperature.is_nan() || temperature <= 0.0 {
        // Greedy (or infinite logits): mass on the top entries; ties share only for +∞.
        let top: Vec<usize> = if max == f64::INFINITY {
            order.iter().copied().filter(|&j| lp[j] == max).collect()
        } else {
            vec![order[0]]
        };
        for &j in &top {
            p[j] = 1.0 / top.len() as f64;
        }
        return p;
    }
    for (pj, &v) in p.iter_mut().zip(&lp) {
        // (v - max)/T ≤ 0, = 0 at the max: no overflow, the sum is ≥ 1.
        *pj = ((v - max) / temperature).exp();
    }
    // Top-k.
    let k = if s.top_k == 0 { n } else { s.top_k.min(n) };
    for &j in &order[k..] {
        p[j] = 0.0;
    }
    let kept: f64 = order[..k].iter().map(|&j| p[j]).sum();
    // Top-p on the renormalised top-k distribution.
    let top_p = if s.top_p.is_nan() { 1.0 } else { s.top_p };
    if top_p < 1.0 {
        // A relative slack of 1e-12 so a prefix whose mass is top_p up to rounding counts.
        let target = top_p * kept * (1.0 - 1e-12);
        let mut cum = 0.0;
        let mut cut = k;
        for (i, &j) in order[..k].iter().enumerate() {
            cum += p[j];
            if cum >= target {
                cut = i + 1;
                break;
            }
        }
        for &j in &order[cut..k] {
            p[j] = 0.0;
        }
    }
    // Min-p, relative to the most probable token (order[0], whose weight is 1 before
    // normalising): the ratio is the same before and after renormalising.
    let min_p = if s.min_p.is_nan() {
        0.0
    } else {
        s.min_p.min(1.0)
    };
    if min_p > 0.0 {
        let floor = min_p * p[order[0]];
        for &j in &order[1..k] {
            if p[j] < floor {
                p[j] = 0.0;
            }
        }
    }
    let total: f64 = p.iter().sum();
    for v in p.iter_mut() {
        *v /= total;
    }
    p
}

/// Inverse-CDF draw with `u` in [0, 1): the first index whose cumulative sum exceeds u,
/// skipping entries that are not > 0 (zero, negative, NaN); if the cumulative sum never exceeds u
/// (rounding, or u ≥ the total), the last positive entry; 0 if there is none.
pub fn draw(probs: &[f64], u: f64) -> usize {
    let mut cum = 0.0;
    let mut last = None;
    for (j, &p) in probs.iter().enumerate() {
        if p > 0.0 {
            cum += p;
            last = Some(j);
            if cum > u {
                return j;
            }
        }
    }
    last.unwrap_or(0)
}

/// Stepwise generation: [`Generator::step`] appends one token per call.
pub struct Generator {
    tokens: Vec<u32>,
    prompt_len: usize,
    n_new: usize,
    sampling: Sampling,
    source: Source,
    patch: Option<Patch>,
    cache: Option<Cache>,
    last_log_probs: Vec<f64>,
    last_distribution: Vec<f64>,
}

impl Generator {
    /// `prompt`: 1..=context tokens, each < V. `n_new` is capped so prompt + generated ≤ context
    /// ([`Generator::n_new`] returns the cap). Draws from `Source::new(seed)` (one uniform per
    /// generated token, also under greedy decoding). The optional steering patch is applied on
    /// every forward pass; its position must be inside the prompt (usually `prompt_len - 1`).
    /// Errors (never panics): empty/long prompt, bad token, invalid sampling, invalid patch.
    pub fn new(
        w: &Weights,
        prompt: &[u32],
        n_new: usize,
        sampling: Sampling,
        seed: u64,
        patch: Option<Patch>,
    ) -> Result<Generator, String> {
        let c = w.config;
        c.validate()?;
        sampling.validate()?;
        if prompt.is_empty() || prompt.len() > c.context {
            return Err(format!(
                "prompt of {} tokens: need 1..={}",
                prompt.len(),
                c.context
            ));
        }
        if let Some(&bad) = prompt.iter().find(|&&t| t as usize >= c.vocab) {
            return Err(format!(
                "token {bad} is outside the vocabulary of {}",
                c.vocab
            ));
        }
        if let Some(p) = &patch {
            p.validate(&c, prompt.len())?;
        }
        let n_new = n_new.min(c.context - prompt.len());
        let mut tokens = Vec::with_capacity(prompt.len() + n_new);
        tokens.extend_from_slice(prompt);
        Ok(Generator {
            tokens,
            prompt_len: prompt.len(),
            n_new,
            sampling,
            source: Source::new(seed),
            patch,
            cache: None,
            last_log_probs: Vec::new(),
            last_distribution: Vec::new(),
        })
    }

    /// Generates the next token (`None` when done). Pass the same weights on every call.
    pub fn step(&mut self, w: &Weights) -> Result<Option<u32>, String> {
        if self.done() {
            return Ok(None);
        }
        let log_probs = match self.cache.as_mut() {
            None => {
                let (cache, fwd) = Cache::prefill(w, &self.tokens, self.patch.as_ref())?;
                self.cache = Some(cache);
                fwd.log_probs_at(fwd.n - 1).to_vec()
            }
            Some(cache) => {
                let last = self.tokens.last().copied().unwrap_or(0);
                cache.extend(w, last)?
            }
        };
        let probs = sampling_distribution(&log_probs, &self.sampling);
        let u = self.source.uniform();
        let token = draw(&probs, u) as u32;
        self.tokens.push(token);
        self.last_log_probs = log_probs;
        self.last_distribution = probs;
        Ok(Some(token))
    }

    /// Prompt followed by the tokens generated so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub fn prompt_len(&self) -> usize {
        self.prompt_len
    }

    /// Tokens to generate in all (after the context cap).
    pub fn n_new(&self) -> usize {
        self.n_new
    }

    /// Tokens generated so far.
    pub fn generated(&self) -> usize {
        self.tokens.len() - self.prompt_len
    }

    pub fn done(&self) -> bool {
        self.generated() >= self.n_new
    }

    /// Log-probabilities the last step predicted from (empty before the first step).
    pub fn last_log_probs(&self) -> &[f64] {
        &self.last_log_probs
    }

    /// The distribution the last step sampled from (empty before the first step).
    pub fn last_distribution(&self) -> &[f64] {
        &self.last_distribution
    }
}

/// Runs a [`Generator`] to the end; returns prompt + generated tokens.
pub fn generate(
    w: &Weights,
    prompt: &[u32],
    n_new: usize,
    sampling: Sampling,
    seed: u64,
    patch: Option<&Patch>,
) -> Result<Vec<u32>, String> {
    let mut g = Generator::new(w, prompt, n_new, sampling, seed, patch.cloned())?;
    while g.step(w)?.is_some() {}
    Ok(g.tokens)
}
