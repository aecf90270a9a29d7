//! The next-token explorer through the one Explorer interface: the same links, states, figures and
//! text panels the page runner, the CLI and the bench use.

use td_core::explorer::{export_svg_problem, Block, Explorer};
use td_next_token::explorer::NextToken;
use td_next_token::params;
use td_next_token::svg::{render_svg, Figure};
use td_next_token::whole::Whole;

fn computed(link: &str) -> td_next_token::scene::Scene {
    let (state, msgs) = NextToken::from_hash(link);
    assert!(msgs.is_empty(), "{link}: {msgs:?}");
    let mut scene = NextToken::new_scene(&state, &Whole::None);
    NextToken::run_to_end(&mut scene);
    assert!(NextToken::is_done(&scene));
    scene
}

#[test]
fn links_read_and_print_as_the_parameter_table_says() {
    for link in [
        "#next-token?v=1",
        "#next-token?v=1&flow=entropic&T=0.5",
        "#next-token?v=1&gen=zipf&V=1e3&seed=3",
    ] {
        let (state, msgs) = NextToken::from_hash(link);
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(NextToken::to_hash(&state), link);
        assert_eq!(NextToken::from_hash(link).0, state);
    }
    assert!(NextToken::panels().contains(&"readout"));
    assert_eq!(NextToken::control_keys().len(), params::PARAMS.len());
}

#[test]
fn figures_through_the_interface_are_the_explorer_s_own_svg() {
    for link in ["#next-token?v=1", "#next-token?v=1&flow=compare&V=2"] {
        let scene = computed(link);
        for figure in ["simplex", "series", "logits"] {
            let size = NextToken::default_size(&scene, figure);
            let drawn = render_svg(&scene, Figure::parse(figure).unwrap(), size, 0.4);
            let problem = export_svg_problem::<NextToken>(&scene, figure, size, 0.4, &drawn);
            assert_eq!(problem, None, "{link}");
        }
    }
}

#[test]
fn compare_mode_has_two_simplex_panels_and_a_readout_per_flow() {
    let scene = computed("#next-token?v=1&flow=compare");
    assert_eq!(NextToken::figure_panels(&scene, "simplex"), 2);
    assert_eq!(NextToken::figure_panels(&scene, "series"), 1);
    let blocks = NextToken::text_panel(&scene, "readout");
    let headings: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading(h) => Some(h.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(headings.len(), 2, "{headings:?}");
    let Some(Block::Table { rows, .. }) = blocks.iter().find(|b| matches!(b, Block::Table { .. }))
    else {
        panic!("no table of the most likely tokens");
    };
    assert_eq!(rows.len(), 3, "V = 3: every token is listed");
    // The most likely token comes first.
    let p: Vec<f64> = rows.iter().map(|r| r[1].1.parse().unwrap()).collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]), "{p:?}");
    assert!(NextToken::canvas_label(&scene, "simplex", 1).contains("trajectories"));
}

#[test]
fn readout_json_is_the_script_interface_s_object() {
    let scene = computed("#next-token?v=1&flow=compare");
    let text = NextToken::readout_json(&scene);
    for key in ["\"flow\"", "\"compare\"", "\"done\":true", "\"notes\""] {
        assert!(text.contains(key), "{key} missing in {text}");
    }
}

/// What the page shows after taking over a worker's progress, with the scene computed by
/// `workers` workers (each its part, shipped after every slice of `slice` samples, the parts'
/// messages interleaved as they would arrive).
fn through_workers(link: &str, workers: usize, slice: usize) -> td_next_token::scene::Scene {
    let (state, _) = NextToken::from_hash(link);
    let mut page = NextToken::new_scene(&state, &Whole::None);
    let mut parts: Vec<_> = (0..workers)
        .map(|w| {
            let mut scene = NextToken::new_scene(&state, &Whole::None);
            if workers > 1 {
                NextToken::restrict_to_shard(&mut scene, w, workers);
            }
            (scene, Vec::new(), false)
        })
        .collect();
    while parts.iter().any(|p| !p.2) {
        // Parts at different speeds (the first fastest): later parts' messages arrive before
        // earlier ones finish, and after.
        for (w, (scene, shipped, done)) in parts.iter_mut().enumerate().filter(|p| !p.1 .2) {
            *done = NextToken::advance(scene, slice * if w == 0 { 4 } else { 1 + w % 2 });
            let bytes = NextToken::progress_since(scene, shipped);
            NextToken::apply_progress(&mut page, &bytes)
                .expect("the page reads the worker's bytes");
        }
        // Never done (nor a trajectory finished) before every part is.
        if parts.iter().any(|p| !p.2) {
            assert!(!NextToken::is_done(&page), "{link}: done before every part");
        }
    }
    if workers > 1 {
        NextToken::finish_shards(&mut page);
    }
    page
}

#[test]
fn several_workers_give_the_page_the_scene_one_computes() {
    for link in [
        "#next-token?v=1",
        "#next-token?v=1&flow=compare&T=0.5&trunc=top-p&top_p=0.8",
        "#next-token?v=1&gen=zipf&V=2000&seed=7&flow=compare&p0=uniform",
        "#next-token?v=1&gen=gauss&V=300&seed=2&flow=entropic&overlay=T:0.5,1,2",
        // Flow D diverging on some starts: the notes say where, from every part's trajectories.
        "#next-token?v=1&flow=entropic-mw&eta=2.5",
        "#next-token?v=1&flow=mw",
        // One closed-form trajectory: shared in ranges of samples.
        "#next-token?v=1&gen=zipf&V=2000&seed=7&flow=entropic&p0=uniform",
        "#next-token?v=1&gen=zipf&V=500&seed=1&flow=replicator&p0=uniform&T=0.3",
    ] {
        let whole = computed(link);
        let runs = whole.run_count();
        let fresh = NextToken::new_scene(&NextToken::from_hash(link).0, &Whole::None);
        let parts = NextToken::shards(&fresh);
        if runs > 1 {
            assert_eq!(parts, runs, "{link}: one part per trajectory");
        } else {
            assert_eq!(
                parts, 4,
                "{link}: one closed-form trajectory in four ranges"
            );
        }
        let expected = (NextToken::readout_json(&whole), NextToken::notes(&whole));
        for (workers, slice) in [(1, 37), (2, 50), (3, 1), (parts.min(4), 500), (parts, 7)] {
            let page = through_workers(link, workers, slice);
            assert!(
                NextToken::is_done(&page),
                "{link}, {workers} workers: not done"
            );
            let got = (NextToken::readout_json(&page), NextToken::notes(&page));
            assert_eq!(got, expected, "{link}, {workers} workers");
        }
    }
}
