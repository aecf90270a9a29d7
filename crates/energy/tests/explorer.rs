//! The energy lab through the one Explorer interface: the statistics and steering panels, the token
//! strip's shading and the link into the next-token explorer are model logic, tested here.

use td_core::explorer::{Block, Explorer};
use td_energy::explorer::{
    next_token_link, shade_level, stats_table, steering_blocks, strip_text, surprisals, Energy,
};
use td_energy::scene::{Models, Scene, Trained};

fn computed(link: &str) -> Scene {
    let (state, msgs) = Energy::from_hash(link);
    assert!(msgs.is_empty(), "{link}: {msgs:?}");
    let mut models = Models::new(Trained::Failed("not used here".into()), 7);
    Energy::follow_state(&mut models, &state);
    assert_eq!(models.random_seed, state.seed);
    let mut scene = Energy::new_scene(&state, &models);
    Energy::run_to_end(&mut scene);
    assert!(Energy::is_done(&scene), "{link}");
    scene
}

#[test]
fn the_statistics_table_has_every_row_with_its_null() {
    let scene = computed("#energy?v=1&text=It%20was%20the%20best%20of%20times");
    let Block::Table {
        head,
        rows,
        row_headers,
        ..
    } = stats_table(&scene)
    else {
        panic!("not a table");
    };
    assert!(row_headers);
    assert_eq!(head.len(), 4);
    assert_eq!(rows.len(), 9);
    assert!(rows.iter().all(|r| r.len() == 4));
    assert!(rows[0][0].1.starts_with("CV(E)"));
    // Without trained weights the trained column is empty, the random one is filled.
    assert_eq!(rows[0][1].1, "—");
    assert!(rows[0][2].1.parse::<f64>().is_ok(), "{:?}", rows[0][2]);
    assert!(rows[0][3].1.contains("shuffled U against K"));
}

#[test]
fn steering_off_suggests_the_runner_up_and_on_shows_its_effect() {
    let off = computed("#energy?v=1&text=the%20whale%20and%20the%20sea&pos=5&model=random");
    let blocks = steering_blocks(&off);
    assert!(matches!(
        &blocks[0],
        Block::Paragraph {
            class: "help-text",
            ..
        }
    ));
    let on = computed(
        "#energy?v=1&text=the%20whale%20and%20the%20sea&pos=5&model=random&steer=margin&n=8&T=0",
    );
    let blocks = steering_blocks(&on);
    let Some(Block::Pairs(rows)) = blocks.first() else {
        panic!("{blocks:?}");
    };
    let rank = &rows
        .iter()
        .find(|(n, _)| n == "rank of the target")
        .unwrap()
        .1;
    assert!(
        rank.ends_with("→ 1"),
        "the margin form puts the target on top: {rank}"
    );
    let marks: Vec<&str> = blocks
        .iter()
        .flat_map(|b| match b {
            Block::Paragraph { parts, .. } => parts.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        })
        .filter(|k| k.starts_with("mark#"))
        .collect();
    assert_eq!(
        marks,
        ["mark#continuation-plain", "mark#continuation-steered"]
    );
}

#[test]
fn the_next_token_link_carries_all_256_logits_and_the_top_three_as_corners() {
    let scene = computed("#energy?v=1&text=abcabcabc&model=random");
    let lp = scene.chosen().unwrap().log_probs_at(3).unwrap();
    let link = next_token_link(lp);
    assert!(link.starts_with("index.html#next-token?v=1&s="));
    let parts = td_core::url::split_hash(&link);
    assert_eq!(parts.explorer, "next-token");
    let get = |k: &str| &parts.pairs.iter().find(|(key, _)| key == k).unwrap().1;
    assert_eq!(get("s").split(',').count(), 256);
    // One label per byte, CSV-quoted where needed: the comma and the quote are themselves.
    let labels = td_core::export::csv_cells(get("labels"));
    assert_eq!(labels.len(), 256);
    assert_eq!((labels[44].as_str(), labels[34].as_str()), (",", "\""));
    assert_eq!(labels[32], "␣");
    let corners: Vec<usize> = get("corners")
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    let mut order: Vec<usize> = (0..256).collect();
    order.sort_by(|&a, &b| lp[b].total_cmp(&lp[a]));
    assert_eq!(corners, order[..3]);
}

#[test]
fn the_strip_shades_by_surprisal() {
    let scene = computed("#energy?v=1&text=hello%0Aworld&model=random");
    let s = surprisals(&scene);
    assert_eq!(s.len(), scene.tokens.len());
    assert!(s[0].is_nan(), "the first byte has no prediction");
    assert!(s[1..].iter().all(|x| x.is_finite() && *x > 0.0));
    assert_eq!(shade_level(f64::NAN), 0);
    assert_eq!(shade_level(0.0), 0);
    assert_eq!(shade_level(8.0), 4);
    assert_eq!(shade_level(100.0), 4);
    assert_eq!(strip_text(b'\n'), "⏎");
    assert_eq!(strip_text(0x01), "\\x01");
    assert_eq!(strip_text(b'a'), "a");
}

#[test]
fn figures_through_the_interface_are_the_explorer_s_own_svg() {
    use td_core::explorer::export_svg_problem;
    use td_energy::svg::{render_svg, Figure};
    let scene = computed("#energy?v=1&text=It%20was%20the%20best%20of%20times");
    for figure in Energy::figures().iter().map(|f| f.name) {
        let size = Energy::default_size(&scene, figure);
        let drawn = render_svg(&scene, Figure::parse(figure).unwrap(), size, 0.5);
        let problem = export_svg_problem::<Energy>(&scene, figure, size, 0.5, &drawn);
        assert_eq!(problem, None);
    }
}
