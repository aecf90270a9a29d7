//! The attention explorer through the one Explorer interface.

use td_attention::explorer::{list_tokens, readout_blocks, step_text, Attention};
use td_attention::svg::{render_svg, Figure};
use td_core::explorer::{export_svg_problem, Block, Explorer};

fn computed(link: &str) -> td_attention::scene::Scene {
    let (state, msgs) = Attention::from_hash(link);
    assert!(msgs.is_empty(), "{link}: {msgs:?}");
    let mut scene = Attention::new_scene(&state, &());
    Attention::run_to_end(&mut scene);
    scene
}

#[test]
fn view_settings_share_the_computation() {
    let (a, _) = Attention::from_hash("#attention?v=1&n=20");
    let (b, _) = Attention::from_hash("#attention?v=1&n=20&trails=off&yaw=30&at=0.5&focus=3");
    let (c, _) = Attention::from_hash("#attention?v=1&n=21");
    assert_eq!(
        Attention::computation_key(&a),
        Attention::computation_key(&b)
    );
    assert_ne!(
        Attention::computation_key(&a),
        Attention::computation_key(&c)
    );
}

#[test]
fn figures_through_the_interface_are_the_explorer_s_own_svg() {
    let scene = computed("#attention?v=1&rule=compare&n=12&steps=20");
    assert_eq!(Attention::figure_panels(&scene, "particles"), 3);
    for figure in ["particles", "plots"] {
        let size = Attention::default_size(&scene, figure);
        let drawn = render_svg(&scene, Figure::parse(figure).unwrap(), size, 0.5);
        let problem = export_svg_problem::<Attention>(&scene, figure, size, 0.5, &drawn);
        assert_eq!(problem, None);
    }
}

#[test]
fn the_readout_names_leaders_hull_and_quiescent_sets() {
    let scene = computed("#attention?v=1&rule=hardmax&steps=30&init=fig2-leader");
    let blocks = readout_blocks(&scene, 0);
    let Some(Block::Pairs(rows)) = blocks.get(1) else {
        panic!("no rows: {blocks:?}");
    };
    let get = |name: &str| {
        rows.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{name} missing: {rows:?}"))
    };
    assert_eq!(get("tokens"), "8");
    assert_eq!(get("steps computed"), "30 of 30");
    // Token 1 is the emerging leader of the hardmax paper's Figure 2 case.
    assert!(
        get("leaders").split(", ").any(|t| t == "1"),
        "{}",
        get("leaders")
    );
    assert!(get("quiescent sets").contains("working definition"));
    assert_eq!(step_text(&scene, 1.0), "k = 30 / 30");
    assert_eq!(Attention::rule_lines(&scene).len(), 1);
}

#[test]
fn token_lists_are_short() {
    assert_eq!(list_tokens(&[]), "none");
    assert_eq!(list_tokens(&[0, 3, 7]), "0, 3, 7");
    let many: Vec<usize> = (0..20).collect();
    assert!(list_tokens(&many).ends_with("… (20 in all)"));
}

/// A worker computes the scene in slices and ships each slice's progress; the page's copy never
/// steps. It must end with exactly the scene computed in one place, state 0's diagnostics
/// included, and claim nothing about states it has not received.
#[test]
fn the_page_copy_takes_everything_from_its_worker() {
    for link in [
        "#attention?v=1&n=30&steps=12",
        "#attention?v=1&rule=compare&n=12&steps=9",
        "#attention?v=1&rule=softmax&norm=sphere&time=layers&d=3&n=40&init=disk&steps=15",
    ] {
        let (state, _) = Attention::from_hash(link);
        let mut worker = Attention::new_scene(&state, &());
        let mut page = Attention::new_scene(&state, &());
        assert!(page.panels.iter().all(|p| p.run.state_diags().is_empty()));
        let summary = Attention::summary(&page);
        assert!(!summary.contains("hull diameter"), "{link}: {summary}");
        let mut shipped = Vec::new();
        loop {
            let done = Attention::advance(&mut worker, 4);
            let bytes = Attention::progress_since(&worker, &mut shipped);
            Attention::apply_progress(&mut page, &bytes)
                .expect("the page reads the worker's bytes");
            let first = &page.panels[0].run;
            assert_eq!(
                first.state_diags().len(),
                first.computed_steps() + 1,
                "{link}"
            );
            if done {
                break;
            }
        }
        let whole = computed(link);
        assert!(Attention::is_done(&page), "{link}");
        for (p, w) in page.panels.iter().zip(&whole.panels) {
            assert_eq!(p.run.state_diags(), w.run.state_diags(), "{link}");
            assert_eq!(p.run.trajectory(), w.run.trajectory(), "{link}");
        }
        assert_eq!(
            Attention::readout_json(&page),
            Attention::readout_json(&whole),
            "{link}"
        );
        assert_eq!(
            Attention::summary(&page),
            Attention::summary(&whole),
            "{link}"
        );
    }
}
