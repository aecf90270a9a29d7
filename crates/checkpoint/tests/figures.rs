//! The energy lab's figures of a report (`td_checkpoint::figures`): each SVG document draws the
//! report's own points, for the model and its twin, under their names; a name cannot add markup.

use std::path::Path;

use td_checkpoint::figures::{figures_of, names, render_svg, Figure};
use td_checkpoint::load;
use td_checkpoint::report::{report, Report, Request};

fn fixture_report(variant: &str, twin_seed: u64) -> Report {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(variant);
    let c = load(&td_checkpoint::read_folder(&dir).unwrap()).unwrap();
    let twin = c.model.random_twin(twin_seed).unwrap();
    let request = Request::from_json(&format!(
        r#"{{"text":"The cat sat on the mat.","twin_seed":{twin_seed}}}"#
    ))
    .unwrap();
    report(&c, &twin, &request).unwrap()
}

/// The elements `<tag …>` of a document whose attribute `attr` is `value`.
fn elements<'a>(svg: &'a str, tag: &str, attr: &str, value: &str) -> Vec<&'a str> {
    svg.split('<')
        .filter(|e| {
            e.starts_with(&format!("{tag} ")) && e.contains(&format!(" {attr}=\"{value}\""))
        })
        .collect()
}

fn points_in(polyline: &str) -> usize {
    let start = polyline.find("points=\"").unwrap() + 8;
    let end = start + polyline[start..].find('"').unwrap();
    polyline[start..end].split_whitespace().count()
}

#[test]
fn each_figure_draws_the_reports_points_for_both_sides() {
    for variant in ["gpt2-hub-f32", "llama-tied-f32"] {
        let r = fixture_report(variant, 4);
        let n = r.rows.len();
        assert!(n >= 4, "{variant}: {n} positions");
        assert_eq!(r.twin_rows.len(), n);
        let names = names(&r, Some("HuggingFaceTB/SmolLM2-135M"));
        let svg = |f: Figure| render_svg(&r, &names, f, f.size_for_width(960));
        // series: K (blue) of each side is one line through its n positions.
        let series = svg(Figure::Series);
        let k_lines = elements(&series, "polyline", "stroke", "#1F77B4");
        assert_eq!(k_lines.len(), 2, "{variant}: a K line per side");
        assert!(
            k_lines.iter().all(|l| points_in(l) == n),
            "{variant}: n points each"
        );
        assert!(series.contains("HuggingFaceTB/SmolLM2-135M: K, U and E per position"));
        assert!(series.contains("Random twin (seed 4): K, U and E per position"));
        // phase: a dot per position on each side (model blue, twin grey, the last one marked).
        let phase = svg(Figure::Phase);
        let dots: usize = ["#1F77B4", "#969696", "#FFAA00"]
            .iter()
            .map(|c| elements(&phase, "circle", "fill", c).len())
            .sum();
        assert_eq!(dots, 2 * n, "{variant}: phase dots");
        // scatter: a dot per consecutive pair of each side.
        let scatter = svg(Figure::Scatter);
        let consecutive = r.rows.windows(2).filter(|w| w[1].t == w[0].t + 1).count();
        assert_eq!(
            elements(&scatter, "circle", "fill", "#1F77B4").len(),
            consecutive
        );
        assert_eq!(
            elements(&scatter, "circle", "fill", "#969696").len(),
            consecutive
        );
        // Another twin is another picture.
        let other = fixture_report(variant, 5);
        assert_ne!(
            render_svg(&other, &names, Figure::Series, (960, 360)),
            series
        );
    }
}

#[test]
fn the_per_layer_figure_draws_each_layers_speed_and_lens_when_the_report_has_them() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpt2-hub-f32");
    let c = load(&td_checkpoint::read_folder(&dir).unwrap()).unwrap();
    let twin = c.model.random_twin(1).unwrap();
    let plain = fixture_report("gpt2-hub-f32", 1);
    assert!(!figures_of(&plain).contains(&Figure::Layers));
    let request =
        Request::from_json(r#"{"text":"The cat sat on the mat.","layers":true}"#).unwrap();
    let r = report(&c, &twin, &request).unwrap();
    assert_eq!(figures_of(&r), Figure::ALL.to_vec());
    let layers = r.layers.as_ref().unwrap();
    let names = names(&r, None);
    let svg = render_svg(&r, &names, Figure::Layers, (960, 360));
    // A dot per layer on each panel: speed (blue), lens (orange), each lens dot with its token.
    let speeds = layers.iter().filter(|l| l.mean_speed.is_some()).count();
    assert_eq!(elements(&svg, "circle", "fill", "#1F77B4").len(), speeds);
    assert_eq!(
        elements(&svg, "circle", "fill", "#E67814").len(),
        layers.len()
    );
    let last = layers.last().unwrap();
    assert_eq!(
        last.top[0].id, r.next[0].id,
        "the last layer's lens is the model's prediction"
    );
    assert!(svg.contains(&format!(
        "GPT2LMHeadModel: logit lens after position {}",
        r.tokens.len() - 1
    )));
    // Without the per-layer view, the figure says how to get it.
    let empty = render_svg(&plain, &names, Figure::Layers, (960, 360));
    assert!(empty.contains("no per-layer view"));
}

#[test]
fn the_sides_are_named_by_the_source_and_a_name_adds_no_markup() {
    let r = fixture_report("gpt2-hub-f32", 1);
    let name = |source: Option<&str>| names(&r, source)[0].clone();
    assert_eq!(name(None), "GPT2LMHeadModel");
    assert_eq!(name(Some("openai-community/gpt2")), "openai-community/gpt2");
    assert_eq!(
        name(Some(&format!("file:my-gpt2@{}", "ab".repeat(32)))),
        "my-gpt2"
    );
    assert_eq!(name(Some("http://127.0.0.1:8000/models/tiny/")), "tiny");
    assert_eq!(name(Some("bad\u{7}name")), "GPT2LMHeadModel");
    assert_eq!(name(Some(&"x".repeat(80))).chars().count(), 48);
    assert_eq!(names(&r, None)[1], "random twin (seed 1)");
    let hostile = names(&r, Some("<script>alert(1)</script>"));
    let svg = render_svg(&r, &hostile, Figure::Series, (960, 360));
    assert!(!svg.contains("<script"), "the name is text, not markup");
    assert!(svg.contains("&lt;script&gt;"));
}

#[test]
fn sizes_follow_the_width_and_stack_on_a_phone() {
    assert_eq!(Figure::Series.size_for_width(960), (960, 360));
    assert_eq!(Figure::Series.size_for_width(360), (360, 560));
    assert_eq!(Figure::Phase.size_for_width(0).0, 280);
    assert_eq!(Figure::Scatter.size_for_width(u32::MAX).0, 720);
    assert_eq!(Figure::Series.size_for_width(u32::MAX).0, 1600);
    assert_eq!(Figure::Layers.size_for_width(360), (360, 560));
    for f in Figure::ALL {
        assert_eq!(Figure::parse(f.name()), Some(f));
        assert!(!f.caption().is_empty());
    }
    assert_eq!(Figure::parse("dist"), None);
}
