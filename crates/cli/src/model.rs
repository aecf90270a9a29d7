//! `token-dynamics model <folder>`: a Hugging Face checkpoint folder (td-checkpoint) run natively:
//! its tokens, the hidden-state energy per token (K, U, E, the energy lab's default switches),
//! the statistics beside those of its random-weight twin (same config, GPT-2's seeded
//! initialisation), and the next-token distribution's top tokens at the last position.

use std::fmt::Write as _;
use std::path::Path;

use td_checkpoint::load;
use td_checkpoint::report::{report, Generate, Report, Request};

pub const USAGE: &str = "\
usage: token-dynamics model <folder> [--text TEXT | --ids 1,2,3] [--twin-seed N] [--top K]
                            [--position T] [--source NAME]
                            [--steer TOKEN [--steer-layer L]] [--layers] [--json]
                            [--figures DIR]
                            [--generate N [--temperature T] [--top-k K] [--top-p P]
                                          [--min-p M] [--seed S]]

  <folder> holds a Hugging Face checkpoint: config.json, model.safetensors (or
  model.safetensors.index.json and its shards), and tokenizer.json for --text.
  Prints the tokens, K, U and E per token (the energy lab's defaults: post-norm state, mass 1/d,
  surprisal, the first position skipped, and our assumed form E = K + U: the paper's definition
  was not available); the statistics of the model and of its random-weight twin (the
  architecture's standard initialisation, seed --twin-seed, default 1), each with the decoupled
  null (200 seeded shuffles of U against K); and the --top (default 5) next tokens after the
  token at --position (0-based; default the last), with the next-token explorer's link of that
  distribution (its 64 most probable tokens by name, the rest lumped into one 'other' token,
  and `from`: the checkpoint's name, --source or else its architecture, the position and text).
  --steer TOKEN (an id, or text that is one token) steers the last position toward it: at the
  final post-norm state, the Δ form (Δ log p = 1, first order) and the margin form (margin 1,
  repeated until the token leads); before the final norm, the Δ form (through the norm's
  vector-Jacobian product); each with ‖δ‖, the new probability and rank. --steer-layer L (either
  family) adds the Δ form at the residual stream entering block L (through the blocks' VJPs,
  realised by a patched pass); with --generate, the continuation is generated again with the
  perturbation (at block L, or else the final post-norm Δ) on every pass.
  --layers adds a line per layer: the mean speed ‖r(t+1) - r(t)‖ of the residual stream entering
  it (over the energy's positions), and its logit lens at the last position (the final norm and
  the unembedding applied to that stream: its most probable next token).
  --generate N continues the text by up to N tokens (the context caps it) with the key/value
  cache: temperature (default 1; 0 = greedy), top-k (0 = off), top-p (1 = off), min-p (0 = off),
  seed (default 1).
  --json prints the same report as one JSON object (what the page's real-model panel shows).
  --figures DIR also writes the energy lab's figures of the report (the model beside its random
  twin) as DIR/series.svg, DIR/phase.svg and DIR/scatter.svg, and with --layers DIR/layers.svg,
  960 px wide: the pictures the page's real-model panel draws.";

struct Options {
    folder: String,
    text: Option<String>,
    ids: Option<Vec<u32>>,
    twin_seed: u64,
    top: usize,
    position: Option<usize>,
    steer: Option<String>,
    steer_layer: Option<usize>,
    source: Option<String>,
    layers: bool,
    json: bool,
    figures: Option<String>,
    generate: Option<usize>,
    sampling: td_transformer::Sampling,
    seed: u64,
}

impl Options {
    /// The options when only the folder is given.
    fn defaults(folder: String) -> Options {
        Options {
            folder,
            text: None,
            ids: None,
            twin_seed: 1,
            top: 5,
            position: None,
            steer: None,
            steer_layer: None,
            source: None,
            layers: false,
            json: false,
            figures: None,
            generate: None,
            sampling: td_transformer::Sampling::default(),
            seed: 1,
        }
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut iter = args.iter();
    let folder = iter.next().ok_or("missing the checkpoint folder")?.clone();
    let mut o = Options::defaults(folder);
    while let Some(flag) = iter.next() {
        if flag == "--layers" || flag == "--json" {
            if flag == "--layers" {
                o.layers = true;
            } else {
                o.json = true;
            }
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
            "--position" => {
                o.position = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--position {value}: a token index (0, 1, ...)"))?,
                );
            }
            "--steer" => o.steer = Some(value.clone()),
            "--source" => o.source = Some(value.clone()),
            "--figures" => o.figures = Some(value.clone()),
            "--steer-layer" => {
                o.steer_layer =
                    Some(value.parse().map_err(|_| {
                        format!("--steer-layer {value}: a block index (0, 1, ...)")
                    })?);
            }
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
    let files = td_checkpoint::read_folder(Path::new(&opts.folder))?;
    let checkpoint = load(&files)?;
    let request = Request {
        text: opts.text.clone(),
        ids: opts.ids.clone(),
        twin_seed: opts.twin_seed,
        top: opts.top,
        position: opts.position,
        layers: opts.layers,
        steer: opts.steer.clone(),
        steer_layer: opts.steer_layer,
        source: opts.source.clone(),
        vocabulary: false,
        generate: opts.generate.map(|n| Generate {
            n,
            temperature: opts.sampling.temperature,
            top_k: opts.sampling.top_k,
            top_p: opts.sampling.top_p,
            min_p: opts.sampling.min_p,
            seed: opts.seed,
        }),
    };
    let twin = checkpoint.model.random_twin(opts.twin_seed)?;
    let report = report(&checkpoint, &twin, &request)?;
    if let Some(dir) = &opts.figures {
        write_figures(&report, opts, Path::new(dir))?;
    }
    if opts.json {
        return Ok(format!("{}\n", report.to_json()));
    }
    Ok(as_text(&report))
}

/// The report's figures as SVG files in `dir` (made if missing), titled with --source or else the
/// folder's name.
fn write_figures(report: &Report, opts: &Options, dir: &Path) -> Result<(), String> {
    use td_checkpoint::figures::{figures_of, names, render_svg};
    std::fs::create_dir_all(dir).map_err(|e| format!("--figures {}: {e}", dir.display()))?;
    let folder = Path::new(&opts.folder)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned());
    let names = names(report, opts.source.as_deref().or(folder.as_deref()));
    for figure in figures_of(report) {
        let path = dir.join(format!("{}.svg", figure.name()));
        let svg = render_svg(report, &names, figure, figure.size_for_width(960));
        std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// A size as the page writes it: kB under a megabyte, MB from there.
fn byte_size(bytes: f64) -> String {
    if bytes < 1e6 {
        format!("{:.1} kB", bytes / 1e3)
    } else {
        format!("{:.1} MB", bytes / 1e6)
    }
}

/// The report as the command's plain text.
fn as_text(r: &Report) -> String {
    let mut out = String::new();
    let m = &r.model;
    let _ = writeln!(
        out,
        "{}: {}; {} parameters stored as {}, kept as {} ({})",
        m.architecture,
        m.description,
        m.n_params,
        m.stored_dtypes.join(", "),
        m.weights_dtype,
        byte_size(m.weight_bytes as f64)
    );
    let _ = writeln!(out, "\n{} tokens\n t\ttoken\tK\tU\tE", r.tokens.len());
    for row in &r.rows {
        let piece = r.tokens.get(row.t).map_or("", |t| t.piece.as_str());
        let _ = writeln!(
            out,
            " {}\t{piece:?}\t{:.6}\t{:.6}\t{:.6}",
            row.t, row.k, row.u, row.e
        );
    }
    let _ = writeln!(
        out,
        "\nstatistic\tmodel\trandom twin (seed {}, kept as {}{})",
        r.twin_seed,
        r.twin_dtype,
        if r.twin_dtype == m.weights_dtype {
            " like the model"
        } else {
            ""
        }
    );
    let show = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.6}"));
    for s in &r.statistics {
        let _ = writeln!(out, "{}\t{}\t{}", s.name, show(s.model), show(s.twin));
    }
    let last = r.tokens.last().map_or("", |t| t.piece.as_str());
    let at = r.tokens.get(r.position).map_or("", |t| t.piece.as_str());
    let _ = writeln!(out, "\nnext token after {at:?}");
    for t in &r.next {
        let _ = writeln!(out, " {}\t{:?}\t{:.6}", t.id, t.piece, t.p);
    }
    let _ = writeln!(out, "in the next-token explorer: {}", r.next_token_link);
    if let Some(layers) = &r.layers {
        let _ = writeln!(
            out,
            "\nlayer\tmean speed\tlens at {last:?}: top token\tprobability"
        );
        for l in layers {
            let (piece, p) = l
                .top
                .first()
                .map_or(("", f64::NAN), |t| (t.piece.as_str(), t.p));
            let _ = writeln!(
                out,
                "{}\t{}\t{piece:?}\t{p:.6}",
                l.layer,
                show(l.mean_speed)
            );
        }
    }
    if let Some(g) = &r.generation {
        let _ = writeln!(
            out,
            "\ncontinuation ({} tokens; temperature {}, top-k {}, top-p {}, min-p {}, seed {}): {:?}",
            g.ids.len(),
            g.temperature,
            g.top_k,
            g.top_p,
            g.min_p,
            g.seed,
            g.text
        );
    }
    if let Some(s) = &r.steering {
        let _ = writeln!(
            out,
            "\nsteering the last position toward {:?} (id {})",
            s.target.piece, s.target.id
        );
        for f in &s.forms {
            let _ = writeln!(
                out,
                " {}: |delta| {:.6}, p {:.6} -> {:.6}, rank {} -> {}",
                f.name, f.norm, f.old_p, f.new_p, f.old_rank, f.new_rank
            );
        }
        if let Some(c) = &s.steered {
            let _ = writeln!(out, " steered continuation (at {}): {:?}", c.site, c.text);
        }
    }
    for note in &r.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::byte_size;

    /// A small fixture's weights read in kB, not "0.0 MB" (the page's `size` rule).
    #[test]
    fn sizes_read_in_a_unit_that_shows_them() {
        assert_eq!(byte_size(26_496.0), "26.5 kB");
        assert_eq!(byte_size(999_000.0), "999.0 kB");
        assert_eq!(byte_size(269_060_544.0), "269.1 MB");
    }
}
