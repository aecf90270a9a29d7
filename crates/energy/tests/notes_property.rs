//! Every note the energy lab shows, over random links: each is checked against this run's numbers
//! (or the hypotheses of the identity it states). The cases of the audit are in `energy_scene.rs`.

use proptest::prelude::*;
use std::rc::Rc;
use td_core::explorer::Explorer;
use td_energy::explorer::Energy;
use td_energy::scene::{windows, Analysis, Models, Scene, Trained};
use td_transformer::energy::{covariance, mean, variance};
use td_transformer::Weights;

thread_local! {
    static TRAINED: Rc<Weights> = {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www/models/trained.tdgpt");
        let bytes = std::fs::read(path).expect("the trained weights are committed");
        Rc::new(td_transformer::format::read_weights(&bytes).unwrap().0)
    };
}

fn computed(link: &str) -> Scene {
    let (state, msgs) = Energy::from_hash(link);
    assert!(msgs.is_empty(), "{link}: {msgs:?}");
    let models = Models::new(Trained::Ready(TRAINED.with(Rc::clone)), state.seed);
    let mut scene = Scene::new(state, &models);
    scene.run_to_end();
    assert!(
        scene.is_done() && scene.errors.is_empty(),
        "{link}: {:?}",
        scene.errors
    );
    scene
}

fn notes_with<'a>(scene: &'a Scene, part: &'a str) -> impl Iterator<Item = &'a String> + 'a {
    scene.notes.iter().filter(move |n| n.contains(part))
}

fn title(a: &Analysis) -> &'static str {
    match a.model {
        td_energy::params::ModelChoice::Trained => "Trained model",
        td_energy::params::ModelChoice::Random => "Random model",
    }
}

/// Σ(‖h_{t+1}‖ − ‖h_t‖)² / Σ‖h_{t+1} − h_t‖² over the series' pairs, from K and the mass
/// (‖v‖² = 2K/m), not from the page's own `speed`.
fn norm_share(a: &Analysis) -> f64 {
    let m = a.series.mass.value;
    let (mut norm_part, mut total) = (0.0, 0.0);
    for (&t, &k) in a.series.t.iter().zip(&a.series.k) {
        let step = a.hidden_norm[t + 1] - a.hidden_norm[t];
        norm_part += step * step;
        total += 2.0 * k / m;
    }
    norm_part / total
}

const TEXTS: &[&str] = &[
    "",
    "text=Hi%20there%2C%20friend.",
    "text=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "text=The%20quick%20brown%20fox%20jumps%20over%20the%20lazy%20dog.%20The%20quick%20brown%20fox%20jumps%20over%20the%20lazy%20dog.%20The%20quick%20brown%20fox%20jumps%20over%20the%20lazy%20dog.%20The%20quick%20brown%20fox%20jumps%20over%20the%20lazy%20dog.",
    "mode=generate&prompt=The%20&n=40&T=1&gseed=3",
];

fn links() -> impl Strategy<Value = String> {
    (
        prop::sample::select(TEXTS),
        prop::sample::select(vec!["post", "pre"]),
        prop::sample::select(vec!["invd", "one", "fitted"]),
        prop::sample::select(vec!["surprisal", "entropy"]),
        prop::sample::select(vec!["additive", "product"]),
        prop::sample::select(vec![0usize, 1, 5]),
        1u64..6,
        prop::sample::select(vec![
            "",
            "&steer=delta&dlogp=1",
            "&steer=margin&margin=1",
            "&steer=margin&margin=2&layer=1",
            "&steer=delta&dlogp=-0.5&layer=pre",
        ]),
        prop::sample::select(vec!["trained", "random"]),
    )
        .prop_map(|(text, h, mass, u, form, skip, seed, steer, model)| {
            let mut link = format!(
                "#energy?v=1&h={h}&mass={mass}&U={u}&form={form}&skip={skip}&seed={seed}&model={model}{steer}"
            );
            if !text.is_empty() {
                link.push('&');
                link.push_str(text);
            }
            link
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn every_energy_note_is_true_for_its_link(link in links()) {
        let scene = computed(&link);
        let st = &scene.state;
        let analyses: Vec<&Analysis> = scene.analyses.iter().flatten().collect();
        prop_assert!(!analyses.is_empty(), "{link}");

        for a in &analyses {
            // A kinetic term is never negative: the mass used is positive in every form.
            prop_assert!(a.series.mass.value > 0.0, "{link}: mass {}", a.series.mass.value);
            prop_assert!(a.series.k.iter().all(|&k| k >= 0.0), "{link}: a negative K");
            let name = title(a);

            // "below 1 only if <term> and U trade off": the ratio is below 1 exactly when the
            // kinetic term as it enters E has a negative covariance with U.
            for note in notes_with(&scene, "trade off)").filter(|n| n.starts_with(name)) {
                let kinetic: Vec<f64> = match st.form {
                    td_transformer::energy::EnergyForm::Additive => a.series.k.clone(),
                    td_transformer::energy::EnergyForm::Product => {
                        a.series.k.iter().map(|k| (2.0 * k).ln()).collect()
                    }
                };
                let cov = covariance(&kinetic, &a.series.u).unwrap();
                let ratio = a.summary.var_ratio.unwrap();
                let spread = variance(&kinetic).unwrap() + variance(&a.series.u).unwrap();
                if (ratio - 1.0).abs() > 1e-9 {
                    prop_assert_eq!(ratio < 1.0, cov < 0.0, "{}: ratio {} with covariance {} ({})", link, ratio, cov, note);
                }
                prop_assert!((ratio - (1.0 + 2.0 * cov / spread)).abs() < 1e-9 * ratio.max(1.0), "{link}: {ratio}");
                let named = match st.form {
                    td_transformer::energy::EnergyForm::Additive => "only if K and U trade off",
                    td_transformer::energy::EnergyForm::Product => "only if ln 2K and U trade off",
                };
                prop_assert!(note.contains(named), "{link}: {note}");
                // The null refits what the statistic fits.
                prop_assert_eq!(note.contains("fitted again on each shuffled pairing"), a.series.mass.is_fitted(), "{}", link);
            }

            // The norm note's share and its reading agree with the run.
            for note in notes_with(&scene, "changes of the norm make up").filter(|n| n.starts_with(name)) {
                let share = norm_share(a);
                let shown = format!("{:.1} %", 100.0 * share);
                prop_assert!(note.contains(&shown), "{link}: share {share} vs {note}");
                prop_assert_eq!(note.contains("mostly a change of direction"), share <= td_energy::scene::DIRECTION_SHARE, "{}", link);
            }

            // A fitted m* that is not a mass is named and replaced by 1/d.
            if a.series.mass.fell_back {
                let note = notes_with(&scene, "1/d was used").find(|n| n.starts_with(name));
                prop_assert!(note.is_some(), "{link}: fell back without saying so");
                prop_assert!(a.series.mass.value == a.series.mass.inv_d);
                if let Some(m) = a.series.mass.fitted {
                    prop_assert!(m <= 0.0, "{link}: a positive m* = {m} was replaced");
                }
            }
        }

        // "predicts almost uniformly, so U hardly varies" only where the numbers show it.
        for _ in notes_with(&scene, "predicts almost uniformly") {
            let r = scene.analyses[1].as_ref().unwrap();
            let mu = r.summary.mean_u.unwrap();
            prop_assert!((mu - 256f64.ln()).abs() <= 0.05 * 256f64.ln(), "{link}: mean U {mu}");
            prop_assert!(r.summary.cv_u.unwrap() <= 0.1, "{link}: CV(U) {:?}", r.summary.cv_u);
        }

        // The mass in the product form only shifts E by ln m: rerun with m = 1 and compare.
        if notes_with(&scene, "only shifts E by the constant ln m").next().is_some() {
            let other = computed(&link.replace("mass=fitted", "mass=one"));
            for (a, b) in scene.analyses.iter().zip(&other.analyses) {
                let (Some(a), Some(b)) = (a, b) else { continue };
                let shift = a.series.mass.value.ln();
                prop_assert_eq!(a.series.e.len(), b.series.e.len());
                for (ea, eb) in a.series.e.iter().zip(&b.series.e) {
                    prop_assert!((ea - eb - shift).abs() < 1e-9 * ea.abs().max(1.0), "{link}: E moved by {} not ln m = {shift}", ea - eb);
                }
                let (va, vb) = (variance(&a.series.e).unwrap(), variance(&b.series.e).unwrap());
                prop_assert!((va - vb).abs() < 1e-9 * va.max(1e-300), "{link}: the spread of E changed");
                prop_assert!(mean(&a.series.e).is_some());
            }
        }

        // Windows: the count said is the count used.
        for note in notes_with(&scene, "windows of 128") {
            prop_assert!(scene.tokens.len() > 128, "{link}");
            prop_assert!(note.contains(&format!("in {} windows", windows(scene.tokens.len()).len())), "{link}: {note}");
        }

        // Steering: the margin form named as replaced is replaced; the continuations said to agree do.
        if notes_with(&scene, "the first-order Δ form is used").next().is_some() {
            let s = scene.steer_outcome().unwrap();
            prop_assert_eq!(s.form, "delta", "{}", link);
            prop_assert!(s.site.contains("residual stream"), "{link}: {}", s.site);
        }
        if let Some(s) = scene.steer_outcome() {
            if s.form == "margin" {
                // The margin form is exact after the final norm: the target is on top.
                prop_assert_eq!(s.new_top, s.target, "{}", link);
            }
            let lines = Energy::text_panel(&scene, "steering");
            let agree = lines.iter().any(|b| format!("{b:?}").contains("The continuations agree"));
            prop_assert_eq!(agree, s.plain == s.steered && !s.plain.is_empty(), "{}", link);
        }
    }
}
