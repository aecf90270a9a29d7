//! The native `token-dynamics` command: renders any shared link without a browser.

use crate::next_token::params;
use crate::next_token::scene::Scene;
use crate::next_token::svg::{render_svg, Figure};

const USAGE: &str = "usage: token-dynamics render '<link or #hash>' --svg out.svg [--figure simplex|series|logits] [--size WxH]";

/// Runs the command line; returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    match run(&args) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            2
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut iter = args.iter();
    match iter.next().map(String::as_str) {
        Some("render") => {}
        _ => return Err("expected a subcommand".into()),
    }
    let link = iter.next().ok_or("missing the link")?;
    let mut svg_path = None;
    let mut figure = Figure::Simplex;
    let mut size = None;
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--svg" => svg_path = Some(value.clone()),
            "--figure" => figure = Figure::parse(value).ok_or(format!("unknown figure {value}"))?,
            "--size" => {
                let (w, h) = value.split_once('x').ok_or("size is WxH")?;
                let w: u32 = w.parse().map_err(|_| "bad width")?;
                let h: u32 = h.parse().map_err(|_| "bad height")?;
                size = Some((w.clamp(64, 8192), h.clamp(64, 8192)));
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let (state, messages) = params::from_hash(link);
    for message in &messages {
        eprintln!("note: {}", message.text);
    }
    let at = state.at;
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    let size = size.unwrap_or_else(|| figure.default_size(scene.panels.len()));
    let svg = render_svg(&scene, figure, size, at);
    match svg_path {
        Some(path) => {
            std::fs::write(&path, svg).map_err(|e| format!("cannot write {path}: {e}"))?
        }
        None => print!("{svg}"),
    }
    Ok(())
}
