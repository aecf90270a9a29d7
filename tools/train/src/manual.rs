//! Hand-written forward and backward passes of td-transformer's model, in f32, with preallocated
//! buffers (the training path). Layout as in td-transformer: activations row-major `N × width`
//! (N = batch · context rows), linear maps input-major `[in × out]`, `y = x·W + b`; the qkv columns
//! are q | k | v and head h uses columns `h·hd..(h+1)·hd` of each third; logits use `wteᵀ`.
//!
//! Matrix products go through the `gemm` crate (runtime AVX2/FMA dispatch, rayon threads for the
//! large ones); attention is one small product per (sequence, head), spread over two threads.
//! The gradients are checked against candle's autodiff (`crate::Model`) in the tests below and by
//! `train` before it starts.

use ::gemm::Parallelism;
use td_transformer::config::{Config, LN_EPS};

const THREADS: usize = 2;

/// A strided read-only matrix view: element (r, c) at `data[off + r·rs + c·cs]`.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    off: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

fn view(data: &[f32], off: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> View<'_> {
    View {
        data,
        off,
        rows,
        cols,
        rs,
        cs,
    }
}

/// Row-major `rows × cols` view of a whole slice.
fn rm(data: &[f32], rows: usize, cols: usize) -> View<'_> {
    view(data, 0, rows, cols, cols, 1)
}

/// Its transpose (`cols × rows`).
fn rm_t(data: &[f32], rows: usize, cols: usize) -> View<'_> {
    view(data, 0, cols, rows, 1, cols)
}

fn last_index(off: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    off + (rows - 1) * rs + (cols - 1) * cs
}

/// `dst[off + r·rs + c·cs] (+)= Σ_k a(r, k)·b(k, c)`; `accumulate` adds to dst instead of
/// overwriting it. Every index is bounds-checked before the call.
#[allow(unsafe_code)]
#[allow(clippy::too_many_arguments)]
fn mm(
    dst: &mut [f32],
    off: usize,
    rs: usize,
    cs: usize,
    accumulate: bool,
    a: View,
    b: View,
    par: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "gemm: inner sizes differ");
    assert!(m > 0 && n > 0 && k > 0, "gemm: empty product");
    assert!(
        last_index(off, m, n, rs, cs) < dst.len(),
        "gemm: dst out of bounds"
    );
    assert!(
        last_index(a.off, m, k, a.rs, a.cs) < a.data.len(),
        "gemm: lhs out of bounds"
    );
    assert!(
        last_index(b.off, k, n, b.rs, b.cs) < b.data.len(),
        "gemm: rhs out of bounds"
    );
    let parallelism = if par {
        Parallelism::Rayon(THREADS)
    } else {
        Parallelism::None
    };
    // SAFETY: all three matrices lie inside their slices (checked above); dst is a unique borrow
    // so it cannot alias a or b.
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().add(off),
            cs as isize,
            rs as isize,
            accumulate,
            a.data.as_ptr().add(a.off),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr().add(b.off),
            b.cs as isize,
            b.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// Runs `f(first_row, rows)` over `out` (rows of `width`) in two halves on two threads.
fn par_rows(out: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let rows = out.len() / width;
    if rows < 16 {
        f(0, out);
        return;
    }
    let half = rows.div_ceil(2);
    let (a, b) = out.split_at_mut(half * width);
    std::thread::scope(|s| {
        s.spawn(|| f(0, a));
        f(half, b);
    });
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Parameters (or gradients, or optimiser moments) as one `Vec<f32>` per tensor, in THE order.
pub type Tensors = Vec<Vec<f32>>;

/// Index of layer `l`'s tensor `k` (0 ln1_g, 1 ln1_b, 2 attn_w, 3 attn_b, 4 proj_w, 5 proj_b,
/// 6 ln2_g, 7 ln2_b, 8 fc_w, 9 fc_b, 10 fc2_w, 11 fc2_b).
fn li(l: usize, k: usize) -> usize {
    2 + 12 * l + k
}

/// Saved activations for one batch of `b` sequences of `t` tokens.
pub struct Acts {
    b: usize,
    t: usize,
    res: Vec<Vec<f32>>, // n_layer + 1 residual streams entering each layer (+ the final one)
    mid: Vec<Vec<f32>>, // after each attention sub-block
    ln1: Vec<Vec<f32>>,
    ln1_s: Vec<Vec<(f32, f32)>>,
    qkv: Vec<Vec<f32>>,
    att: Vec<Vec<f32>>, // b × heads × t × t probabilities
    atty: Vec<Vec<f32>>,
    ln2: Vec<Vec<f32>>,
    ln2_s: Vec<Vec<(f32, f32)>>,
    fch: Vec<Vec<f32>>,
    fcg: Vec<Vec<f32>>,
    lnf: Vec<f32>,
    lnf_s: Vec<(f32, f32)>,
    probs: Vec<f32>,
    // Gradient scratch.
    dres: Vec<f32>,
    dln: Vec<f32>,
    dqkv: Vec<f32>,
    datty: Vec<f32>,
    dfch: Vec<f32>,
}

impl Acts {
    pub fn new(c: &Config, b: usize) -> Acts {
        let (t, d, m, v, nl) = (c.context, c.d_model, c.mlp, c.vocab, c.n_layer);
        let n = b * t;
        let z = |len: usize, count: usize| vec![vec![0f32; len]; count];
        Acts {
            b,
            t,
            res: z(n * d, nl + 1),
            mid: z(n * d, nl),
            ln1: z(n * d, nl),
            ln1_s: vec![vec![(0.0, 0.0); n]; nl],
            qkv: z(n * 3 * d, nl),
            att: z(b * c.n_head * t * t, nl),
            atty: z(n * d, nl),
            ln2: z(n * d, nl),
            ln2_s: vec![vec![(0.0, 0.0); n]; nl],
            fch: z(n * m, nl),
            fcg: z(n * m, nl),
            lnf: vec![0.0; n * d],
            lnf_s: vec![(0.0, 0.0); n],
            probs: vec![0.0; n * v],
            dres: vec![0.0; n * d],
            dln: vec![0.0; n * d],
            dqkv: vec![0.0; n * 3 * d],
            datty: vec![0.0; n * d],
            dfch: vec![0.0; n * m],
        }
    }
}

fn layer_norm(out: &mut [f32], stats: &mut [(f32, f32)], x: &[f32], g: &[f32], b: &[f32]) {
    let d = g.len();
    for (r, (o, s)) in out.chunks_mut(d).zip(stats.iter_mut()).enumerate() {
        let row = &x[r * d..(r + 1) * d];
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
        let var = row
            .iter()
            .map(|&v| (v as f64 - mean) * (v as f64 - mean))
            .sum::<f64>()
            / d as f64;
        let (mean, rstd) = (mean as f32, (1.0 / (var + LN_EPS as f64).sqrt()) as f32);
        *s = (mean, rstd);
        for i in 0..d {
            o[i] = (row[i] - mean) * rstd * g[i] + b[i];
        }
    }
}

/// `dx += LN'ᵀ·dout`, `dg += Σ dout ⊙ x̂`, `db += Σ dout`.
fn layer_norm_bwd(
    dx: &mut [f32],
    dg: &mut [f32],
    db: &mut [f32],
    dout: &[f32],
    x: &[f32],
    stats: &[(f32, f32)],
    g: &[f32],
) {
    let d = g.len();
    par_rows(dx, d, |r0, rows| {
        for (k, o) in rows.chunks_mut(d).enumerate() {
            let r = r0 + k;
            let (mean, rstd) = stats[r];
            let (xr, u) = (&x[r * d..(r + 1) * d], &dout[r * d..(r + 1) * d]);
            let (mut ma, mut mx) = (0f32, 0f32);
            for i in 0..d {
                let a = g[i] * u[i];
                ma += a;
                mx += a * (xr[i] - mean) * rstd;
            }
            ma /= d as f32;
            mx /= d as f32;
            for i in 0..d {
                let xh = (xr[i] - mean) * rstd;
                o[i] += rstd * (g[i] * u[i] - ma - xh * mx);
            }
        }
    });
    for (r, (xr, u)) in x.chunks(d).zip(dout.chunks(d)).enumerate() {
        let (mean, rstd) = stats[r];
        for i in 0..d {
            dg[i] += u[i] * (xr[i] - mean) * rstd;
            db[i] += u[i];
        }
    }
}

/// `out = inp·w + bias` (`inp` n × i, `w` i × o).
fn linear(out: &mut [f32], inp: &[f32], w: &[f32], bias: &[f32]) {
    let o = bias.len();
    let i = w.len() / o;
    let n = inp.len() / i;
    for row in out.chunks_mut(o) {
        row.copy_from_slice(bias);
    }
    mm(out, 0, o, 1, true, rm(inp, n, i), rm(w, i, o), true);
}

/// `dinp = dout·wᵀ` (overwritten), `dw += inpᵀ·dout`, `db += Σ_rows dout`.
fn linear_bwd(
    dinp: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    w: &[f32],
) {
    let o = db.len();
    let i = w.len() / o;
    let n = inp.len() / i;
    mm(dinp, 0, i, 1, false, rm(dout, n, o), rm_t(w, i, o), true);
    mm(dw, 0, o, 1, true, rm_t(inp, n, i), rm(dout, n, o), true);
    for row in dout.chunks(o) {
        for (b, &g) in db.iter_mut().zip(row) {
            *b += g;
        }
    }
}

const GELU_C: f32 = 0.797_884_6; // sqrt(2/π)
const GELU_A: f32 = 0.044715;

fn gelu_sigmoid(v: f32) -> f32 {
    // 0.5·(1 + tanh u) = 1/(1 + e^(-2u)), u = sqrt(2/π)·(v + 0.044715·v³), as in td-transformer.
    1.0 / (1.0 + (-2.0 * GELU_C * (v + GELU_A * v * v * v)).exp())
}

struct Heads {
    t: usize,
    d: usize,
    nh: usize,
    hd: usize,
    scale: f32,
}

/// Attention of one sequence: `qkv` (t × 3d) → `att` (nh × t × t), `y` (t × d).
fn attention_seq(h: &Heads, qkv: &[f32], att: &mut [f32], y: &mut [f32]) {
    let (t, d, hd) = (h.t, h.d, h.hd);
    for head in 0..h.nh {
        let p = &mut att[head * t * t..(head + 1) * t * t];
        let q = view(qkv, head * hd, t, hd, 3 * d, 1);
        let kt = view(qkv, d + head * hd, hd, t, 1, 3 * d);
        mm(p, 0, t, 1, false, q, kt, false);
        for (i, row) in p.chunks_mut(t).enumerate() {
            let m = row[..=i]
                .iter()
                .fold(f32::NEG_INFINITY, |m, &v| m.max(v * h.scale));
            let mut sum = 0f32;
            for v in &mut row[..=i] {
                *v = (*v * h.scale - m).exp();
                sum += *v;
            }
            let inv = 1.0 / sum;
            for v in &mut row[..=i] {
                *v *= inv;
            }
            for v in &mut row[i + 1..] {
                *v = 0.0;
            }
        }
        let vv = view(qkv, 2 * d + head * hd, t, hd, 3 * d, 1);
        mm(y, head * hd, d, 1, false, rm(p, t, t), vv, false);
    }
}

/// Backward of `attention_seq`: `dqkv` (t × 3d) overwritten; `dp` is t × t scratch.
fn attention_seq_bwd(
    h: &Heads,
    qkv: &[f32],
    att: &[f32],
    dy: &[f32],
    dqkv: &mut [f32],
    dp: &mut [f32],
) {
    let (t, d, hd) = (h.t, h.d, h.hd);
    for head in 0..h.nh {
        let p = &att[head * t * t..(head + 1) * t * t];
        let dyv = view(dy, head * hd, t, hd, d, 1);
        // dP = dY·Vᵀ
        let vt = view(qkv, 2 * d + head * hd, hd, t, 1, 3 * d);
        mm(dp, 0, t, 1, false, dyv, vt, false);
        // dS = scale·P ⊙ (dP - rowsum(P ⊙ dP)), zero above the diagonal.
        for (i, (dr, pr)) in dp.chunks_mut(t).zip(p.chunks(t)).enumerate() {
            let s = dot(&dr[..=i], &pr[..=i]);
            for j in 0..=i {
                dr[j] = h.scale * pr[j] * (dr[j] - s);
            }
            for v in &mut dr[i + 1..] {
                *v = 0.0;
            }
        }
        // dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dY.
        let k = view(qkv, d + head * hd, t, hd, 3 * d, 1);
        mm(dqkv, head * hd, 3 * d, 1, false, rm(dp, t, t), k, false);
        let q = view(qkv, head * hd, t, hd, 3 * d, 1);
        mm(
            dqkv,
            d + head * hd,
            3 * d,
            1,
            false,
            rm_t(dp, t, t),
            q,
            false,
        );
        mm(
            dqkv,
            2 * d + head * hd,
            3 * d,
            1,
            false,
            rm_t(p, t, t),
            dyv,
            false,
        );
    }
}

/// Forward pass over `inputs` (b × t tokens); returns the mean cross-entropy (nats) of
/// `targets`, and keeps what the backward pass needs in `a`.
pub fn forward(c: &Config, p: &Tensors, inputs: &[u32], targets: &[u32], a: &mut Acts) -> f64 {
    let (t, d, v, m) = (a.t, c.d_model, c.vocab, c.mlp);
    let n = a.b * t;
    assert_eq!(inputs.len(), n);
    let heads = Heads {
        t,
        d,
        nh: c.n_head,
        hd: d / c.n_head,
        scale: (1.0 / ((d / c.n_head) as f64).sqrt()) as f32,
    };
    // Embeddings.
    for (r, row) in a.res[0].chunks_mut(d).enumerate() {
        let tok = inputs[r] as usize;
        let pos = r % t;
        for i in 0..d {
            row[i] = p[0][tok * d + i] + p[1][pos * d + i];
        }
    }
    for l in 0..c.n_layer {
        let q = |k: usize| &p[li(l, k)];
        layer_norm(&mut a.ln1[l], &mut a.ln1_s[l], &a.res[l], q(0), q(1));
        linear(&mut a.qkv[l], &a.ln1[l], q(2), q(3));
        {
            let qkv = &a.qkv[l];
            let half = a.b.div_ceil(2);
            let (att0, att1) = a.att[l].split_at_mut(half * c.n_head * t * t);
            let (y0, y1) = a.atty[l].split_at_mut(half * t * d);
            let work = |first: usize, att: &mut [f32], y: &mut [f32]| {
                for (k, (ab, yb)) in att
                    .chunks_mut(c.n_head * t * t)
                    .zip(y.chunks_mut(t * d))
                    .enumerate()
                {
                    let s = first + k;
                    attention_seq(&heads, &qkv[s * t * 3 * d..(s + 1) * t * 3 * d], ab, yb);
                }
            };
            std::thread::scope(|sc| {
                sc.spawn(|| work(0, att0, y0));
                work(half, att1, y1);
            });
        }
        linear(&mut a.mid[l], &a.atty[l], q(4), q(5));
        for (x, r) in a.mid[l].iter_mut().zip(&a.res[l]) {
            *x += r;
        }
        layer_norm(&mut a.ln2[l], &mut a.ln2_s[l], &a.mid[l], q(6), q(7));
        linear(&mut a.fch[l], &a.ln2[l], q(8), q(9));
        {
            let fch = &a.fch[l];
            par_rows(&mut a.fcg[l], m, |r0, rows| {
                for (o, &x) in rows.iter_mut().zip(&fch[r0 * m..]) {
                    *o = x * gelu_sigmoid(x);
                }
            });
        }
        let out = &mut a.res[l + 1];
        linear(out, &a.fcg[l], q(10), q(11));
        for (x, r) in out.iter_mut().zip(&a.mid[l]) {
            *x += r;
        }
    }
    let nl = c.n_layer;
    let last = p.len();
    layer_norm(
        &mut a.lnf,
        &mut a.lnf_s,
        &a.res[nl],
        &p[last - 2],
        &p[last - 1],
    );
    mm(
        &mut a.probs,
        0,
        v,
        1,
        false,
        rm(&a.lnf, n, d),
        rm_t(&p[0], v, d),
        true,
    );
    let mut loss = 0f64;
    for (row, &y) in a.probs.chunks_mut(v).zip(targets) {
        let mx = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f64;
        for z in row.iter_mut() {
            *z = (*z - mx).exp();
            sum += *z as f64;
        }
        loss += sum.ln() - (row[y as usize] as f64).ln();
        let inv = (1.0 / sum) as f32;
        for z in row.iter_mut() {
            *z *= inv;
        }
    }
    loss / n as f64
}

/// Gradients of the mean loss of the last `forward` into `g` (overwritten).
pub fn backward(
    c: &Config,
    p: &Tensors,
    inputs: &[u32],
    targets: &[u32],
    a: &mut Acts,
    g: &mut Tensors,
) {
    let (t, d, v, m) = (a.t, c.d_model, c.vocab, c.mlp);
    let n = a.b * t;
    for x in g.iter_mut() {
        x.fill(0.0);
    }
    let heads = Heads {
        t,
        d,
        nh: c.n_head,
        hd: d / c.n_head,
        scale: (1.0 / ((d / c.n_head) as f64).sqrt()) as f32,
    };
    // dlogits = (p - onehot)/n, in place.
    let inv_n = 1.0 / n as f32;
    for (row, &y) in a.probs.chunks_mut(v).zip(targets) {
        row[y as usize] -= 1.0;
        for z in row.iter_mut() {
            *z *= inv_n;
        }
    }
    // logits = lnf·wteᵀ: dlnf = dlogits·wte, dwte += dlogitsᵀ·lnf.
    mm(
        &mut a.dln,
        0,
        d,
        1,
        false,
        rm(&a.probs, n, v),
        rm(&p[0], v, d),
        true,
    );
    mm(
        &mut g[0],
        0,
        d,
        1,
        true,
        rm_t(&a.probs, n, v),
        rm(&a.lnf, n, d),
        true,
    );
    let last = p.len();
    a.dres.fill(0.0);
    {
        let (gh, gt) = g.split_at_mut(last - 1);
        layer_norm_bwd(
            &mut a.dres,
            &mut gh[last - 2],
            &mut gt[0],
            &a.dln,
            &a.res[c.n_layer],
            &a.lnf_s,
            &p[last - 2],
        );
    }
    for l in (0..c.n_layer).rev() {
        let q = |k: usize| &p[li(l, k)];
        let gl = &mut g[li(l, 0)..li(l, 12)];
        let (g_ln1, rest) = gl.split_at_mut(2);
        let (g_attn, rest) = rest.split_at_mut(2);
        let (g_proj, rest) = rest.split_at_mut(2);
        let (g_ln2, rest) = rest.split_at_mut(2);
        let (g_fc, g_fc2) = rest.split_at_mut(2);
        // MLP: out = mid + fc2(gelu(fc(ln2(mid)))).
        {
            let (gw, gb) = g_fc2.split_at_mut(1);
            // dfcg into dfch (then gelu backward in place).
            linear_bwd(
                &mut a.dfch,
                &mut gw[0],
                &mut gb[0],
                &a.dres,
                &a.fcg[l],
                q(10),
            );
        }
        {
            let fch = &a.fch[l];
            par_rows(&mut a.dfch, m, |r0, rows| {
                for (o, &x) in rows.iter_mut().zip(&fch[r0 * m..]) {
                    let s = gelu_sigmoid(x);
                    let du = GELU_C * (1.0 + 3.0 * GELU_A * x * x);
                    *o *= s + x * 2.0 * s * (1.0 - s) * du;
                }
            });
        }
        {
            let (gw, gb) = g_fc.split_at_mut(1);
            linear_bwd(&mut a.dln, &mut gw[0], &mut gb[0], &a.dfch, &a.ln2[l], q(8));
        }
        {
            let (gg, gb) = g_ln2.split_at_mut(1);
            layer_norm_bwd(
                &mut a.dres,
                &mut gg[0],
                &mut gb[0],
                &a.dln,
                &a.mid[l],
                &a.ln2_s[l],
                q(6),
            );
        }
        // Attention: mid = res + proj(attn(ln1(res))).
        {
            let (gw, gb) = g_proj.split_at_mut(1);
            linear_bwd(
                &mut a.datty,
                &mut gw[0],
                &mut gb[0],
                &a.dres,
                &a.atty[l],
                q(4),
            );
        }
        {
            let (qkv, att, datty) = (&a.qkv[l], &a.att[l], &a.datty);
            let half = a.b.div_ceil(2);
            let (dq0, dq1) = a.dqkv.split_at_mut(half * t * 3 * d);
            let nhtt = c.n_head * t * t;
            let work = |first: usize, dq: &mut [f32]| {
                let mut dp = vec![0f32; t * t];
                for (k, dqs) in dq.chunks_mut(t * 3 * d).enumerate() {
                    let s = first + k;
                    attention_seq_bwd(
                        &heads,
                        &qkv[s * t * 3 * d..(s + 1) * t * 3 * d],
                        &att[s * nhtt..(s + 1) * nhtt],
                        &datty[s * t * d..(s + 1) * t * d],
                        dqs,
                        &mut dp,
                    );
                }
            };
            std::thread::scope(|sc| {
                sc.spawn(|| work(0, dq0));
                work(half, dq1);
            });
        }
        {
            let (gw, gb) = g_attn.split_at_mut(1);
            linear_bwd(&mut a.dln, &mut gw[0], &mut gb[0], &a.dqkv, &a.ln1[l], q(2));
        }
        {
            let (gg, gb) = g_ln1.split_at_mut(1);
            layer_norm_bwd(
                &mut a.dres,
                &mut gg[0],
                &mut gb[0],
                &a.dln,
                &a.res[l],
                &a.ln1_s[l],
                q(0),
            );
        }
    }
    // Embeddings.
    let (gwte, gwpe) = g.split_at_mut(1);
    for (r, row) in a.dres.chunks(d).enumerate() {
        let tok = inputs[r] as usize;
        let pos = r % t;
        for i in 0..d {
            gwte[0][tok * d + i] += row[i];
            gwpe[0][pos * d + i] += row[i];
        }
    }
}

/// AdamW (decoupled weight decay, as torch.optim.AdamW) over tensors, with per-tensor decay.
pub struct AdamW {
    m: Tensors,
    v: Tensors,
    step: i32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

impl AdamW {
    pub fn new(p: &Tensors, beta1: f32, beta2: f32, eps: f32) -> AdamW {
        let z: Tensors = p.iter().map(|x| vec![0.0; x.len()]).collect();
        AdamW {
            m: z.clone(),
            v: z,
            step: 0,
            beta1,
            beta2,
            eps,
        }
    }

    /// One step: `grad_scale` multiplies every gradient (clipping), `decay[i]` is tensor i's
    /// weight decay.
    pub fn step(&mut self, p: &mut Tensors, g: &Tensors, lr: f32, decay: &[f32], grad_scale: f32) {
        self.step += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 / (1.0 - (b1 as f64).powi(self.step)) as f32;
        let c2 = 1.0 / (1.0 - (b2 as f64).powi(self.step)) as f32;
        for i in 0..p.len() {
            let shrink = 1.0 - lr * decay[i];
            for (((w, &gr), m), v) in p[i]
                .iter_mut()
                .zip(&g[i])
                .zip(self.m[i].iter_mut())
                .zip(self.v[i].iter_mut())
            {
                let gr = gr * grad_scale;
                *m = b1 * *m + (1.0 - b1) * gr;
                *v = b2 * *v + (1.0 - b2) * gr * gr;
                *w = *w * shrink - lr * (*m * c1) / ((*v * c2).sqrt() + self.eps);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_strides() {
        // a 2×3, b 3×2 (given transposed), dst written into a strided 2×2 block of a 3×4 buffer.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let bt = [7.0, 9.0, 11.0, 8.0, 10.0, 12.0]; // bᵀ row-major 2×3
        let mut dst = vec![0f32; 12];
        mm(
            &mut dst,
            5,
            4,
            1,
            false,
            rm(&a, 2, 3),
            rm_t(&bt, 2, 3),
            false,
        );
        assert_eq!(&dst[5..7], &[58.0, 64.0]);
        assert_eq!(&dst[9..11], &[139.0, 154.0]);
        mm(&mut dst, 5, 4, 1, true, rm(&a, 2, 3), rm_t(&bt, 2, 3), true);
        assert_eq!(&dst[9..11], &[278.0, 308.0]);
    }
}
