//! `token-dynamics model <folder>`: a Hugging Face checkpoint folder (td-checkpoint) run natively:
//! its tokens, the hidden-state energy per token (K, U, E, the energy lab's default switches),
//! the statistics beside those of its random-weight twin (same config, GPT-2's seeded
//! initialisation), and the next-token distribution's top tokens at the last position.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use td_checkpoint::{load, Checkpoint, Files, Model};
use td_transformer::energy::{
    decoupled_null, energy_series, summarize, DecoupledNull, EnergyForm, EnergyOptions,
    EnergySummary,
};
use td_transformer::steer::{steer_delta, steer_delta_pre_norm, steer_margin_to_top, Steer};

pub const USAGE: &str = "\
usage: token-dynamics model <folder> [--text TEXT | --ids 1,2,3] [--twin-seed N] [--top K]
                            [--steer TOKEN] [--layers]
                            [--generate N [--temperature T] [--top-k K] [--top-p P]
                                          [--min-p M] [--seed S]]

  <folder> holds a Hugging Face checkpoint: config.json, model.safetensors (or
  model.safetensors.index.json and its shards), and tokenizer.json for --text.
  Prints the tokens, K, U and E per token (the energy lab's defaults: post-norm state, mass 1/d,
  surprisal, the first position skipped, and our assumed form E = K + U: the paper's definition
  was not available); the statistics of the model and of its random-weight twin (the
  architecture's standard initialisation, seed --twin-seed, default 1), each with the decoupled
  null (200 seeded shuffles of U against K); and the --top (default 5) next tokens after the
  last one.
  --steer TOKEN (an id, or text that is one token) steers the last position toward it: at the
  final post-norm state, the Δ form (Δ log p = 1, first order) and the margin form (margin 1,
  repeated until the token leads); before the final norm, the Δ form (through the norm's
  vector-Jacobian product); each with ‖δ‖, the new probability and rank.
  --layers adds a line per layer: the mean speed ‖r(t+1) - r(t)‖ of the residual stream entering
  it (over the energy's positions), and its logit lens at the last position (the final norm and
  the unembedding applied to that stream: its most probable next token).
  --generate N continues the text by up to N tokens (the context caps it) with the key/value
  cache: temperature (default 1; 0 = greedy), top-k (0 = off), top-p (1 = off), min-p (0 = off),
  seed (default 1).";

/// The energy lab's default switches (`crates/energy/src/params.rs`): post-norm state, mass
/// 1/d, surprisal, additive form, the first position skipped.
const LAB_DEFAULTS: EnergyOptions = EnergyOptions {
    state: td_transformer::HiddenState::PostNorm,
    mass: td_transformer::energy::Mass::InvD,
    potential: td_transformer::energy::Potential::Surprisal,
    form: EnergyForm::Additive,
    skip: 1,
};

/// Shuffles of the decoupled null, and their seed.
const NULL_DRAWS: usize = 200;
const NULL_SEED: u64 = 1;

/// Files of a folder that a checkpoint may need (config, tokenizer, safetensors, shard index).
fn read_folder(dir: &Path) -> Result<Files, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let wanted = name == "config.json"
            || name == "tokenizer.json"
            || name.ends_with(".safetensors")
            || name == td_checkpoint::tensors::INDEX;
        if wanted {
            let bytes = std::fs::read(entry.path())
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            files.insert(name, bytes);
        }
    }
    Ok(files)
}

struct Options {
    folder: String,
    text: Option<String>,
    ids: Option<Vec<u32>>,
    twin_seed: u64,
    top: usize,
    steer: Option<String>,
    layers: bool,
    generate: Option<usize>,
    sampling: td_transformer::Sampling,
    seed: u64,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut iter = args.iter();
    let folder = iter.next().ok_or("missing the checkpoint folder")?.clone();
    let mut o = Options {
        folder,
        text: None,
        ids: None,
        twin_seed: 1,
        top: 5,
        steer: None,
        layers: false,
        generate: None,
        sampling: td_transformer::Sampling::default(),
        seed: 1,
    };
    while let Some(flag) = iter.next() {
        if flag == "--layers" {
            o.layers = true;
            continue;
        }
        let value = iter.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--text" => o.text = Some(value.clone()),
            "--ids" => {
                let ids: Result<Vec<u32>, _> =
                    value.split(',').map(|s| s.trim().parse::<u32>()).collect();
                o.ids = Some(ids.map_err(|_| format!("--ids {value}: comma-separated token ids"))?);
            }
            "--twin-seed" => {
                o.twin_seed = value
                    .parse()
                    .map_err(|_| format!("--twin-seed {value}: a whole number"))?;
            }
            "--top" => {
                o.top = value
                    .parse()
                    .ok()
                    .filter(|k| (1..=100).contains(k))
                    .ok_or(format!("--top {value}: 1..100"))?;
            }
            "--steer" => o.steer = Some(value.clone()),
            "--generate" => {
                o.generate = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|n| (1..=4096).contains(n))
                        .ok_or(format!("--generate {value}: 1..4096 tokens"))?,
                );
            }
            "--temperature" | "--top-p" | "--min-p" => {
                let x: f64 = value
                    .parse()
                    .map_err(|_| format!("{flag} {value}: a number"))?;
                match flag.as_str() {
                    "--temperature" => o.sampling.temperature = x,
                    "--top-p" => o.sampling.top_p = x,
                    _ => o.sampling.min_p = x,
                }
            }
            "--top-k" => {
                o.sampling.top_k = value
                    .parse()
                    .map_err(|_| format!("--top-k {value}: a whole number"))?;
            }
            "--seed" => {
                o.seed = value
                    .parse()
                    .map_err(|_| format!("--seed {value}: a whole number"))?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    o.sampling.validate()?;
    if o.text.is_some() && o.ids.is_some() {
        return Err("give --text or --ids, not both".into());
    }
    Ok(o)
}

/// Runs `model`; returns the exit code (2: bad arguments, 1: the checkpoint or run failed).
pub fn main(args: &[String]) -> i32 {
    if args
        .first()
        .is_some_and(|a| matches!(a.as_str(), "-h" | "--help"))
    {
        println!("{USAGE}");
        return 0;
    }
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("token-dynamics model: {e}\n{USAGE}");
            return 2;
        }
    };
    match run(&opts) {
        Ok(report) => {
            print!("{report}");
            0
        }
        Err(e) => {
            eprintln!("token-dynamics model: {e}");
            1
        }
    }
}

fn run(opts: &Options) -> Result<String, String> {
    let files = read_folder(Path::new(&opts.folder))?;
    let checkpoint = load(&files)?;
    let (ids, pieces) = tokens(&checkpoint, opts)?;
    let family = checkpoint.config.family;
    if ids.len() < 2 || ids.len() > family.context() {
        return Err(format!(
            "{} tokens: the energy needs 2 to {} (the model's context)",
            ids.len(),
            family.context()
        ));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}; {} parameters stored as {}",
        checkpoint.config.architecture,
        family.describe(),
        family.n_params(),
        checkpoint.stored_dtypes.join(", ")
    );
    let twin = checkpoint.model.random_twin(opts.twin_seed)?;
    let (model_stats, model_rows, top) = analyse(&checkpoint.model, &ids, opts.top)?;
    let (twin_stats, _, _) = analyse(&twin, &ids, opts.top)?;
    let (model_stats, model_null) = model_stats;
    let (twin_stats, twin_null) = twin_stats;
    let _ = writeln!(out, "\n{} tokens\n t\ttoken\tK\tU\tE", ids.len());
    for (t, (k, u, e)) in model_rows {
        let _ = writeln!(out, " {t}\t{:?}\t{k:.6}\t{u:.6}\t{e:.6}", pieces[t]);
    }
    let _ = writeln!(
        out,
        "\nstatistic\tmodel\trandom twin (seed {})",
        opts.twin_seed
    );
    for (name, get) in STATISTICS {
        let show = |s: &EnergySummary| get(s).map_or("n/a".to_string(), |v| format!("{v:.6}"));
        let _ = writeln!(out, "{name}\t{}\t{}", show(&model_stats), show(&twin_stats));
    }
    type NullStatistic = (&'static str, fn(&DecoupledNull) -> Option<f64>);
    let nulls: [NullStatistic; 3] = [
        ("null: mean CV(E) of the shuffles", |n| n.cv_e_mean),
        ("null: p-value (shuffles with CV(E) <= observed)", |n| {
            n.p_value
        }),
        ("null: CV(E) if K and U were uncorrelated", |n| {
            n.cv_e_independent
        }),
    ];
    for (name, get) in nulls {
        let show = |n: &DecoupledNull| get(n).map_or("n/a".to_string(), |v| format!("{v:.6}"));
        let _ = writeln!(out, "{name}\t{}\t{}", show(&model_null), show(&twin_null));
    }
    let _ = writeln!(
        out,
        "\nnext token after {:?}",
        pieces.last().cloned().unwrap_or_default()
    );
    for (id, p) in top {
        let piece = piece_of(&checkpoint, id);
        let _ = writeln!(out, " {id}\t{piece:?}\t{p:.6}");
    }
    if opts.layers {
        write_layers(&mut out, &checkpoint, &ids, &pieces)?;
    }
    if let Some(n_new) = opts.generate {
        write_generation(&mut out, &checkpoint, &ids, n_new, opts)?;
    }
    if let Some(target) = &opts.steer {
        write_steering(&mut out, &checkpoint, &ids, target)?;
    }
    Ok(out)
}

/// `--layers`: per layer, the mean speed and the logit lens' top token at the last position.
fn write_layers(
    out: &mut String,
    checkpoint: &Checkpoint,
    ids: &[u32],
    pieces: &[String],
) -> Result<(), String> {
    let _ = writeln!(
        out,
        "\nlayer\tmean speed\tlens at {:?}: top token\tprobability",
        pieces.last().cloned().unwrap_or_default()
    );
    for lens in checkpoint.model.layer_lens(ids, 1)? {
        let speed = lens.mean_speed.map_or("n/a".into(), |s| format!("{s:.6}"));
        let (id, p) = lens.top.first().copied().unwrap_or((0, f64::NAN));
        let _ = writeln!(
            out,
            "{}\t{speed}\t{:?}\t{p:.6}",
            lens.layer,
            piece_of(checkpoint, id)
        );
    }
    Ok(())
}

/// `--generate N`: the continuation, as text when the folder has a tokenizer.
fn write_generation(
    out: &mut String,
    checkpoint: &Checkpoint,
    ids: &[u32],
    n_new: usize,
    opts: &Options,
) -> Result<(), String> {
    let all = checkpoint
        .model
        .generate(ids, n_new, opts.sampling, opts.seed)?;
    let new = &all[ids.len()..];
    let text = match &checkpoint.tokenizer {
        Some(t) => format!("{:?}", t.decode(new)?),
        None => format!("{new:?}"),
    };
    let s = opts.sampling;
    let _ = writeln!(
        out,
        "\ncontinuation ({} tokens; temperature {}, top-k {}, top-p {}, min-p {}, seed {}): {text}",
        new.len(),
        s.temperature,
        s.top_k,
        s.top_p,
        s.min_p,
        opts.seed
    );
    Ok(())
}

/// `--steer TOKEN`: the Δ and margin forms at the last position.
fn write_steering(
    out: &mut String,
    checkpoint: &Checkpoint,
    ids: &[u32],
    target: &str,
) -> Result<(), String> {
    let y = steer_target(checkpoint, target)?;
    let _ = writeln!(
        out,
        "\nsteering the last position toward {:?} (id {y})",
        piece_of(checkpoint, y)
    );
    for (name, s) in steer(&checkpoint.model, ids, y)? {
        let _ = writeln!(
            out,
            " {name}: |delta| {:.6}, p {:.6} -> {:.6}, rank {} -> {}",
            s.norm,
            s.old_log_p.exp(),
            s.new_p,
            s.old_rank,
            s.new_rank
        );
    }
    Ok(())
}

/// The steering target: an id, or text that the tokenizer makes one token.
fn steer_target(checkpoint: &Checkpoint, target: &str) -> Result<u32, String> {
    let vocab = checkpoint.config.family.vocab();
    if let Ok(id) = target.parse::<u32>() {
        return if (id as usize) < vocab {
            Ok(id)
        } else {
            Err(format!("--steer {id} is outside the vocabulary"))
        };
    }
    let tokenizer = checkpoint
        .tokenizer
        .as_ref()
        .ok_or("--steer takes an id: the folder has no tokenizer.json")?;
    match tokenizer.encode(target)?.ids[..] {
        [id] => Ok(id),
        ref ids => Err(format!(
            "--steer {target:?} is {} tokens, not one: give one token (or its id)",
            ids.len()
        )),
    }
}

/// Names of the three steering lines.
const DELTA: &str = "delta form (delta log p = 1)";
const MARGIN: &str = "margin form (margin 1, until it leads)";
const PRE_NORM: &str = "delta form before the final norm (delta log p = 1, first order)";

/// The Δ and margin forms at the last position's post-norm state, and the Δ form before the
/// final norm (through its vector-Jacobian product).
fn steer(model: &Model, ids: &[u32], y: u32) -> Result<[(&'static str, Steer); 3], String> {
    let fwd = model.forward(ids)?;
    let last = (fwd.n - 1) * fwd.d..fwd.n * fwd.d;
    let (h, h_pre) = (&fwd.h_post[last.clone()], &fwd.h_pre[last]);
    let y = y as usize;
    Ok(match model {
        Model::Gpt2(w) => [
            (DELTA, steer_delta(w, h, y, 1.0)?),
            (MARGIN, steer_margin_to_top(w, h, y, 1.0)?),
            (PRE_NORM, steer_delta_pre_norm(w, h_pre, y, 1.0)?),
        ],
        Model::Llama(w) => [
            (DELTA, steer_delta(w, h, y, 1.0)?),
            (MARGIN, steer_margin_to_top(w, h, y, 1.0)?),
            (PRE_NORM, steer_delta_pre_norm(w, h_pre, y, 1.0)?),
        ],
    })
}

type Statistic = (&'static str, fn(&EnergySummary) -> Option<f64>);

const STATISTICS: [Statistic; 6] = [
    ("mean K", |s| s.mean_k),
    ("mean U", |s| s.mean_u),
    ("mean E", |s| s.mean_e),
    ("CV(E)", |s| s.cv_e),
    ("corr(K, U)", |s| s.corr_ku),
    ("Var(E) / (Var(K) + Var(U))", |s| s.var_ratio),
];

/// The ids and their text pieces (the text each covers, or `#id` without a tokenizer).
fn tokens(checkpoint: &Checkpoint, opts: &Options) -> Result<(Vec<u32>, Vec<String>), String> {
    if let Some(ids) = &opts.ids {
        if let Some(&bad) = ids
            .iter()
            .find(|&&id| id as usize >= checkpoint.config.family.vocab())
        {
            return Err(format!("token id {bad} is outside the vocabulary"));
        }
        let pieces = ids.iter().map(|&id| piece_of(checkpoint, id)).collect();
        return Ok((ids.clone(), pieces));
    }
    let tokenizer = checkpoint
        .tokenizer
        .as_ref()
        .ok_or("the folder has no tokenizer.json: give --ids instead of --text")?;
    let text = opts
        .text
        .as_deref()
        .unwrap_or("The quick brown fox jumps over the lazy dog.");
    let encoded = tokenizer.encode(text)?;
    let pieces = encoded
        .offsets
        .iter()
        .map(|&(a, b)| text.get(a..b).unwrap_or("").to_string())
        .collect();
    Ok((encoded.ids, pieces))
}

fn piece_of(checkpoint: &Checkpoint, id: u32) -> String {
    checkpoint
        .tokenizer
        .as_ref()
        .and_then(|t| t.decode(&[id]).ok())
        .unwrap_or_else(|| format!("#{id}"))
}

/// Per position t: (t, (K, U, E)).
type Rows = Vec<(usize, (f64, f64, f64))>;

/// The energy statistics and their null, the per-token rows and the top next tokens (id,
/// probability).
type Analysis = ((EnergySummary, DecoupledNull), Rows, Vec<(u32, f64)>);

/// The energy statistics, the per-token rows and the top next tokens of `weights` on `ids`.
fn analyse(model: &Model, ids: &[u32], top: usize) -> Result<Analysis, String> {
    let fwd = model.forward(ids)?;
    let series = energy_series(&fwd, ids, &LAB_DEFAULTS)?;
    let rows = series
        .t
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, (series.k[i], series.u[i], series.e[i])))
        .collect();
    let v = fwd.vocab;
    let last = &fwd.log_probs[(fwd.n - 1) * v..fwd.n * v];
    let mut order: Vec<u32> = (0..v as u32).collect();
    order.sort_by(|&a, &b| last[b as usize].total_cmp(&last[a as usize]));
    let best = order
        .into_iter()
        .take(top)
        .map(|id| (id, last[id as usize].exp()))
        .collect();
    let null = decoupled_null(&series, LAB_DEFAULTS.form, NULL_DRAWS, NULL_SEED);
    Ok(((summarize(&series), null), rows, best))
}
