//! One-click presets: each reproduces a check of the reference document and is also a plain link.

pub use td_core::table::Preset;

pub static PRESETS: &[Preset] = &[
    Preset {
        name: "audit",
        title: "Audit counterexample",
        description: "V = 2, s = (0, 1), T = 1 from uniform: under Flow A the free energy F peaks at t = 1 (1.313262) and falls (F(4) = 1.072109); Flow C rises monotonically to softmax.",
        hash: "#next-token?v=1&flow=compare&s=0,1&labels=a,b&p0=uniform&t=4",
    },
    Preset {
        name: "collapse",
        title: "Temperature collapse",
        description: "Flow A and C at T = 0.5, 1, 2 plotted against t/T: A's curves coincide (temperature rescales time), C's do not.",
        hash: "#next-token?v=1&flow=compare&p0=uniform&t=8&overlay=T:0.5,1,2&x=tT",
    },
    Preset {
        name: "mw-exact",
        title: "MW exactness",
        description: "17 multiplicative-weights steps with η = 0.25 land exactly on Flow A at t = 4.25 (to machine precision).",
        hash: "#next-token?v=1&flow=mw&t=4.25&p0=uniform",
    },
    Preset {
        name: "mirror-sweep",
        title: "Flow D stability sweep",
        description: "Entropic mirror ascent with η·T = 0.27, 1, 1.9, 2.1: slow monotone, one step, oscillating convergence, divergence.",
        hash: "#next-token?v=1&flow=entropic-mw&t=40&p0=0.1,0.3,0.6&overlay=eta:0.27,1,1.9,2.1",
    },
    Preset {
        name: "topk-topp",
        title: "top-k vs top-p under temperature",
        description: "The nucleus (top-p = 0.8) is a vertex at T = 0.3, an edge at T = 1 and the whole simplex at T = 3; top-k's face never moves with T.",
        hash: "#next-token?v=1&flow=entropic&trunc=top-p&top_p=0.8&p0=uniform&t=6&overlay=T:0.3,1,3",
    },
    Preset {
        name: "rps",
        title: "RPS loop",
        description: "Rock-paper-scissors scores s = W·p under Flow A: closed orbits around the uniform point, Σ log p_i conserved (a stand-in for loop-like behaviour).",
        hash: "#next-token?v=1&flow=replicator&adjust=matrix&s=0,0,0&labels=rock,paper,scissors&p0=0.5,0.3,0.2;0.4,0.3,0.3;0.7,0.2,0.1&t=30",
    },
    Preset {
        name: "spiral",
        title: "Spiral",
        description: "RPS plus a small symmetric part (ε = 0.1): the closed loop opens into a spiral that winds out toward the boundary, Σ log p_i falling (a small change of W destroys the loop).",
        hash: "#next-token?v=1&flow=replicator&adjust=matrix&W=spiral&s=0,0,0&labels=rock,paper,scissors&p0=0.5,0.3,0.2&t=60",
    },
];

pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}
