//! The native `token-dynamics` command: renders any shared link without a browser.
//!
//! The SVG is exactly what the page exports (the explorer's `render_svg` on the scene of the
//! parsed link); the PNG is that same SVG rasterised by resvg with the system fonts; the CSV and
//! JSON are the explorer's own, as on the page. The explorer is the link's (`#next-token?…`,
//! `#attention?…`, `#energy?…`), found through [`crate::explorers::dispatch`].

use std::io::Write;

use crate::explorers::{self, Native, Visit};

pub const USAGE: &str = "\
usage: token-dynamics render '<link or #hash>' [--svg out.svg] [--png out.png] [--csv out.csv]
                             [--json out.json] [--figure NAME] [--size WxH] [--scale N]

  The link's explorer decides what is drawn: #next-token?…, #attention?… or #energy?….
  At least one of --svg, --png, --csv, --json; '-' writes that output to standard output.
  --figure   which figure the SVG/PNG shows: simplex (default), series or logits for next-token;
             particles (default) or plots for attention; series (default), phase, scatter
             or dist for energy (trained weights: $TOKEN_DYNAMICS_WEIGHTS or www/models/trained.tdgpt)
  --size     figure size in CSS pixels, 64..8192 each (default: the page's export size); the
             caption strip (what the figure shows, the link that reproduces it) goes under it
  --scale    PNG pixels per CSS pixel, 0.1..16 (default 1; 2 for print)
  Messages about the link (what was ignored or clamped) go to standard error.

       token-dynamics model <folder> [--text TEXT | --ids 1,2,3] [--twin-seed N] [--top K]
  runs a Hugging Face checkpoint folder (see `token-dynamics model --help`).";

/// Most pixels of one PNG (side and area), whatever `--size` and `--scale` ask for.
const MAX_PNG_SIDE: u32 = 16_384;
const MAX_PNG_PIXELS: u64 = 100_000_000;

/// What went wrong: bad arguments (exit 2, with usage) or a failure while writing (exit 1).
#[derive(Debug)]
enum Failure {
    Usage(String),
    Io(String),
}

/// Runs the command line; returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    if args
        .first()
        .is_some_and(|a| matches!(a.as_str(), "-h" | "--help" | "help"))
    {
        println!("{USAGE}");
        return 0;
    }
    if args.first().is_some_and(|a| a == "model") {
        return crate::model::main(&args[1..]);
    }
    match parse_args(&args)
        .map_err(Failure::Usage)
        .and_then(|o| run(&o))
    {
        Ok(()) => 0,
        Err(Failure::Usage(message)) => {
            eprintln!("token-dynamics: {message}\n{USAGE}");
            2
        }
        Err(Failure::Io(message)) => {
            eprintln!("token-dynamics: {message}");
            1
        }
    }
}

/// Parsed command line of `render`.
#[derive(Debug, Default)]
struct Options {
    link: String,
    svg: Option<String>,
    png: Option<String>,
    csv: Option<String>,
    json: Option<String>,
    /// Figure name, checked against the link's explorer when rendering.
    figure: Option<String>,
    size: Option<(u32, u32)>,
    scale: f64,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut iter = args.iter();
    match iter.next().map(String::as_str) {
        Some("render") => {}
        Some(other) => return Err(format!("unknown subcommand '{other}' (expected render)")),
        None => return Err("expected a subcommand".into()),
    }
    let link = iter.next().ok_or("missing the link")?;
    if link.starts_with("--") {
        return Err(format!("expected the link before {link}"));
    }
    let mut opts = Options {
        link: link.clone(),
        scale: 1.0,
        ..Options::default()
    };
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or(format!("{flag} needs a value"))?;
        let slot = match flag.as_str() {
            "--svg" => &mut opts.svg,
            "--png" => &mut opts.png,
            "--csv" => &mut opts.csv,
            "--json" => &mut opts.json,
            "--figure" => {
                if !explorers::NAMES
                    .iter()
                    .any(|name| explorers::figure_names(name).contains(&value.as_str()))
                {
                    return Err(format!(
                        "unknown figure '{value}' (simplex, series or logits; particles or plots for attention; series, phase, scatter or dist for energy)"
                    ));
                }
                opts.figure = Some(value.clone());
                continue;
            }
            "--size" => {
                let (w, h) = value
                    .split_once(['x', 'X'])
                    .ok_or(format!("--size is WxH, not '{value}'"))?;
                let side = |text: &str| -> Result<u32, String> {
                    match text.trim().parse::<u32>() {
                        Ok(n) if (64..=8192).contains(&n) => Ok(n),
                        _ => Err(format!(
                            "--size {value}: each side is a whole number 64..8192"
                        )),
                    }
                };
                opts.size = Some((side(w)?, side(h)?));
                continue;
            }
            "--scale" => {
                opts.scale = td_core::url::parse_number(value)
                    .filter(|s| (0.1..=16.0).contains(s))
                    .ok_or(format!("--scale {value}: a number from 0.1 to 16"))?;
                continue;
            }
            other => return Err(format!("unknown option {other}")),
        };
        if slot.is_some() {
            return Err(format!("{flag} given twice"));
        }
        if value.is_empty() {
            return Err(format!("{flag} needs a file name"));
        }
        *slot = Some(value.clone());
    }
    if opts.svg.is_none() && opts.png.is_none() && opts.csv.is_none() && opts.json.is_none() {
        return Err("nothing to write: give at least one of --svg, --png, --csv, --json".into());
    }
    let to_stdout = [&opts.svg, &opts.png, &opts.csv, &opts.json]
        .iter()
        .filter(|o| o.as_deref() == Some("-"))
        .count();
    if to_stdout > 1 {
        return Err("only one output can go to standard output ('-')".into());
    }
    Ok(opts)
}

fn write_output(path: &str, bytes: &[u8]) -> Result<(), Failure> {
    if path == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)
            .and_then(|_| out.flush())
            .map_err(|e| Failure::Io(format!("cannot write to standard output: {e}")))
    } else {
        std::fs::write(path, bytes).map_err(|e| Failure::Io(format!("cannot write {path}: {e}")))
    }
}

fn run(opts: &Options) -> Result<(), Failure> {
    let named = td_core::url::split_hash(&opts.link).explorer;
    // An unknown explorer name falls back to the first explorer, which reports it (as the page does).
    explorers::dispatch(&named, Render(opts))
        .or_else(|| explorers::dispatch(explorers::NAMES[0], Render(opts)))
        .unwrap_or_else(|| Err(Failure::Usage("no explorer".into())))
}

/// `render` with the link's explorer.
struct Render<'a>(&'a Options);

impl Visit for Render<'_> {
    type Output = Result<(), Failure>;

    fn visit<E: Native>(self) -> Result<(), Failure> {
        let opts = self.0;
        let (state, messages) = E::from_hash(&opts.link);
        let (page_options, page_messages) = E::page_from_hash(&opts.link);
        for message in messages.iter().chain(&page_messages) {
            eprintln!("note: {}", message.text);
        }
        let names: Vec<&str> = E::figures().iter().map(|f| f.name).collect();
        let figure = match opts.figure.as_deref() {
            None => names[0],
            Some(name) if names.contains(&name) => name,
            Some(name) => {
                return Err(Failure::Usage(format!(
                    "figure '{name}' is not a{} {} figure ({})",
                    if E::NAME.starts_with(['a', 'e', 'i', 'o', 'u']) {
                        "n"
                    } else {
                        ""
                    },
                    E::NAME,
                    names.join(", ")
                )))
            }
        };
        let (models, note) = E::native_models(&state);
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
        let at = E::at(&state);
        let mut scene = E::new_scene(&state, &models);
        E::run_to_end(&mut scene);
        let size = opts.size.unwrap_or_else(|| E::default_size(&scene, figure));
        write_requested(
            opts,
            || E::render_svg(&scene, figure, size, at),
            || E::csv(&scene, &opts.link),
            || E::json(&scene, &page_options, &opts.link),
        )
    }
}

/// Writes the outputs asked for (SVG, the PNG rasterised from that SVG, CSV, JSON); each is
/// produced only when wanted.
fn write_requested(
    opts: &Options,
    svg: impl FnOnce() -> String,
    csv: impl FnOnce() -> String,
    json: impl FnOnce() -> String,
) -> Result<(), Failure> {
    if opts.svg.is_some() || opts.png.is_some() {
        let svg = svg();
        if let Some(path) = &opts.svg {
            write_output(path, svg.as_bytes())?;
        }
        if let Some(path) = &opts.png {
            let png = svg_to_png(&svg, opts.scale).map_err(Failure::Io)?;
            write_output(path, &png)?;
        }
    }
    if let Some(path) = &opts.csv {
        write_output(path, csv().as_bytes())?;
    }
    if let Some(path) = &opts.json {
        write_output(path, json().as_bytes())?;
    }
    Ok(())
}

/// Sans-serif families tried, in order, for the SVG's generic `sans-serif` (DejaVu Sans first: it
/// is what `scripts/setup.sh` installs and what headless Chromium on Debian falls back to).
const SANS_FAMILIES: &[&str] = &[
    "DejaVu Sans",
    "Liberation Sans",
    "Noto Sans",
    "Arial",
    "Helvetica",
];

/// The font database: system fonts, with `sans-serif` mapped to the first installed family above.
fn font_options() -> resvg::usvg::Options<'static> {
    let mut options = resvg::usvg::Options::default();
    let db = options.fontdb_mut();
    db.load_system_fonts();
    let installed = |name: &str| {
        db.faces()
            .any(|face| face.families.iter().any(|(family, _)| family == name))
    };
    let family = SANS_FAMILIES
        .iter()
        .find(|name| installed(name))
        .map(|name| name.to_string())
        .or_else(|| {
            db.faces()
                .next()
                .and_then(|face| face.families.first().map(|(family, _)| family.clone()))
        });
    match family {
        Some(family) => {
            db.set_sans_serif_family(family.clone());
            options.font_family = family;
        }
        None => eprintln!(
            "note: no system fonts found; the PNG will have no text (install fonts-dejavu-core)"
        ),
    }
    options
}

/// Rasterises an SVG document to PNG bytes at `scale` pixels per CSS pixel.
pub fn svg_to_png(svg: &str, scale: f64) -> Result<Vec<u8>, String> {
    use resvg::tiny_skia::{Pixmap, Transform};
    let options = font_options();
    let tree = resvg::usvg::Tree::from_str(svg, &options)
        .map_err(|e| format!("cannot read the SVG: {e}"))?;
    let size = tree.size();
    let width = (f64::from(size.width()) * scale).round();
    let height = (f64::from(size.height()) * scale).round();
    if width < 1.0
        || height < 1.0
        || width > f64::from(MAX_PNG_SIDE)
        || height > f64::from(MAX_PNG_SIDE)
        || width * height > MAX_PNG_PIXELS as f64
    {
        return Err(format!(
            "a {width}×{height} PNG is too large (at most {MAX_PNG_SIDE} pixels a side, {MAX_PNG_PIXELS} in all)"
        ));
    }
    let mut pixmap = Pixmap::new(width as u32, height as u32)
        .ok_or_else(|| format!("cannot allocate a {width}×{height} image"))?;
    let transform = Transform::from_scale(
        (width / f64::from(size.width())) as f32,
        (height / f64::from(size.height())) as f32,
    );
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|e| format!("cannot encode the PNG: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &[][..],
            &["draw", "#next-token"],
            &["render"],
            &["render", "#next-token?v=1"],
            &["render", "#next-token?v=1", "--svg"],
            &[
                "render",
                "#next-token?v=1",
                "--svg",
                "a.svg",
                "--figure",
                "pie",
            ],
            &[
                "render",
                "#next-token?v=1",
                "--png",
                "a.png",
                "--scale",
                "0",
            ],
            &[
                "render",
                "#next-token?v=1",
                "--png",
                "a.png",
                "--size",
                "10x10",
            ],
            &[
                "render",
                "#next-token?v=1",
                "--png",
                "a.png",
                "--bogus",
                "1",
            ],
            &["render", "#next-token?v=1", "--svg", "-", "--csv", "-"],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
        let ok = parse_args(&args(&[
            "render", "#x", "--png", "a.png", "--scale", "2", "--size", "300x200",
        ]))
        .unwrap();
        assert_eq!(ok.scale, 2.0);
        assert_eq!(ok.size, Some((300, 200)));
    }
}
