//! The native command renders attention links exactly as the attention crate's own code does.

use td_attention::explorer::Attention;
use td_attention::export;
use td_attention::params::State;
use td_attention::scene::Scene;
use td_attention::svg::Figure;
use td_core::explorer::Explorer;

fn computed(state: State) -> Scene {
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "token-dynamics-attention-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn command_line_renders_attention_links() {
    let dir = temp_dir("cli");
    let link = "#attention?v=1&rule=compare&n=20&steps=12&focus=1&at=0.5&embed=1";
    let file = |ext: &str| {
        dir.join(format!("out.{ext}"))
            .to_string_lossy()
            .into_owned()
    };
    let code = token_dynamics::cli::main(args(&[
        "render",
        link,
        "--svg",
        &file("svg"),
        "--csv",
        &file("csv"),
        "--json",
        &file("json"),
    ]));
    assert_eq!(code, 0);
    let (state, _) = Attention::from_hash(link);
    let at = state.at;
    let scene = computed(state);
    let size = Figure::Particles.default_size(scene.panels.len());
    let svg = std::fs::read_to_string(file("svg")).unwrap();
    // The interface's SVG: the explorer's drawing with its caption (crates/attention/tests/explorer.rs).
    assert!(svg == Attention::render_svg(&scene, "particles", size, at));
    assert_eq!(
        std::fs::read_to_string(file("csv")).unwrap(),
        export::csv(&scene, link)
    );
    let (page, _) = Attention::page_from_hash(link);
    assert_eq!(
        std::fs::read_to_string(file("json")).unwrap(),
        Attention::json(&scene, &page, link)
    );
    // --figure plots with a size.
    let code = token_dynamics::cli::main(args(&[
        "render",
        link,
        "--figure",
        "plots",
        "--size",
        "500x600",
        "--svg",
        &file("plots.svg"),
    ]));
    assert_eq!(code, 0);
    assert!(
        std::fs::read_to_string(file("plots.svg")).unwrap()
            == Attention::render_svg(&scene, "plots", (500, 600), at)
    );
    // A next-token figure name is a usage error for an attention link, and vice versa.
    let code = token_dynamics::cli::main(args(&[
        "render",
        link,
        "--figure",
        "simplex",
        "--svg",
        &file("x.svg"),
    ]));
    assert_eq!(code, 2);
    let code = token_dynamics::cli::main(args(&[
        "render",
        "#next-token?v=1",
        "--figure",
        "plots",
        "--svg",
        &file("y.svg"),
    ]));
    assert_eq!(code, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
