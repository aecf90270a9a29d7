//! One report of a loaded checkpoint on a text: its tokens, the hidden-state energy per token
//! (K, U, E with the energy lab's default switches), the statistics beside those of its
//! random-weight twin, each with the decoupled null, the next tokens after the last one, and on
//! request the per-layer view, a generated continuation and the steering forms.
//!
//! The native `token-dynamics model <folder> --json` and the page's real-model module
//! (`pages/real-model`) both print this one structure, so the page's numbers can be checked
//! against native ones field by field.

use serde::{Deserialize, Serialize};
use td_transformer::energy::{
    decoupled_null, energy_series, summarize, DecoupledNull, EnergyForm, EnergyOptions,
    EnergySeries, EnergySummary, Mass, Potential,
};
use td_transformer::forward::{Patch, PatchSite};
use td_transformer::steer::{steer_delta, steer_delta_pre_norm, steer_margin_to_top, Steer};
use td_transformer::vjp::{steer_delta_at_layer, LayeredModel};
use td_transformer::{HiddenState, Sampling};

use crate::{Checkpoint, Model};

/// The energy lab's default switches (`crates/energy/src/params.rs`): post-norm state, mass
/// 1/d, surprisal, our assumed additive form, the first position skipped.
pub const LAB_DEFAULTS: EnergyOptions = EnergyOptions {
    state: HiddenState::PostNorm,
    mass: Mass::InvD,
    potential: Potential::Surprisal,
    form: EnergyForm::Additive,
    skip: 1,
};

/// Shuffles of the decoupled null, and their seed.
pub const NULL_DRAWS: usize = 200;
pub const NULL_SEED: u64 = 1;

/// The text analysed when a request gives neither text nor ids.
pub const DEFAULT_TEXT: &str = "The quick brown fox jumps over the lazy dog.";

/// Longest text a request may carry (bytes): far beyond any supported context, small enough
/// that tokenising it is instant.
pub const MAX_TEXT_BYTES: usize = 65_536;

/// What to compute (the command line's options; the page sends it as JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Request {
    /// The text, tokenised by the checkpoint's tokenizer (default [`DEFAULT_TEXT`]).
    pub text: Option<String>,
    /// Token ids instead of a text (for checkpoints without a tokenizer).
    pub ids: Option<Vec<u32>>,
    /// Seed of the random-weight twin.
    pub twin_seed: u64,
    /// How many next tokens to list (1..=100).
    pub top: usize,
    /// The position whose next-token distribution is listed and linked (0-based index of a
    /// token; default the last).
    pub position: Option<usize>,
    /// Add the per-layer view.
    pub layers: bool,
    /// Steer the last position toward this token (an id, or text that is one token).
    pub steer: Option<String>,
    /// Also steer at the residual stream entering this block (GPT-2 family, 0..=n_layer: the
    /// first-order Δ form through the blocks' vector-Jacobian products, realised by a patched
    /// pass); the steered continuation is then generated with this patch.
    pub steer_layer: Option<usize>,
    /// Continue the text.
    pub generate: Option<Generate>,
    /// How the caller names the checkpoint (a repo id, a folder URL, `file:NAME@HASH`): it goes
    /// into the next-token link's `from` (default: the architecture).
    pub source: Option<String>,
    /// Also make the whole distribution at `position` as a vocabulary file
    /// ([`td_core::vocabulary`], [`Report::vocabulary`]): the page keeps it in the browser for
    /// the next-token explorer, whose link carries only the top tokens.
    pub vocabulary: bool,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            text: None,
            ids: None,
            twin_seed: 1,
            top: 5,
            position: None,
            layers: false,
            steer: None,
            steer_layer: None,
            generate: None,
            source: None,
            vocabulary: false,
        }
    }
}

/// A continuation's length, sampling and seed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Generate {
    /// Tokens to add (1..=4096; the context caps it).
    pub n: usize,
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    pub min_p: f64,
    pub seed: u64,
}

impl Default for Generate {
    fn default() -> Self {
        let s = Sampling::default();
        Generate {
            n: 20,
            temperature: s.temperature,
            top_k: s.top_k,
            top_p: s.top_p,
            min_p: s.min_p,
            seed: 1,
        }
    }
}

impl Generate {
    pub fn sampling(&self) -> Sampling {
        Sampling {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
        }
    }
}

impl Request {
    /// Reads a request from JSON (unknown keys and wrong types are errors that name them).
    pub fn from_json(text: &str) -> Result<Request, String> {
        let request: Request =
            serde_json::from_str(text).map_err(|e| format!("the request is not valid: {e}"))?;
        request.validate()?;
        Ok(request)
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.text.is_some() && self.ids.is_some() {
            return Err("give a text or token ids, not both".into());
        }
        if self.text.as_ref().is_some_and(|t| t.len() > MAX_TEXT_BYTES) {
            return Err(format!("the text is longer than {MAX_TEXT_BYTES} bytes"));
        }
        if self.steer_layer.is_some() && self.steer.is_none() {
            return Err("steer_layer needs a steering target (steer)".into());
        }
        if !(1..=100).contains(&self.top) {
            return Err(format!("top {}: list 1 to 100 next tokens", self.top));
        }
        if let Some(g) = &self.generate {
            if !(1..=4096).contains(&g.n) {
                return Err(format!("generate {}: 1 to 4096 tokens", g.n));
            }
            g.sampling().validate()?;
        }
        Ok(())
    }
}

/// What the checkpoint is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelSummary {
    pub architecture: String,
    /// `"gpt2"` or `"llama"`.
    pub family: &'static str,
    pub description: String,
    pub n_params: usize,
    /// How many blocks (the page offers steering at the residual stream entering 0..=n_layer).
    pub n_layer: usize,
    pub vocab: usize,
    pub context: usize,
    pub stored_dtypes: Vec<String>,
    /// The precision the matrices are kept in, in memory (`"bf16"`, …: the checkpoint's).
    pub weights_dtype: &'static str,
    /// Bytes the weights take in memory (the random twin takes as many).
    pub weight_bytes: usize,
    pub has_tokenizer: bool,
}

impl ModelSummary {
    pub fn of(checkpoint: &Checkpoint) -> ModelSummary {
        let family = checkpoint.config.family;
        ModelSummary {
            architecture: checkpoint.config.architecture.clone(),
            family: match family {
                crate::Family::Gpt2(_) => "gpt2",
                crate::Family::Llama(_) => "llama",
            },
            description: family.describe(),
            n_params: family.n_params(),
            n_layer: family.n_layer(),
            vocab: family.vocab(),
            context: family.context(),
            stored_dtypes: checkpoint.stored_dtypes.clone(),
            weights_dtype: checkpoint.model.matrix_dtype().name(),
            weight_bytes: checkpoint.model.bytes(),
            has_tokenizer: checkpoint.tokenizer.is_some(),
        }
    }
}

/// The summary as JSON (what the page shows once a checkpoint is loaded).
pub fn summary_json(summary: &ModelSummary) -> String {
    serde_json::to_string(summary).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// A token: its id and the piece of text it covers (`#id` without a tokenizer).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenPiece {
    pub id: u32,
    pub piece: String,
}

/// A token with its probability.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ranked {
    pub id: u32,
    pub piece: String,
    pub p: f64,
}

/// K, U and E at position t.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Row {
    pub t: usize,
    pub k: f64,
    pub u: f64,
    pub e: f64,
}

/// One statistic of the model and of its twin (`None`: undefined for these tokens).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Statistic {
    pub name: &'static str,
    pub model: Option<f64>,
    pub twin: Option<f64>,
}

/// One layer's view (see [`Model::layer_lens`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerRow {
    pub layer: usize,
    pub mean_speed: Option<f64>,
    pub top: Vec<Ranked>,
}

/// A continuation and how it was drawn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Generation {
    /// The new ids only.
    pub ids: Vec<u32>,
    /// Their text (the ids as `#id` without a tokenizer).
    pub text: String,
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    pub min_p: f64,
    pub seed: u64,
}

/// One steering form's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SteerForm {
    pub name: String,
    pub norm: f64,
    pub old_p: f64,
    pub new_p: f64,
    pub old_rank: usize,
    pub new_rank: usize,
}

/// Steering the last position toward a token.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Steering {
    pub target: TokenPiece,
    pub forms: Vec<SteerForm>,
    /// With a continuation requested (GPT-2 family): the continuation generated with the
    /// perturbation added on every pass, the same sampler and seed as the plain one.
    pub steered: Option<SteeredContinuation>,
}

/// A continuation generated with a steering perturbation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SteeredContinuation {
    /// Where the perturbation is added, in words.
    pub site: String,
    pub ids: Vec<u32>,
    pub text: String,
}

/// Everything one request computes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub model: ModelSummary,
    pub tokens: Vec<TokenPiece>,
    pub rows: Vec<Row>,
    /// The random twin's K, U and E (same positions as `rows`).
    pub twin_rows: Vec<Row>,
    pub twin_seed: u64,
    /// The precision the twin's matrices are kept in (the model's, see [`Model::random_twin`]).
    pub twin_dtype: &'static str,
    pub statistics: Vec<Statistic>,
    /// The position of `next` (0-based index of the token they follow).
    pub position: usize,
    pub next: Vec<Ranked>,
    /// The next-token explorer's link of the distribution at `position`: the
    /// [`LINKED_TOKENS`] most probable tokens' log-probabilities and, lumped into one "other"
    /// token, the rest's (exact at temperature 1; a flow moves the lumped tokens as one).
    pub next_token_link: String,
    pub layers: Option<Vec<LayerRow>>,
    pub generation: Option<Generation>,
    pub steering: Option<Steering>,
    /// What the report could not do for this checkpoint, and why.
    pub notes: Vec<String>,
    /// The whole distribution at `position` as a vocabulary file, when the request asked for it
    /// (not in the JSON: the page stores the bytes and adds their id to the link).
    #[serde(skip)]
    pub vocabulary: Option<Vec<u8>>,
    /// The model's and the twin's series, for the lab's figures ([`crate::figures`]; the JSON
    /// has them as `rows` and `twin_rows`).
    #[serde(skip)]
    pub sides: [Side; 2],
}

/// One model's series as the lab's figures draw them.
#[derive(Clone, Debug, PartialEq)]
pub struct Side {
    pub series: EnergySeries,
    /// ‖v_t‖ (the post-norm hidden state's step from t to t+1), aligned with `series.t`.
    pub speed: Vec<f64>,
    pub summary: EnergySummary,
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

type SummaryStatistic = (&'static str, fn(&EnergySummary) -> Option<f64>);
type NullStatistic = (&'static str, fn(&DecoupledNull) -> Option<f64>);

/// The statistics, in the order they are shown.
const STATISTICS: [SummaryStatistic; 6] = [
    ("mean K", |s| s.mean_k),
    ("mean U", |s| s.mean_u),
    ("mean E", |s| s.mean_e),
    ("CV(E)", |s| s.cv_e),
    ("corr(K, U)", |s| s.corr_ku),
    ("Var(E) / (Var(K) + Var(U))", |s| s.var_ratio),
];

const NULLS: [NullStatistic; 3] = [
    ("null: mean CV(E) of the shuffles", |n| n.cv_e_mean),
    ("null: p-value (shuffles with CV(E) <= observed)", |n| {
        n.p_value
    }),
    ("null: CV(E) if K and U were uncorrelated", |n| {
        n.cv_e_independent
    }),
];

/// The report of `request` on `checkpoint`, beside `twin` (its random-weight twin, made by the
/// caller with [`Model::random_twin`] and `request.twin_seed`, so a page can keep it between
/// requests).
pub fn report(checkpoint: &Checkpoint, twin: &Model, request: &Request) -> Result<Report, String> {
    request.validate()?;
    let tokens = tokens(checkpoint, request)?;
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    let family = checkpoint.config.family;
    if ids.len() < 2 || ids.len() > family.context() {
        return Err(format!(
            "{} tokens: the energy needs 2 to {} (the model's context)",
            ids.len(),
            family.context()
        ));
    }
    let position = request.position.unwrap_or(ids.len() - 1);
    if position >= ids.len() {
        return Err(format!(
            "position {position}: the text has {} tokens (0 to {})",
            ids.len(),
            ids.len() - 1
        ));
    }
    let model = analyse(&checkpoint.model, &ids, request.top, position)?;
    let twin_dtype = twin.matrix_dtype().name();
    let twin = analyse(twin, &ids, request.top, position)?;
    let mut statistics: Vec<Statistic> = STATISTICS
        .iter()
        .map(|(name, get)| Statistic {
            name,
            model: get(&model.summary),
            twin: get(&twin.summary),
        })
        .collect();
    statistics.extend(NULLS.iter().map(|(name, get)| Statistic {
        name,
        model: get(&model.null),
        twin: get(&twin.null),
    }));
    let rank = |list: Vec<(u32, f64)>| -> Vec<Ranked> {
        list.into_iter()
            .map(|(id, p)| Ranked {
                id,
                piece: piece_of(checkpoint, id),
                p,
            })
            .collect()
    };
    let layers = if request.layers {
        let lens = checkpoint.model.layer_lens(&ids, 3)?;
        Some(
            lens.into_iter()
                .map(|l| LayerRow {
                    layer: l.layer,
                    mean_speed: l.mean_speed,
                    top: rank(l.top),
                })
                .collect(),
        )
    } else {
        None
    };
    let generation = match &request.generate {
        Some(g) => Some(continuation(checkpoint, &ids, g)?),
        None => None,
    };
    // What the report could not do for this checkpoint: nothing at present (both families
    // steer at every block and continue steered); the page shows any that appear.
    let notes = Vec::new();
    let steering = match &request.steer {
        Some(target) => Some(steering(checkpoint, &ids, target, request)?),
        None => None,
    };
    let from = link_source(checkpoint, request, &tokens, position);
    let next_token_link = next_token_link(checkpoint, &model.log_probs, &from);
    let vocabulary = request.vocabulary.then(|| {
        td_core::vocabulary::Vocabulary {
            labels: (0..model.log_probs.len())
                .map(|i| label_of(&piece_of(checkpoint, i as u32), i))
                .collect(),
            log_probs: model.log_probs.clone(),
        }
        .encode()
    });
    Ok(Report {
        model: ModelSummary::of(checkpoint),
        tokens,
        rows: model.rows,
        twin_rows: twin.rows,
        twin_seed: request.twin_seed,
        twin_dtype,
        statistics,
        position,
        next: rank(model.next),
        next_token_link,
        layers,
        generation,
        steering,
        notes,
        vocabulary,
        sides: [model.side, twin.side],
    })
}

/// The tokens of the request: its ids, or its text through the checkpoint's tokenizer.
fn tokens(checkpoint: &Checkpoint, request: &Request) -> Result<Vec<TokenPiece>, String> {
    if let Some(ids) = &request.ids {
        let vocab = checkpoint.config.family.vocab();
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(format!(
                "token id {bad} is outside the vocabulary (0 to {})",
                vocab - 1
            ));
        }
        return Ok(ids
            .iter()
            .map(|&id| TokenPiece {
                id,
                piece: piece_of(checkpoint, id),
            })
            .collect());
    }
    let tokenizer = checkpoint.tokenizer.as_ref().ok_or(
        "this checkpoint has no tokenizer.json, so text cannot be turned into its tokens: \
         add the folder's tokenizer.json, or give token ids",
    )?;
    let text = request.text.as_deref().unwrap_or(DEFAULT_TEXT);
    let encoded = tokenizer.encode(text)?;
    Ok(encoded
        .ids
        .iter()
        .zip(&encoded.offsets)
        .map(|(&id, &(a, b))| TokenPiece {
            id,
            piece: text.get(a..b).unwrap_or("").to_string(),
        })
        .collect())
}

/// The text of one token (`#id` without a tokenizer).
pub fn piece_of(checkpoint: &Checkpoint, id: u32) -> String {
    checkpoint
        .tokenizer
        .as_ref()
        .and_then(|t| t.decode(&[id]).ok())
        .unwrap_or_else(|| format!("#{id}"))
}

/// One model's part of the report.
struct Analysis {
    side: Side,
    summary: EnergySummary,
    null: DecoupledNull,
    rows: Vec<Row>,
    /// The most probable next tokens after `position` (id, probability).
    next: Vec<(u32, f64)>,
    /// The whole next-token distribution after `position` (log-probabilities).
    log_probs: Vec<f64>,
}

fn analyse(model: &Model, ids: &[u32], top: usize, position: usize) -> Result<Analysis, String> {
    let fwd = model.forward(ids)?;
    let series = energy_series(&fwd, ids, &LAB_DEFAULTS)?;
    let rows = series
        .t
        .iter()
        .enumerate()
        .map(|(i, &t)| Row {
            t,
            k: series.k[i],
            u: series.u[i],
            e: series.e[i],
        })
        .collect();
    // ‖h_{t+1} − h_t‖ of the state the series uses, at the series' positions (as the lab's).
    let (d, hidden) = (fwd.d, fwd.hidden(LAB_DEFAULTS.state));
    let speed = series
        .t
        .iter()
        .map(|&t| {
            let (a, b) = (
                &hidden[t * d..(t + 1) * d],
                &hidden[(t + 1) * d..(t + 2) * d],
            );
            a.iter()
                .zip(b)
                .map(|(x, y)| (y - x) * (y - x))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let v = fwd.vocab;
    let last = &fwd.log_probs[position * v..(position + 1) * v];
    let mut order: Vec<u32> = (0..v as u32).collect();
    order.sort_by(|&a, &b| last[b as usize].total_cmp(&last[a as usize]));
    let next = order
        .into_iter()
        .take(top)
        .map(|id| (id, last[id as usize].exp()))
        .collect();
    let summary = summarize(&series);
    Ok(Analysis {
        summary,
        null: decoupled_null(&series, LAB_DEFAULTS.form, NULL_DRAWS, NULL_SEED),
        rows,
        next,
        log_probs: last.to_vec(),
        side: Side {
            series,
            speed,
            summary,
        },
    })
}

/// The id of a vocabulary file ([`Report::vocabulary`]): its `vocab=` in a next-token link.
pub use td_core::vocabulary::id_of as vocabulary_id;

/// Tokens a next-token link carries by name (the rest are lumped into one).
pub const LINKED_TOKENS: usize = 64;

/// A token's text as a next-token label: whitespace made visible (as the byte lab's labels),
/// and the id added where the text is a part of a character (shown as U+FFFD) or a control
/// character (shown as ·), so that every label names one token.
fn label_of(piece: &str, id: usize) -> String {
    let label: String = piece
        .chars()
        .map(|c| match c {
            ' ' => '␣',
            '\n' => '⏎',
            '\t' => '⇥',
            c if c.is_control() => '·',
            c => c,
        })
        .collect();
    let ambiguous = piece
        .chars()
        .any(|c| c == '\u{FFFD}' || (c.is_control() && !matches!(c, '\n' | '\t')));
    if ambiguous || label.is_empty() {
        format!("{label}#{id}")
    } else {
        label
    }
}

/// The next-token link's `from`: the model, the position and its token, the text (its first
/// 80 characters) and what the link keeps of the distribution.
fn link_source(
    checkpoint: &Checkpoint,
    request: &Request,
    tokens: &[TokenPiece],
    position: usize,
) -> String {
    let name = request
        .source
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(&checkpoint.config.architecture);
    let name: String = name.chars().take(120).collect();
    // Shown as one line of plain text: line breaks and other control characters made visible.
    let text: String = tokens
        .iter()
        .flat_map(|t| t.piece.chars())
        .map(|c| match c {
            '\n' => '⏎',
            '\t' => '⇥',
            c if c.is_control() => '·',
            c => c,
        })
        .collect();
    let text = if text.chars().count() > 80 {
        text.chars().take(80).collect::<String>() + "…"
    } else {
        text
    };
    let v = checkpoint.config.family.vocab();
    let kept = v.min(LINKED_TOKENS);
    let lumped = if kept < v {
        format!(
            "the {kept} most probable of {v} tokens, the other {} lumped as one",
            v - kept
        )
    } else {
        format!("all {v} tokens")
    };
    format!(
        "{name}, next token after position {position} ({}) of \"{text}\": {lumped}",
        label_of(&tokens[position].piece, tokens[position].id as usize)
    )
}

/// The next-token explorer's link of `log_probs`: the [`LINKED_TOKENS`] most probable tokens,
/// and one "other" token holding the rest's probability (log-sum-exp of theirs), with `from`.
fn next_token_link(checkpoint: &Checkpoint, log_probs: &[f64], from: &str) -> String {
    let mut order: Vec<usize> = (0..log_probs.len()).collect();
    order.sort_by(|&a, &b| log_probs[b].total_cmp(&log_probs[a]).then(a.cmp(&b)));
    let (kept, rest) = order.split_at(order.len().min(LINKED_TOKENS));
    let mut scores: Vec<f64> = kept.iter().map(|&i| log_probs[i]).collect();
    let mut labels: Vec<String> = kept
        .iter()
        .map(|&i| label_of(&piece_of(checkpoint, i as u32), i))
        .collect();
    if !rest.is_empty() {
        let max = rest
            .iter()
            .map(|&i| log_probs[i])
            .fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = rest.iter().map(|&i| (log_probs[i] - max).exp()).sum();
        scores.push(max + sum.ln());
        labels.push(format!("other ({} tokens)", rest.len()));
    }
    td_core::export::scores_link(&scores, &labels, from)
}

fn continuation(checkpoint: &Checkpoint, ids: &[u32], g: &Generate) -> Result<Generation, String> {
    let all = checkpoint.model.generate(ids, g.n, g.sampling(), g.seed)?;
    let new = all[ids.len()..].to_vec();
    let text = text_of(checkpoint, &new)?;
    Ok(Generation {
        ids: new,
        text,
        temperature: g.temperature,
        top_k: g.top_k,
        top_p: g.top_p,
        min_p: g.min_p,
        seed: g.seed,
    })
}

/// The steering target: an id, or text that the tokenizer makes one token.
pub fn steer_target(checkpoint: &Checkpoint, target: &str) -> Result<u32, String> {
    let vocab = checkpoint.config.family.vocab();
    if let Ok(id) = target.trim().parse::<u32>() {
        return if (id as usize) < vocab {
            Ok(id)
        } else {
            Err(format!("steering target {id} is outside the vocabulary"))
        };
    }
    let tokenizer = checkpoint
        .tokenizer
        .as_ref()
        .ok_or("the steering target must be a token id: this checkpoint has no tokenizer.json")?;
    match tokenizer.encode(target)?.ids[..] {
        [id] => Ok(id),
        ref ids => Err(format!(
            "the steering target {target:?} is {} tokens, not one: give one token (or its id)",
            ids.len()
        )),
    }
}

/// Names of the three steering forms.
pub const DELTA: &str = "delta form (delta log p = 1)";
pub const MARGIN: &str = "margin form (margin 1, until it leads)";
pub const PRE_NORM: &str = "delta form before the final norm (delta log p = 1, first order)";

/// The Δ and margin forms at the last position's post-norm state, the Δ form before the final
/// norm (through its vector-Jacobian product), and the Δ form at an earlier layer through the
/// blocks' VJPs (`request.steer_layer`); with a continuation requested, the steered continuation.
fn steering(
    checkpoint: &Checkpoint,
    ids: &[u32],
    target: &str,
    request: &Request,
) -> Result<Steering, String> {
    let y = steer_target(checkpoint, target)?;
    let fwd = checkpoint.model.forward(ids)?;
    let last = (fwd.n - 1) * fwd.d..fwd.n * fwd.d;
    let (h, h_pre) = (&fwd.h_post[last.clone()], &fwd.h_pre[last]);
    let (forms, patch, site) = match &checkpoint.model {
        Model::Gpt2(w) => steer_forms(w, ids, (h, h_pre), y as usize, request.steer_layer)?,
        Model::Llama(w) => steer_forms(w, ids, (h, h_pre), y as usize, request.steer_layer)?,
    };
    let steered = match &request.generate {
        Some(g) => {
            let model = &checkpoint.model;
            let all = model.generate_patched(ids, g.n, g.sampling(), g.seed, Some(&patch))?;
            let new = all[ids.len()..].to_vec();
            Some(SteeredContinuation {
                site,
                text: text_of(checkpoint, &new)?,
                ids: new,
            })
        }
        None => None,
    };
    Ok(Steering {
        target: TokenPiece {
            id: y,
            piece: piece_of(checkpoint, y),
        },
        forms,
        steered,
    })
}

/// The forms of either family at the last position (`h`, `h_pre`: its post- and pre-norm
/// states), and the patch that drives the steered continuation with the words for where it goes:
/// the final post-norm Δ, or the block's Δ when `steer_layer` asks for one.
fn steer_forms<W: LayeredModel>(
    w: &W,
    ids: &[u32],
    (h, h_pre): (&[f64], &[f64]),
    y: usize,
    steer_layer: Option<usize>,
) -> Result<(Vec<SteerForm>, Patch, String), String> {
    let form = |name: &str, s: &Steer| SteerForm {
        name: name.to_string(),
        norm: s.norm,
        old_p: s.old_log_p.exp(),
        new_p: s.new_p,
        old_rank: s.old_rank,
        new_rank: s.new_rank,
    };
    let delta = steer_delta(w, h, y, 1.0)?;
    let mut forms = vec![
        form(DELTA, &delta),
        form(MARGIN, &steer_margin_to_top(w, h, y, 1.0)?),
        form(PRE_NORM, &steer_delta_pre_norm(w, h_pre, y, 1.0)?),
    ];
    let position = ids.len() - 1;
    let Some(layer) = steer_layer else {
        let patch = Patch {
            site: PatchSite::PostNorm,
            position,
            delta: delta.delta,
        };
        return Ok((
            forms,
            patch,
            "the final post-norm state (delta form)".into(),
        ));
    };
    let s = steer_delta_at_layer(w, ids, layer, position, y, 1.0)?;
    forms.push(layer_form(layer, &s));
    let patch = Patch {
        site: PatchSite::Residual(layer),
        position,
        delta: s.delta,
    };
    Ok((
        forms,
        patch,
        format!("the residual stream entering block {layer} (delta form)"),
    ))
}

/// The Δ form at the residual stream entering a block, as the report lists it.
fn layer_form(layer: usize, s: &td_transformer::LayerSteer) -> SteerForm {
    SteerForm {
        name: format!(
            "delta form at the residual stream entering block {layer} (delta log p = 1, first \
             order, realised by a patched pass)"
        ),
        norm: s.norm,
        old_p: s.old_log_p.exp(),
        new_p: s.new_p,
        old_rank: s.old_rank,
        new_rank: s.new_rank,
    }
}

/// The text of `ids` (as `#id`s without a tokenizer).
fn text_of(checkpoint: &Checkpoint, ids: &[u32]) -> Result<String, String> {
    Ok(match &checkpoint.tokenizer {
        Some(t) => t.decode(ids)?,
        None => ids
            .iter()
            .map(|id| format!("#{id}"))
            .collect::<Vec<_>>()
            .join(" "),
    })
}

/// The benchmark shapes, built from a seed without a download: `"gpt2-small"` (GPT-2
/// small: 124M parameters), `"smollm2-135m"` and `"smollm2-360m"` (SmolLM2's configs), random
/// weights with the architecture's standard initialisation; with `-bf16` or `-f16` appended, the
/// matrices rounded to that precision (as the hub's bf16 SmolLM2 checkpoints are kept), else f32.
pub fn random_shape(name: &str, seed: u64) -> Result<Model, String> {
    use td_transformer::llama::{LlamaConfig, LlamaWeights};
    use td_transformer::{Config, Dtype, Weights};
    let (shape, dtype) = match name.rsplit_once('-') {
        Some((shape, "bf16")) => (shape, Dtype::Bf16),
        Some((shape, "f16")) => (shape, Dtype::F16),
        _ => (name, Dtype::F32),
    };
    let smollm2 = |d_model, n_layer, n_head, mlp, init_std| LlamaConfig {
        vocab: 49_152,
        d_model,
        n_layer,
        n_head,
        n_kv_head: n_head / 3,
        context: 8192,
        mlp,
        rms_eps: 1e-5,
        rope_theta: 100_000.0,
        tied: true,
        init_std,
    };
    match shape {
        "gpt2-small" => Ok(Model::Gpt2(Weights::random_in(
            Config {
                vocab: 50_257,
                d_model: 768,
                n_layer: 12,
                n_head: 12,
                context: 1024,
                mlp: 3072,
            },
            seed,
            dtype,
        )?)),
        "smollm2-135m" => Ok(Model::Llama(LlamaWeights::random_in(
            smollm2(576, 30, 9, 1536, 0.041_666_666_666_666_664),
            seed,
            dtype,
        )?)),
        "smollm2-360m" => Ok(Model::Llama(LlamaWeights::random_in(
            smollm2(960, 32, 15, 2560, 0.02),
            seed,
            dtype,
        )?)),
        _ => Err(format!(
            "no benchmark shape {name:?}: gpt2-small, smollm2-135m or smollm2-360m, optionally \
             with -bf16 or -f16"
        )),
    }
}

/// The benchmark's work on `model`: a forward pass over `tokens` (ids spread over the
/// vocabulary) and every statistic of the report (series, summary, decoupled null). Returns the
/// number of parameters, for the effective GFLOP/s (2 × parameters × tokens / time).
pub fn bench_pass(model: &Model, tokens: usize) -> Result<usize, String> {
    let ids = bench_ids(tokens);
    let fwd = model.forward(&ids)?;
    let series = energy_series(&fwd, &ids, &LAB_DEFAULTS)?;
    std::hint::black_box(summarize(&series));
    std::hint::black_box(decoupled_null(
        &series,
        LAB_DEFAULTS.form,
        NULL_DRAWS,
        NULL_SEED,
    ));
    Ok(model.n_params())
}

/// The benchmark's token ids: `n` ids spread over the first 1,000 of the vocabulary.
pub fn bench_ids(n: usize) -> Vec<u32> {
    (0..n as u32).map(|i| (i * 7919) % 1000).collect()
}
