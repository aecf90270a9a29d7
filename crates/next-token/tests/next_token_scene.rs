//! The explorer's scene, presets, links and drawing, natively (no browser).

use td_core::explorer::Explorer;
use td_next_token::explorer::NextToken;
use td_next_token::params::{Start, State};
use td_next_token::presets::PRESETS;
use td_next_token::scene::Scene;
use td_next_token::svg::{render_svg, Figure};

fn computed(hash: &str) -> Scene {
    let (state, messages) = NextToken::from_hash(hash);
    assert!(messages.is_empty(), "{hash}: {messages:?}");
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

#[test]
fn every_preset_is_a_clean_link_that_round_trips() {
    for preset in PRESETS {
        let (state, messages) = NextToken::from_hash(preset.hash);
        assert!(messages.is_empty(), "{}: {messages:?}", preset.name);
        let (again, messages) = NextToken::from_hash(&NextToken::to_hash(&state));
        assert!(messages.is_empty(), "{}: {messages:?}", preset.name);
        assert_eq!(state, again, "{}", preset.name);
    }
}

#[test]
fn audit_preset_reproduces_the_reference_numbers() {
    let scene = computed(PRESETS.iter().find(|p| p.name == "audit").unwrap().hash);
    let readouts = scene.readouts();
    assert_eq!(readouts.len(), 2, "compare mode shows A and C");
    // Flow A: F(4) = 1.072109, and F peaks at t = 1 with log(1 + e) = 1.313262.
    assert!((readouts[0].t - 4.0).abs() < 1e-12);
    assert!(
        (readouts[0].free_energy - 1.072109).abs() < 1e-6,
        "{}",
        readouts[0].free_energy
    );
    let samples = scene.panels[0].runs[0].run.samples();
    let peak = samples
        .iter()
        .max_by(|a, b| a.diag.free_energy.total_cmp(&b.diag.free_energy))
        .unwrap();
    assert!((peak.t - 1.0).abs() < 0.02, "peak at {}", peak.t);
    assert!((peak.diag.free_energy - 1.313262).abs() < 1e-4);
    // Flow C: converges toward (0.268941, 0.731059) with F increasing.
    let c = scene.panels[1].runs[0].run.samples();
    assert!(c
        .windows(2)
        .all(|w| w[1].diag.free_energy >= w[0].diag.free_energy - 1e-12));
    let p = &readouts[1].p;
    assert!((p[1] - 0.731059).abs() < 0.02, "{p:?}");
}

#[test]
fn mw_preset_note_reports_machine_precision() {
    let scene = computed(PRESETS.iter().find(|p| p.name == "mw-exact").unwrap().hash);
    let note = scene
        .notes
        .iter()
        .find(|n| n.contains("max |p_MW"))
        .expect("exactness note");
    let gap: f64 = note
        .split("| = ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(gap < 1e-14, "{note}");
    assert!(note.contains("k = 17"), "{note}");
}

#[test]
fn mirror_sweep_converges_below_two_and_moves_away_above() {
    let scene = computed(
        PRESETS
            .iter()
            .find(|p| p.name == "mirror-sweep")
            .unwrap()
            .hash,
    );
    let runs = &scene.panels[0].runs;
    assert_eq!(runs.len(), 4);
    for view in runs {
        let samples = view.run.samples();
        let first = samples.first().unwrap().diag.kl_to_target;
        let last = samples.last().unwrap().diag.kl_to_target;
        let eta_t = view.overlay_value.unwrap() * view.temp;
        if eta_t > 2.0 {
            // It flips between vertices with growing amplitude: KL(pi_T || p) blows up.
            let first = samples.first().unwrap().diag.kl_from_target;
            let last = samples.last().unwrap().diag.kl_from_target;
            assert!(
                last > 3.0 * first,
                "{}: KL(pi||p) {first} -> {last} should grow",
                view.name
            );
        } else {
            assert!(last < 0.05 * first, "{}: KL {first} -> {last}", view.name);
        }
    }
    assert!(scene.notes.iter().any(|n| n.contains("diverges")));
}

#[test]
fn top_p_faces_change_with_temperature_in_the_preset() {
    let scene = computed(PRESETS.iter().find(|p| p.name == "topk-topp").unwrap().hash);
    let sizes: Vec<usize> = scene.panels[0]
        .runs
        .iter()
        .map(|r| r.run.spec().support.len())
        .collect();
    assert_eq!(sizes, vec![1, 2, 3], "vertex, edge, whole simplex");
}

#[test]
fn rps_preset_conserves_its_quantity() {
    let scene = computed(PRESETS.iter().find(|p| p.name == "rps").unwrap().hash);
    let samples = scene.panels[0].runs[0].run.samples();
    let values: Vec<f64> = samples
        .iter()
        .map(|s| s.diag.conserved.expect("conserved"))
        .collect();
    let spread = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - values.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(spread < 1e-6, "spread {spread}");
}

/// The spiral preset says its orbit winds out toward the boundary with Σ log p_i falling (it once
/// said "a brittle attractor", which reads as spiralling in).
#[test]
fn spiral_preset_winds_out_toward_the_boundary() {
    let scene = computed(PRESETS.iter().find(|p| p.name == "spiral").unwrap().hash);
    let samples = scene.panels[0].runs[0].run.samples();
    let sum_log: Vec<f64> = samples
        .iter()
        .map(|s| s.lumped[..3].iter().map(|p| p.ln()).sum())
        .collect();
    for w in sum_log.windows(2) {
        assert!(
            w[1] <= w[0] + 1e-9,
            "Σ log p rose from {} to {}",
            w[0],
            w[1]
        );
    }
    let smallest = samples.last().unwrap().lumped[..3]
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    assert!(
        smallest < 0.05,
        "the orbit ends {smallest} from the boundary"
    );
}

#[test]
fn svg_of_every_preset_is_drawn_and_finite() {
    for preset in PRESETS {
        let scene = computed(preset.hash);
        for figure in [Figure::Simplex, Figure::Series, Figure::Logits] {
            let svg = render_svg(&scene, figure, figure.default_size(scene.panels.len()), 1.0);
            assert!(
                svg.starts_with("<svg"),
                "{}: {}",
                preset.name,
                &svg[..svg.len().min(80)]
            );
            assert!(
                svg.matches("<polyline").count() + svg.matches("<rect").count() > 3,
                "{} {figure:?}",
                preset.name
            );
            assert!(
                !svg.contains("NaN") && !svg.contains("inf"),
                "{} {figure:?} has a non-finite number",
                preset.name
            );
        }
    }
}

#[test]
fn large_vocabulary_lumps_into_other_and_stays_finite() {
    let scene = computed("#next-token?V=1000&gen=zipf&seed=3&flow=entropic");
    assert_eq!(scene.v, 1000);
    for panel in &scene.panels {
        for view in &panel.runs {
            for s in view.run.samples() {
                let sum: f64 = s.lumped.iter().sum();
                assert!(
                    (sum - 1.0).abs() < 1e-9 && s.lumped.iter().all(|x| x.is_finite() && *x >= 0.0)
                );
            }
        }
    }
    let svg = render_svg(&scene, Figure::Simplex, (440, 420), 1.0);
    // The centre dot is named in the legend (beside the dot, the ★ and the paths hid it).
    assert!(
        svg.contains("● centre: the other 997 tokens, lumped"),
        "{svg}"
    );
}

#[test]
fn hostile_links_never_panic_and_keep_other_settings() {
    let links = [
        "#next-token?T=abc&s=1,NaN,2&flow=bogus&k=-5",
        "#next-token?T=0.5&s=,,,&p0=-1,2;;;&W=1,2&adjust=matrix",
        "#next-token?V=99999999&gen=zipf&corners=5,5,5",
        "#next-token?p0=0,0,0&trunc=top-p&top_p=0&min_p=-3",
        "#next-token?s=1e308,-1e308,0&T=1e-300",
        "#next-token?labels=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E,%E2%80%AEabc,🙂🙂🙂&overlay=T:0,1e9",
        "#attention?alpha=1",
        "garbage",
        "#next-token?%zz=%zz&&&=&T",
    ];
    for link in links {
        let (state, _messages) = NextToken::from_hash(link);
        let mut scene = Scene::new(state);
        while !scene.advance(usize::MAX) {}
        for figure in [Figure::Simplex, Figure::Series, Figure::Logits] {
            let svg = render_svg(&scene, figure, (400, 300), 1.0);
            assert!(!svg.contains("NaN"), "{link} {figure:?}");
        }
    }
    // A bad value for one key does not lose the others.
    let (state, messages) = NextToken::from_hash("#next-token?T=0.5&flow=bogus&eta=0.3");
    assert_eq!(state.temp, 0.5);
    assert_eq!(state.eta, 0.3);
    assert_eq!(messages.len(), 1);
    let _ = State::default();
    let _ = Start::Uniform;
}

/// The SVG `<text>` elements' estimated extents (the drawing code's own width estimate):
/// (left, right, text) for each.
fn text_extents(svg: &str) -> Vec<(f64, f64, String)> {
    let attr = |e: &str, name: &str| -> Option<String> {
        let start = e.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(e[start..start + e[start..].find('"')?].to_string())
    };
    svg.split("<text")
        .skip(1)
        .map(|e| {
            let x: f64 = attr(e, "x").unwrap().parse().unwrap();
            let size: f64 = attr(e, "font-size").unwrap().parse().unwrap();
            let text = e[e.find('>').unwrap() + 1..e.find("</text>").unwrap()]
                .trim()
                .to_string();
            let width = td_core::draw_kit::text_width(&text, size, 1.0);
            match attr(e, "text-anchor").as_deref() {
                Some("middle") => (x - width / 2.0, x + width / 2.0, text),
                Some("end") => (x - width, x, text),
                _ => (x, x + width, text),
            }
        })
        .collect()
}

#[test]
fn corner_labels_stay_inside_the_figure() {
    // A real model's link: its lumped "other (336 tokens)" is the second corner (bottom right).
    let scene = computed(
        "#next-token?s=2,1.9,-3,-3,-3&labels=·the,·a,x,y,other%20(336%20tokens)&corners=0,4,1",
    );
    assert!(scene
        .corner_labels
        .iter()
        .any(|l| l == "other (336 tokens)"));
    for width in [300u32, 440, 640] {
        let svg = render_svg(&scene, Figure::Simplex, (width, 420), 1.0);
        let labels: Vec<_> = text_extents(&svg)
            .into_iter()
            .filter(|(_, _, t)| {
                scene
                    .corner_labels
                    .iter()
                    .any(|l| l.starts_with(t.trim_end_matches('…')))
            })
            .collect();
        assert!(labels.len() >= 3, "{width}: {labels:?}");
        for (left, right, text) in labels {
            assert!(
                left >= 0.0 && right <= width as f64,
                "{width}: {text} at {left}..{right}"
            );
        }
    }
}
