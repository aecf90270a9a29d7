//! The energy lab's state and parameter table: the single source of truth for every setting's
//! default, range, validation, URL encoding, label, tooltip and control.
//!
//! A link `#energy?v=1&text=…&mass=fitted&steer=margin&…` is read key by key into [`State`] (a
//! bad value falls back on its own, with a [`Message`]), then [`normalise`] ties keys together
//! (the prompt leaves room for at least one generated token, `n` fits the context, the steered
//! position exists). Links carry only the keys that differ from the defaults; parse(print(state))
//! == state exactly.
//!
//! Every switch the paper left unstated (`h`, `mass`, `U`, `form`, `skip`) is labelled as our
//! assumption in its label and tooltip.

use td_core::table;
use td_core::url::shorten;
use td_transformer::energy::{EnergyForm, EnergyOptions, Mass, Potential};
use td_transformer::generate::Sampling;
use td_transformer::HiddenState;

pub const EXPLORER: &str = "energy";
/// Version of the link format written by this build.
pub const FORMAT_VERSION: u32 = 1;
/// The model's context (positions per forward pass); longer texts are analysed in windows.
pub const CONTEXT: usize = 128;
/// Most bytes of text analysed (16 windows of 128); longer texts are cut with a message.
pub const MAX_TEXT_BYTES: usize = 2_048;
/// Longest prompt: the context minus one generated token.
pub const MAX_PROMPT_BYTES: usize = CONTEXT - 1;
/// Layers of the model (the steering layer menu names them).
pub const N_LAYER: usize = 4;
/// Largest seed (2^53 − 1: survives a JavaScript number).
pub const MAX_SEED: f64 = 9_007_199_254_740_991.0;

/// The default text: the opening of "A Tale of Two Cities" (Dickens, 1859; public domain).
pub const DEFAULT_TEXT: &str = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness.";
pub const DEFAULT_PROMPT: &str = "The ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputMode {
    /// Teacher-forced analysis of `text`.
    Analyse,
    /// Generate `n` tokens from `prompt`, then analyse prompt + continuation.
    Generate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelChoice {
    Trained,
    Random,
}

impl ModelChoice {
    pub fn key(self) -> &'static str {
        match self {
            ModelChoice::Trained => "trained",
            ModelChoice::Random => "random",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SteerMode {
    Off,
    /// First order: δ = Δ·g/‖g‖².
    Delta,
    /// Exact after the final norm: make the target beat the top token by `margin`.
    Margin,
}

/// Where the steering perturbation is added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SteerLayer {
    /// After the final LayerNorm (logits linear in h: closed form).
    PostNorm,
    /// Residual stream entering block l (l = N_LAYER: before the final norm).
    Residual(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    // Input.
    pub mode: InputMode,
    pub text: String,
    pub prompt: String,
    /// Tokens to generate.
    pub n: usize,
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    /// Keep only bytes at least this fraction of the most likely one's probability (0 = off).
    pub min_p: f64,
    /// Sampling seed.
    pub gseed: u64,
    // Model.
    pub model: ModelChoice,
    /// Seed of the random model's initialisation.
    pub seed: u64,
    /// The real model of the "Real model" panel: a Hugging Face repo id, a folder URL, or
    /// `file:NAME@HASH` for files the reader loaded from disk (see [`check_checkpoint`]); empty
    /// when none. The lab's own figures still show the byte models.
    pub checkpoint: String,
    // Energy switches (our assumptions).
    pub hidden: HiddenState,
    pub mass: Mass,
    pub potential: Potential,
    pub form: EnergyForm,
    pub skip: usize,
    // Steering.
    pub steer: SteerMode,
    /// Position inspected and steered; None = the last position.
    pub pos: Option<usize>,
    /// Target byte; None = suggested (the runner-up at `pos`).
    pub target: Option<u8>,
    pub dlogp: f64,
    pub margin: f64,
    pub layer: SteerLayer,
    // View.
    /// Playback position along the tokens, 0..1.
    pub at: f64,
    pub speed: f64,
}

impl Default for State {
    fn default() -> Self {
        State {
            mode: InputMode::Analyse,
            text: DEFAULT_TEXT.to_string(),
            prompt: DEFAULT_PROMPT.to_string(),
            n: 64,
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.0,
            gseed: 1,
            model: ModelChoice::Trained,
            seed: 1,
            checkpoint: String::new(),
            hidden: HiddenState::PostNorm,
            mass: Mass::InvD,
            potential: Potential::Surprisal,
            form: EnergyForm::Additive,
            skip: 1,
            steer: SteerMode::Off,
            pos: None,
            target: None,
            dlogp: 1.0,
            margin: 1.0,
            layer: SteerLayer::PostNorm,
            at: 1.0,
            speed: 1.0,
        }
    }
}

impl State {
    pub fn energy_options(&self) -> EnergyOptions {
        EnergyOptions {
            state: self.hidden,
            mass: self.mass,
            potential: self.potential,
            form: self.form,
            skip: self.skip,
        }
    }

    pub fn sampling(&self) -> Sampling {
        Sampling {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
        }
    }

    /// The bytes analysed in `analyse` mode (the prompt in `generate` mode, before generation).
    pub fn input_bytes(&self) -> &[u8] {
        match self.mode {
            InputMode::Analyse => self.text.as_bytes(),
            InputMode::Generate => self.prompt.as_bytes(),
        }
    }

    /// Number of tokens the scene will analyse (generation included), without computing anything.
    pub fn token_count(&self) -> usize {
        match self.mode {
            InputMode::Analyse => self.text.len(),
            InputMode::Generate => self.prompt.len() + self.n,
        }
    }

    /// The steered / inspected position, resolved against `count` tokens.
    pub fn position(&self, count: usize) -> usize {
        let last = count.saturating_sub(1);
        self.pos.map_or(last, |p| p.min(last))
    }
}

pub use td_core::table::Message;
pub type Kind = table::Kind<State>;
pub type Param = table::Param<State, Group>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Input,
    Model,
    Energy,
    Steering,
    Playback,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Input,
        Group::Model,
        Group::Energy,
        Group::Steering,
        Group::Playback,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Group::Input => "Text",
            Group::Model => "Model",
            Group::Energy => "Energy: our assumptions",
            Group::Steering => "Jacobian steering",
            Group::Playback => "Playback",
        }
    }
}

fn always(_: &State) -> bool {
    true
}

fn generating(st: &State) -> bool {
    st.mode == InputMode::Generate
}

fn steering(st: &State) -> bool {
    st.steer != SteerMode::Off
}

pub const MODE_OPTIONS: &[(&str, &str)] = &[
    ("analyse", "analyse the text (teacher-forced)"),
    ("generate", "generate from the prompt"),
];

pub const MODEL_OPTIONS: &[(&str, &str)] = &[
    ("trained", "trained (weights from our training run)"),
    ("random", "random (seeded GPT-2 initialisation)"),
];

pub const LAYER_OPTIONS: &[(&str, &str)] = &[
    ("post", "after the final norm (exact)"),
    ("pre", "before the final norm (VJP)"),
    ("0", "entering block 0 (VJP)"),
    ("1", "entering block 1 (VJP)"),
    ("2", "entering block 2 (VJP)"),
    ("3", "entering block 3 (VJP)"),
];

/// The table. Order = order of controls on the page and of keys in printed links.
pub static PARAMS: &[Param] = &[
    Param {
        key: "mode",
        label: "Input",
        help: "Analyse a text you paste (each next byte is the text's own, teacher-forced), or let the model generate from a prompt and analyse what it wrote.",
        group: Group::Input,
        kind: Kind::Choice {
            options: MODE_OPTIONS,
            get: |st| match st.mode {
                InputMode::Analyse => "analyse",
                InputMode::Generate => "generate",
            },
            set: |st, v| {
                st.mode = if v == "generate" {
                    InputMode::Generate
                } else {
                    InputMode::Analyse
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "text",
        label: "Text to analyse",
        help: "Any text, up to 2,048 bytes (UTF-8; the model reads bytes). Texts longer than the 128-byte context are analysed in consecutive windows of 128.",
        group: Group::Input,
        kind: Kind::Text {
            placeholder: "Paste a paragraph of English",
            get: |st| st.text.clone(),
            set: set_text,
        },
        relevant: |st| st.mode == InputMode::Analyse,
    },
    Param {
        key: "prompt",
        label: "Prompt",
        help: "Where generation starts (up to 127 bytes, so the continuation fits the 128-byte context).",
        group: Group::Input,
        kind: Kind::Text {
            placeholder: "The ",
            get: |st| st.prompt.clone(),
            set: set_prompt,
        },
        relevant: generating,
    },
    Param {
        key: "n",
        label: "Bytes to generate",
        help: "Length of the continuation (prompt + continuation ≤ 128 bytes, the context).",
        group: Group::Input,
        kind: Kind::Integer {
            min: 1.0,
            max: (CONTEXT - 1) as f64,
            get: |st| st.n as f64,
            set: |st, v| st.n = v as usize,
        },
        relevant: always,
    },
    Param {
        key: "T",
        label: "Temperature",
        help: "Sampling temperature (0 = always the most likely byte).",
        group: Group::Input,
        kind: Kind::Number {
            min: 0.0,
            max: 5.0,
            log: false,
            step: 0.05,
            get: |st| st.temperature,
            set: |st, v| st.temperature = v,
        },
        relevant: always,
    },
    Param {
        key: "top_k",
        label: "Top-k",
        help: "Sample only among the k most likely bytes (0 = no limit).",
        group: Group::Input,
        kind: Kind::Integer {
            min: 0.0,
            max: 256.0,
            get: |st| st.top_k as f64,
            set: |st, v| st.top_k = v as usize,
        },
        relevant: always,
    },
    Param {
        key: "top_p",
        label: "Top-p",
        help: "Sample only within the smallest set of bytes holding this much probability (1 = no limit).",
        group: Group::Input,
        kind: Kind::Number {
            min: 0.01,
            max: 1.0,
            log: false,
            step: 0.01,
            get: |st| st.top_p,
            set: |st, v| st.top_p = v,
        },
        relevant: always,
    },
    Param {
        key: "min_p",
        label: "Min-p",
        help: "Sample only among bytes at least this fraction as likely as the most likely one (0 = no limit).",
        group: Group::Input,
        kind: Kind::Number {
            min: 0.0,
            max: 1.0,
            log: false,
            step: 0.01,
            get: |st| st.min_p,
            set: |st, v| st.min_p = v,
        },
        relevant: always,
    },
    Param {
        key: "gseed",
        label: "Sampling seed",
        help: "Seed of the sampler: the same seed gives the same continuation on every machine.",
        group: Group::Input,
        kind: Kind::Integer {
            min: 0.0,
            max: MAX_SEED,
            get: |st| st.gseed as f64,
            set: |st, v| st.gseed = v as u64,
        },
        relevant: always,
    },
    Param {
        key: "model",
        label: "Generating / steered model",
        help: "Which model generates, is inspected on hover and is steered. Both models are always analysed side by side.",
        group: Group::Model,
        kind: Kind::Choice {
            options: MODEL_OPTIONS,
            get: |st| st.model.key(),
            set: |st, v| {
                st.model = if v == "random" {
                    ModelChoice::Random
                } else {
                    ModelChoice::Trained
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "checkpoint",
        label: "Real model (GPT-2 or Llama family)",
        help: "A Hugging Face checkpoint for the Real model panel below: a repo id (openai-community/gpt2), the https URL of a folder holding its files, or file:NAME@HASH for files loaded from disk (the page then asks for those files). Nothing is downloaded until you confirm.",
        group: Group::Model,
        kind: Kind::Text {
            placeholder: "openai-community/gpt2",
            get: |st| st.checkpoint.clone(),
            set: set_checkpoint,
        },
        relevant: always,
    },
    Param {
        key: "seed",
        label: "Random model seed",
        help: "Seed of the random model's GPT-2-style initialisation (normal, std 0.02), generated in the page.",
        group: Group::Model,
        kind: Kind::Integer {
            min: 0.0,
            max: MAX_SEED,
            get: |st| st.seed as f64,
            set: |st, v| st.seed = v as u64,
        },
        relevant: always,
    },
    Param {
        key: "h",
        label: "Hidden state (assumption)",
        help: "Our assumption: which final hidden state h_t the velocity v_t = h_{t+1} − h_t uses. After the final LayerNorm its norm varies less; a note reports how much of Σ‖h_{t+1} − h_t‖² is a change of norm rather than of direction.",
        group: Group::Energy,
        kind: Kind::Choice {
            options: &[
                ("post", "after the final norm"),
                ("pre", "before the final norm"),
            ],
            get: |st| match st.hidden {
                HiddenState::PostNorm => "post",
                HiddenState::PreNorm => "pre",
            },
            set: |st, v| {
                st.hidden = if v == "pre" {
                    HiddenState::PreNorm
                } else {
                    HiddenState::PostNorm
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "mass",
        label: "Mass m (assumption)",
        help: "Our assumption: the mass in K = ½·m·‖v‖². 1/d, 1, or fitted m* = −Cov(K₁,U)/Var(K₁), the value that makes E as constant as possible (fitting it makes conservation look better than it is).",
        group: Group::Energy,
        kind: Kind::Choice {
            options: &[
                ("invd", "1/d"),
                ("one", "1"),
                ("fitted", "fitted m*"),
            ],
            get: |st| match st.mass {
                Mass::InvD => "invd",
                Mass::One => "one",
                Mass::Fitted => "fitted",
            },
            set: |st, v| {
                st.mass = match v {
                    "one" => Mass::One,
                    "fitted" => Mass::Fitted,
                    _ => Mass::InvD,
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "U",
        label: "Potential U (assumption)",
        help: "Our assumption: U_t is the surprisal −log p(x_{t+1}|x_≤t) (log point-perplexity) or the predictive entropy H(p_t).",
        group: Group::Energy,
        kind: Kind::Choice {
            options: &[
                ("surprisal", "surprisal −log p(next)"),
                ("entropy", "entropy H(p_t)"),
            ],
            get: |st| match st.potential {
                Potential::Surprisal => "surprisal",
                Potential::Entropy => "entropy",
            },
            set: |st, v| {
                st.potential = if v == "entropy" {
                    Potential::Entropy
                } else {
                    Potential::Surprisal
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "form",
        label: "Energy form (assumption)",
        help: "Our assumption: E = K + U (additive), or E = ln(2K) + U = ln(m‖v‖²·PP) (product form; positions with K = 0 are dropped).",
        group: Group::Energy,
        kind: Kind::Choice {
            options: &[
                ("additive", "E = K + U"),
                ("product", "E = ln(2K) + U"),
            ],
            get: |st| match st.form {
                EnergyForm::Additive => "additive",
                EnergyForm::Product => "product",
            },
            set: |st, v| {
                st.form = if v == "product" {
                    EnergyForm::Product
                } else {
                    EnergyForm::Additive
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "skip",
        label: "Positions skipped (assumption)",
        help: "Our assumption: the first positions of each 128-byte window are left out of the statistics (little context there).",
        group: Group::Energy,
        kind: Kind::Integer {
            min: 0.0,
            max: 64.0,
            get: |st| st.skip as f64,
            set: |st, v| st.skip = v as usize,
        },
        relevant: always,
    },
    Param {
        key: "steer",
        label: "Steering",
        help: "Perturb one hidden state toward a target byte: Δ form (first order, minimal norm: raises log p(target) by Δ) or margin form (exact after the final norm: the target beats the current top byte by the margin).",
        group: Group::Steering,
        kind: Kind::Choice {
            options: &[
                ("off", "off"),
                ("delta", "Δ form (first order)"),
                ("margin", "margin form"),
            ],
            get: |st| match st.steer {
                SteerMode::Off => "off",
                SteerMode::Delta => "delta",
                SteerMode::Margin => "margin",
            },
            set: |st, v| {
                st.steer = match v {
                    "delta" => SteerMode::Delta,
                    "margin" => SteerMode::Margin,
                    _ => SteerMode::Off,
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "pos",
        label: "Position",
        help: "The token position inspected and steered ('last' or a number from 0). Hover a byte of the text to preview it; click to choose it.",
        group: Group::Steering,
        kind: Kind::Text {
            placeholder: "last",
            get: |st| st.pos.map_or("last".to_string(), |p| p.to_string()),
            set: set_pos,
        },
        relevant: always,
    },
    Param {
        key: "target",
        label: "Target byte",
        help: "The byte to steer toward: a single character, 0xNN for any byte, or 'auto' (the runner-up at that position).",
        group: Group::Steering,
        kind: Kind::Text {
            placeholder: "auto",
            get: |st| st.target.map_or("auto".to_string(), byte_text),
            set: set_target,
        },
        relevant: steering,
    },
    Param {
        key: "dlogp",
        label: "Δ log p",
        help: "Δ form: the requested first-order change of log p(target).",
        group: Group::Steering,
        kind: Kind::Number {
            min: -10.0,
            max: 10.0,
            log: false,
            step: 0.05,
            get: |st| st.dlogp,
            set: |st, v| st.dlogp = v,
        },
        relevant: |st| st.steer == SteerMode::Delta,
    },
    Param {
        key: "margin",
        label: "Margin",
        help: "Margin form: afterwards z_target − z_top = margin (logits, after the final norm).",
        group: Group::Steering,
        kind: Kind::Number {
            min: 0.0,
            max: 20.0,
            log: false,
            step: 0.1,
            get: |st| st.margin,
            set: |st, v| st.margin = v,
        },
        relevant: |st| st.steer == SteerMode::Margin,
    },
    Param {
        key: "layer",
        label: "Steer at",
        help: "Where the perturbation is added: after the final norm (logits are linear there), or earlier in the residual stream through the closed-form vector-Jacobian products of the blocks (first order; the realised change is reported).",
        group: Group::Steering,
        kind: Kind::Choice {
            options: LAYER_OPTIONS,
            get: |st| match st.layer {
                SteerLayer::PostNorm => "post",
                SteerLayer::Residual(4) => "pre",
                SteerLayer::Residual(0) => "0",
                SteerLayer::Residual(1) => "1",
                SteerLayer::Residual(2) => "2",
                SteerLayer::Residual(_) => "3",
            },
            set: |st, v| {
                st.layer = match v {
                    "pre" => SteerLayer::Residual(N_LAYER),
                    "0" => SteerLayer::Residual(0),
                    "1" => SteerLayer::Residual(1),
                    "2" => SteerLayer::Residual(2),
                    "3" => SteerLayer::Residual(3),
                    _ => SteerLayer::PostNorm,
                }
            },
        },
        relevant: steering,
    },
    Param {
        key: "at",
        label: "Position shown",
        help: "Draw the trajectories up to this fraction of the tokens (1 = all). Play walks through the text token by token.",
        group: Group::Playback,
        kind: Kind::Number {
            min: 0.0,
            max: 1.0,
            log: false,
            step: 0.001,
            get: |st| st.at,
            set: |st, v| st.at = v,
        },
        relevant: always,
    },
    Param {
        key: "speed",
        label: "Speed",
        help: "Playback speed (1 = normal).",
        group: Group::Playback,
        kind: Kind::Number {
            min: 0.1,
            max: 10.0,
            log: true,
            step: 0.01,
            get: |st| st.speed,
            set: |st, v| st.speed = v,
        },
        relevant: always,
    },
];

/// Text-like controls drawn as a multi-line text box.
pub const TEXTAREAS: &[&str] = &["text"];

/// The control whose choice a parameter refines (hiding it hides this one too).
pub fn controlled_by(key: &str) -> Option<&'static str> {
    match key {
        "dlogp" | "margin" | "layer" | "target" => Some("steer"),
        _ => None,
    }
}

/// A byte as the link writes it: printable ASCII (space excluded) as itself, otherwise `0xNN`.
pub fn byte_text(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        (byte as char).to_string()
    } else {
        format!("0x{byte:02X}")
    }
}

/// A byte for display: printable ASCII as itself, space as ␣ (U+2423: in DejaVu Sans and the
/// system fonts; U+2420 ␠ is missing from common fonts and drew as a box), newline as ⏎, tab as
/// ⇥, else 0xNN.
pub fn byte_label(byte: u8) -> String {
    match byte {
        b' ' => "␣".to_string(),
        b'\n' => "⏎".to_string(),
        b'\t' => "⇥".to_string(),
        b if b.is_ascii_graphic() => (b as char).to_string(),
        b => format!("0x{b:02X}"),
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn set_text(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    if text.len() > MAX_TEXT_BYTES {
        msgs.push(Message::new(
            "text",
            format!(
                "text: {} bytes is more than the {MAX_TEXT_BYTES} analysed; the rest was cut",
                text.len()
            ),
        ));
    }
    st.text = cut(text, MAX_TEXT_BYTES);
}

/// Longest `checkpoint` value (a URL of a folder, or a repo id).
pub const MAX_CHECKPOINT_CHARS: usize = 512;

/// Checks a `checkpoint` value: a Hugging Face repo id (`owner/name`, letters, digits, `.`, `_`,
/// `-`), an `http(s)://` URL without spaces or quotes, or `file:NAME@HASH` (NAME up to 100
/// characters without `@`, HASH 64 hex digits: SHA-256 of the files, see docs/page-contract.md).
/// Returns why not, for the message.
pub fn check_checkpoint(value: &str) -> Result<(), &'static str> {
    let safe = |c: char, extra: &str| c.is_ascii_alphanumeric() || extra.contains(c);
    if value.chars().count() > MAX_CHECKPOINT_CHARS {
        return Err("longer than 512 characters");
    }
    if let Some(rest) = value.strip_prefix("file:") {
        let (name, hash) = rest.rsplit_once('@').ok_or("file: needs NAME@HASH")?;
        let name_ok = !name.is_empty()
            && name.chars().count() <= 100
            && !name.chars().any(|c| c.is_control() || c == '@');
        let hash_ok = hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit());
        return if name_ok && hash_ok {
            Ok(())
        } else {
            Err("file: needs a name (up to 100 characters) and a 64-digit hex hash")
        };
    }
    if value.starts_with("https://") || value.starts_with("http://") {
        let ok = value.len() > 8
            && !value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "\"'<>`\\".contains(c));
        return if ok { Ok(()) } else { Err("not a usable URL") };
    }
    match value.split_once('/') {
        Some((owner, name))
            if !owner.is_empty()
                && !name.is_empty()
                && owner.len() <= 96
                && name.len() <= 96
                && owner.chars().all(|c| safe(c, "._-"))
                && name.chars().all(|c| safe(c, "._-"))
                && !owner.starts_with(['.', '-'])
                && !name.starts_with(['.', '-']) =>
        {
            Ok(())
        }
        _ => Err("not a repo id (owner/name), an http(s) URL or file:NAME@HASH"),
    }
}

fn set_checkpoint(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let value = text.trim();
    match check_checkpoint(value) {
        Ok(()) => st.checkpoint = value.to_string(),
        Err(_) if value.is_empty() => st.checkpoint.clear(),
        Err(why) => {
            msgs.push(Message::new(
                "checkpoint",
                format!("checkpoint: {why}; no real model is named"),
            ));
            st.checkpoint.clear();
        }
    }
}

fn set_prompt(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    if text.len() > MAX_PROMPT_BYTES {
        msgs.push(Message::new(
            "prompt",
            format!(
                "prompt: {} bytes is more than {MAX_PROMPT_BYTES} (the continuation must fit the 128-byte context); cut",
                text.len()
            ),
        ));
    }
    st.prompt = cut(text, MAX_PROMPT_BYTES);
}

fn set_pos(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let text = text.trim();
    if text.is_empty() || text == "last" {
        st.pos = None;
        return;
    }
    match text.parse::<u64>() {
        Ok(p) => st.pos = Some(p.min(MAX_TEXT_BYTES as u64) as usize),
        Err(_) => msgs.push(Message::new(
            "pos",
            format!(
                "pos={} is not 'last' or a position; kept {}",
                shorten(text),
                st.pos.map_or("last".to_string(), |p| p.to_string())
            ),
        )),
    }
}

fn set_target(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    if text.is_empty() || text == "auto" {
        st.target = None;
        return;
    }
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .filter(|h| !h.is_empty() && h.len() <= 2);
    let parsed = match hex {
        Some(h) => u8::from_str_radix(h, 16).ok(),
        None if text.len() == 1 => Some(text.as_bytes()[0]),
        None => None,
    };
    match parsed {
        Some(byte) => st.target = Some(byte),
        None => msgs.push(Message::new(
            "target",
            format!(
                "target={} is not one character, 0xNN or 'auto'; kept {}",
                shorten(text),
                st.target.map_or("auto".to_string(), byte_text)
            ),
        )),
    }
}

/// Ties keys together after reading: ranges (defensive; links cannot break them), an empty text
/// or prompt, the continuation fitting the context, the position inside the text.
pub fn normalise(st: &mut State, msgs: &mut Vec<Message>) {
    let defaults = State::default();
    table::clamp_ranges(PARAMS, st, &defaults, msgs);
    if st.text.len() > MAX_TEXT_BYTES {
        st.text = cut(&st.text, MAX_TEXT_BYTES);
    }
    if st.mode == InputMode::Analyse && st.text.len() < 2 {
        msgs.push(Message::new(
            "text",
            "text: at least 2 bytes are needed (one step of the hidden state); using the default text",
        ));
        st.text = DEFAULT_TEXT.to_string();
    }
    if st.prompt.len() > MAX_PROMPT_BYTES {
        st.prompt = cut(&st.prompt, MAX_PROMPT_BYTES);
    }
    if st.mode == InputMode::Generate && st.prompt.is_empty() {
        msgs.push(Message::new(
            "prompt",
            "prompt: empty; generation needs at least one byte to start from, using \"The \"",
        ));
        st.prompt = DEFAULT_PROMPT.to_string();
    }
    if st.mode == InputMode::Generate && st.prompt.len() + st.n > CONTEXT {
        let n = CONTEXT - st.prompt.len();
        msgs.push(Message::new(
            "n",
            format!(
                "n: prompt ({} bytes) + {} generated is more than the 128-byte context; generating {n}",
                st.prompt.len(),
                st.n
            ),
        ));
        st.n = n;
    }
    if let Some(p) = st.pos {
        let count = st.token_count();
        if p >= count {
            msgs.push(Message::new(
                "pos",
                format!(
                    "pos={p} is past the last position ({}); using the last",
                    count.saturating_sub(1)
                ),
            ));
            st.pos = None;
        }
    }
}
