//! One-click presets of the attention explorer: each reproduces a set-up of the reference
//! (`docs/maths/attention-particles.md`) and is also a plain, clean link (it parses without
//! messages and prints back to itself; `tests/attention_params.rs` checks both).

pub use td_core::table::Preset;

pub static PRESETS: &[Preset] = &[
    Preset {
        name: "fig2-leader",
        title: "Hardmax: emerging leader",
        description: "Figure 2 of the hardmax paper (A = I, alpha = 0.5, 30 steps): token 1 at (−1/12, 1/12) becomes a leader at step 1 and stays put inside the hull, while the others end at (1, 1/3) or (−1, −1). Its attention arrows are shown.",
        hash: "#attention?v=1&rule=hardmax&steps=30&init=fig2-leader&focus=1",
    },
    Preset {
        name: "fig2-square",
        title: "Hardmax: square polytope",
        description: "Figure 2, square case: the six interior tokens travel to the four vertices of the square, which never move.",
        hash: "#attention?v=1&rule=hardmax&steps=30&init=fig2-square",
    },
    Preset {
        name: "fig2-nonleader",
        title: "Hardmax: non-leader clusters",
        description: "Figure 2, non-leader case: the tokens at (±0.5, 0) are tied between two vertices and converge to the edge midpoints (±1, 0), clusters without a leader.",
        hash: "#attention?v=1&rule=hardmax&steps=30&init=fig2-nonleader",
    },
    Preset {
        name: "localmax",
        title: "Localmax (stand-in): drag delta",
        description: "Localmax (our additive stand-in) on the Figure 2 square, delta = 0.1, 200 steps. Drag delta from 0 upward: at 0 the tokens reach the four vertices as under hardmax; a small delta pulls the vertices inward and leaves extra limit points.",
        hash: "#attention?v=1&init=fig2-square",
    },
    Preset {
        name: "centre-cluster",
        title: "Localmax (stand-in): centre cluster",
        description: "Our additive localmax stand-in on the same square with delta = 1: the six inner tokens gather in a cluster at the centre while the four corners stay put.",
        hash: "#attention?v=1&delta=1&init=fig2-square",
    },
    Preset {
        name: "consensus",
        title: "Localmax (stand-in): consensus",
        description: "Our additive localmax stand-in with delta = 5 admits every token: all-to-all averaging, every token meets at one point (like softmax at beta = 0).",
        hash: "#attention?v=1&delta=5&init=fig2-square",
    },
    Preset {
        name: "vanishing",
        title: "Localmax (stand-in): vanishing delta",
        description: "Our additive localmax stand-in with delta(k) = 0.3/(1 + k)², which fades fast enough that every token ends within 0.001 of where hardmax sends it, the square's corners. With q = 1 the corners end slightly inside and one token stays on an edge.",
        hash: "#attention?v=1&delta=0.3&schedule=vanishing&q=2&init=fig2-square",
    },
    Preset {
        name: "multiplicative",
        title: "Localmax (stand-in): multiplicative margin",
        description: "The multiplicative stand-in with delta = 0.2: a token attends to every token whose alignment is at least (1 − delta) times its best, so the margin grows with the alignment. The corners are pulled inward and extra limit points stay on the edges.",
        hash: "#attention?v=1&margin=multiplicative&delta=0.2&init=fig2-square",
    },
    Preset {
        name: "compare",
        title: "Softmax, hardmax, localmax (stand-in)",
        description: "All three rules from the same 64 random tokens: softmax (beta = 5) collapses to one point, hardmax gathers them in 5 clusters where every token is a leader (it attends within its own cluster) and nothing moves any more, and our localmax stand-in pulls the hull inward (2.58 → 2.36 in diameter) and ends in 4 clusters.",
        hash: "#attention?v=1&rule=compare",
    },
    Preset {
        name: "frank-wolfe",
        title: "Frank-Wolfe view",
        description: "Hardmax with a random positive definite A, drawn over the dominance cells of the hull's vertices: tokens head in straight lines for the vertex of their cell and gather in a few clusters.",
        hash: "#attention?v=1&rule=hardmax&matrix=spd&n=40&cells=on",
    },
    Preset {
        name: "negdef",
        title: "Negative definite A",
        description: "Hardmax with a negative definite A: each token attends to the far side, and everything contracts to a single cluster.",
        hash: "#attention?v=1&rule=hardmax&matrix=negdef",
    },
    Preset {
        name: "softmax",
        title: "Softmax, large beta",
        description: "Softmax at beta = 20 behaves almost like hardmax: a few clusters form near the hull's vertices within 200 steps, whereas beta = 5 collapses to one.",
        hash: "#attention?v=1&rule=softmax&beta=20",
    },
    Preset {
        name: "3d",
        title: "Three dimensions",
        description: "64 tokens uniform in the unit ball (d = 3) under the additive localmax stand-in: turn the view with yaw and pitch and watch the hull shrink (1.94 → 1.70 in diameter) while the tokens gather in 7 clusters. (The paper's limit polytope is for its own rule; for this stand-in the run shows what happens.)",
        hash: "#attention?v=1&d=3&init=disk",
    },
    Preset {
        name: "pca",
        title: "d = 16 through PCA",
        description: "200 tokens in four Gaussian clusters in 16 dimensions, seen through a PCA projection; the four clusters stay apart.",
        hash: "#attention?v=1&n=200&d=16&init=clusters",
    },
    Preset {
        name: "large",
        title: "2,000 tokens",
        description: "The largest token count the page offers: 2,000 tokens under the additive localmax stand-in for 200 steps. The hull shrinks (2.79 → 2.49 in diameter) and the tokens gather in 6 clusters; the log-axis plot shows the distance to the final state decaying geometrically, not reaching zero in finite time until floating-point rounding stops the tokens.",
        hash: "#attention?v=1&n=2000",
    },
    Preset {
        name: "sphere-circle",
        title: "Sphere: clustering on the circle",
        description: "Tokens on the unit circle under normalised self-attention (arXiv 2312.10794; Q = K = V = I, β = 1, continuous time): 32 uniform tokens gather into one cluster by t = 12.1, and the interaction energy, drawn as (1/β)·ln(2βE_β), rises from 0.33 to 1.",
        hash: "#attention?v=1&rule=softmax&norm=sphere&beta=1&n=32&init=disk",
    },
    Preset {
        name: "sphere-metastable",
        title: "Sphere: metastable clusters (large β)",
        description: "At β = 25 the 64 tokens on the circle first gather in several clusters that then last: 6 clusters from t = 10.5 to t = 48.5 before the next merge, and 4 are left at t = 500. The cluster count is on a log time axis, where the long-lived states show as flat steps.",
        hash: "#attention?v=1&rule=softmax&norm=sphere&h=0.5&beta=25&steps=1000&init=disk&tol=0.01",
    },
    Preset {
        name: "sphere-3d",
        title: "Sphere: d = 3",
        description: "64 tokens on the sphere S² (self-attention, β = 1): one cluster from t = 13.2, as the d ≥ 3 clustering theorem (arXiv 2312.10794, Thm 6.1) predicts for almost every start. Drag the figure, or use yaw and pitch, to turn the sphere.",
        hash: "#attention?v=1&rule=softmax&norm=sphere&beta=1&d=3&init=disk",
    },
    Preset {
        name: "sphere-vs-rd",
        title: "Sphere vs R^d: localmax from one start",
        description: "Our additive localmax stand-in (δ = 0.5) from the same 48 points on the circle, in R^d and on the sphere (post-norm layers, h = 0.5): in R^d the tokens are one cluster from step 33, on the circle 2 clusters remain after 200 layers.",
        hash: "#attention?v=1&norm=compare&time=layers&h=0.5&delta=0.5&n=48&init=disk",
    },
    Preset {
        name: "sphere-usa",
        title: "Sphere: unnormalised vs self-attention",
        description: "The same 64 tokens on the sphere S² at β = 2 under unnormalised attention (1/n) and self-attention (1/Z_i): in this run the unnormalised model is one cluster from t = 9.6, while self-attention still has 10 clusters at t = 10.",
        hash: "#attention?v=1&rule=softmax&norm=sphere&attn=compare&h=0.05&beta=2&d=3&init=disk",
    },
    Preset {
        name: "sphere-equiangular",
        title: "Sphere: equiangular start",
        description: "6 tokens in R^6 whose pairwise inner products are all 0.1, on the sphere with softmax (β = 3) and Q = K = V = I: they stay equiangular, and every inner product follows, to within 1e-9, the scalar equation ρ' = 2e^{βρ}(1−ρ)((n−1)ρ+1)/(e^β+(n−1)e^{βρ}) of arXiv 2312.10794 Thm 6.8, drawn dashed beside them.",
        hash: "#attention?v=1&rule=softmax&norm=sphere&h=0.05&beta=3&n=6&d=6&init=equiangular&rho0=0.1",
    },
    Preset {
        name: "sphere-mean-field",
        title: "Sphere: mean field, n = 2,000",
        description: "2,000 tokens drawn uniformly on the circle, under self-attention with β = 5 and Q = K = V = I (200 post-norm layers, h = 0.1). The heat map shows their angle density, the empirical measure whose n → ∞ limit the mean-field equation describes (arXiv 2512.01868). The uniform start breaks up into 330 clusters at t = 10 and 4 at t = 20.",
        hash: "#attention?v=1&rule=softmax&norm=sphere&time=layers&n=2000&init=disk",
    },
];

pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}
