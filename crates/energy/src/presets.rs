//! One-click presets of the energy lab: each is a plain, clean link (it parses without messages
//! and prints back to itself; `tests/energy_params.rs` checks both).

pub use td_core::table::Preset;

pub static PRESETS: &[Preset] = &[
    Preset {
        name: "default",
        title: "Dickens, both models",
        description: "The opening of A Tale of Two Cities, teacher-forced through the trained and the random model: K, U and E per byte with the default assumptions (post-norm h, m = 1/d, surprisal, additive).",
        hash: "#energy?v=1",
    },
    Preset {
        name: "fitted-mass",
        title: "Fitted mass m*",
        description: "The mass m* = −Cov(K₁, U)/Var(K₁) that makes the additive E as flat as possible, fitted per model (where the fit is not positive, as for the random model here, 1/d is used and a note says so): conservation looks better than it is, so compare CV(E) with the shuffled null, which refits m* on every shuffle.",
        hash: "#energy?v=1&mass=fitted",
    },
    Preset {
        name: "product",
        title: "Product form ‖v‖²·PP",
        description: "E = ln(2K) + U = ln(m·speed² · point perplexity): the product form.",
        hash: "#energy?v=1&form=product",
    },
    Preset {
        name: "generate",
        title: "Generate from a prompt",
        description: "The trained model writes 64 bytes after \"The \" (temperature 0.8, top-k 40, top-p 0.95, seed 1); the energy of what it wrote, both models.",
        hash: "#energy?v=1&mode=generate",
    },
    Preset {
        name: "steer-margin",
        title: "Steer: make the runner-up win",
        description: "At the last prompt byte, the margin form makes the runner-up beat the top byte by 1 logit after the final norm; compare the continuations and the energy trace.",
        hash: "#energy?v=1&mode=generate&steer=margin",
    },
    Preset {
        name: "steer-early",
        title: "Steer at block 1 (VJP)",
        description: "The same target, reached by a first-order step in the residual stream entering block 1, through the closed-form vector-Jacobian products; the realised change of log p is reported beside the requested one.",
        hash: "#energy?v=1&mode=generate&steer=delta&dlogp=2&layer=1",
    },
    Preset {
        name: "entropy",
        title: "Entropy as potential, pre-norm",
        description: "U = H(p_t) instead of the surprisal, and h before the final norm (its length is free there).",
        hash: "#energy?v=1&h=pre&U=entropy",
    },
];
