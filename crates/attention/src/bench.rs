//! Benchmark scenarios of the attention explorer, shared by the native bench binary and the page's
//! `tokenDynamics.bench()`, so both time exactly the same work: compute the scene, then paint both
//! figures to SVG strings.

use super::params::{InitChoice, NormChoice, RuleChoice, State, TimeChoice};
use super::scene::Scene;
use super::svg::{render_svg, Figure};

pub const SCENARIOS: &[&str] = &[
    "att-n256-localmax-200",
    "att-n2000-localmax-200",
    "att-sphere-n2000-d3-200",
];

/// The link of the sphere scenario: 2,000 tokens on S², softmax self-attention (the default β = 5),
/// 200 post-norm layers of h = 0.1 from the seed-1 ball start (normalised onto the sphere). A test
/// checks that it opens as [`scenario`]'s state.
pub const SPHERE_SCENARIO_LINK: &str =
    "#attention?v=1&rule=softmax&norm=sphere&time=layers&n=2000&d=3&init=disk";

/// The state of a named scenario. The R^d ones: square init, d = 2, the default localmax delta,
/// seed 1. The sphere one: [`SPHERE_SCENARIO_LINK`].
pub fn scenario(name: &str) -> Option<State> {
    let n = match name {
        "att-n256-localmax-200" => 256,
        "att-n2000-localmax-200" => 2000,
        "att-sphere-n2000-d3-200" => {
            return Some(State {
                rule: RuleChoice::Softmax,
                norm: NormChoice::Sphere,
                time: TimeChoice::Layers,
                init: InitChoice::Disk,
                d: 3,
                n: 2000,
                ..State::default()
            })
        }
        _ => return None,
    };
    Some(State {
        rule: RuleChoice::Localmax,
        init: InitChoice::Square,
        d: 2,
        n,
        steps: 200,
        seed: 1,
        ..State::default()
    })
}

/// Computes the scene to completion (no drawing); returns it.
pub fn compute(state: State) -> Scene {
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

/// Paints both figures at their default sizes to SVG; returns the total length (a checksum).
pub fn paint(scene: &Scene) -> usize {
    [Figure::Particles, Figure::Plots]
        .iter()
        .map(|&figure| {
            render_svg(
                scene,
                figure,
                figure.default_size(scene.panels.len()),
                scene.state.at,
            )
            .len()
        })
        .sum()
}

/// Runs a scenario (compute, then paint both figures); returns a checksum so the work cannot be
/// optimised away.
pub fn run(name: &str) -> Option<f64> {
    let scene = compute(scenario(name)?);
    let painted = paint(&scene);
    let diameter: f64 = scene
        .panels
        .iter()
        .filter_map(|p| p.run.state_diags().last().map(|s| s.diameter))
        .sum();
    Some(diameter + painted as f64)
}
