//! What the energy lab shows for one state: the tokens (the text, or a prompt and what the chosen
//! model generated from it), both models' forward passes in windows of the context, the energy
//! series K, U, E with summary statistics and the decoupled null, and the steering outcome
//! (perturbation, new probability and rank, energy trace and continuation with and without it).
//!
//! Computed in units of one forward pass ([`Scene::advance`]) so the page can spread the work over
//! animation frames; the native command runs it to the end. Pure Rust: no web-sys.

use std::rc::Rc;

use super::params::{byte_label, InputMode, ModelChoice, State, SteerLayer, SteerMode, CONTEXT};
use td_core::codec::{self, Reader, Writer};
use td_transformer::energy::{
    decoupled_null, series_from_parts, summarize, DecoupledNull, EnergyForm, EnergySeries,
    EnergySummary, Potential,
};
use td_transformer::forward::{forward_patched, Patch, PatchSite};
use td_transformer::generate::Generator;
use td_transformer::{steer, vjp, ForwardOptions, HiddenState, Weights};

/// The trained weights file, relative to the site root (and to the repository root).
pub const TRAINED_WEIGHTS: &str = "www/models/trained.tdgpt";

/// Shuffles of the decoupled null.
pub const NULL_DRAWS: usize = 200;

/// The trained weights, as far as the page has them.
#[derive(Clone)]
pub enum Trained {
    /// Being downloaded (fraction known so far, if the size is known).
    Loading(Option<f64>),
    Ready(Rc<Weights>),
    Failed(String),
}

/// Both models of the lab.
#[derive(Clone)]
pub struct Models {
    pub trained: Trained,
    pub random: Rc<Weights>,
    /// The seed `random` was made from.
    pub random_seed: u64,
}

impl Models {
    /// The trained weights as far as they are known, and the seeded random model.
    pub fn new(trained: Trained, seed: u64) -> Models {
        Models {
            trained,
            random: Rc::new(
                Weights::random(td_transformer::Config::default(), seed)
                    .expect("the default config is valid"),
            ),
            random_seed: seed,
        }
    }

    /// Makes the random model match the state's seed (a new seed draws a new model).
    pub fn follow_seed(&mut self, seed: u64) {
        if seed != self.random_seed {
            *self = Models::new(self.trained.clone(), seed);
        }
    }

    pub fn get(&self, model: ModelChoice) -> Option<Rc<Weights>> {
        match model {
            ModelChoice::Random => Some(self.random.clone()),
            ModelChoice::Trained => match &self.trained {
                Trained::Ready(w) => Some(w.clone()),
                _ => None,
            },
        }
    }
}

/// One window's contribution: squared speeds and potentials at global positions.
#[derive(Clone, Debug, Default)]
struct WindowParts {
    t: Vec<usize>,
    speed2: Vec<f64>,
    u: Vec<f64>,
}

/// One model's analysis of the tokens.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub model: ModelChoice,
    /// n × V log-probabilities (row t: the distribution of byte t+1).
    pub log_probs: Vec<f64>,
    /// ‖h_t‖ of the chosen hidden state, per position.
    pub hidden_norm: Vec<f64>,
    windows: Vec<WindowParts>,
    pub series: EnergySeries,
    /// ‖v_t‖ aligned with `series.t`.
    pub speed: Vec<f64>,
    pub summary: EnergySummary,
    pub null: DecoupledNull,
}

impl Analysis {
    pub fn log_probs_at(&self, t: usize) -> Option<&[f64]> {
        self.log_probs.get(t * 256..(t + 1) * 256)
    }
}

/// The steering outcome at one position of the chosen model.
#[derive(Clone, Debug)]
pub struct SteerOutcome {
    pub model: ModelChoice,
    pub position: usize,
    pub target: u8,
    /// The target was suggested (the runner-up), not chosen.
    pub suggested: bool,
    /// Where the perturbation went, in words.
    pub site: String,
    /// "delta" or "margin" (the margin form is exact only after the final norm).
    pub form: &'static str,
    pub norm: f64,
    pub old_log_p: f64,
    pub new_log_p: f64,
    /// Δ form: old + Δ (first order).
    pub predicted_log_p: Option<f64>,
    pub old_rank: usize,
    pub new_rank: usize,
    pub old_top: u8,
    pub new_top: u8,
    /// Log-probabilities at the position after steering.
    pub log_probs: Vec<f64>,
    /// The whole series with the steered window recomputed.
    pub series: EnergySeries,
    pub summary: EnergySummary,
    /// Bytes before the continuation (the steered position's window, up to it).
    pub prefix: Vec<u32>,
    pub plain: Vec<u32>,
    pub steered: Vec<u32>,
    /// Continuation length actually generated (room left in the context).
    pub n_new: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Stage {
    /// Generating from the prompt with the chosen model.
    Generate,
    /// Forward pass of window `window` of model `model` (0 trained, 1 random).
    Analyse {
        model: usize,
        window: usize,
    },
    /// Steering perturbation and the steered forward pass.
    Steer,
    /// Plain and steered continuations.
    Continue,
    Done,
}

pub struct Scene {
    pub state: State,
    /// The model that generates and is steered (the random one if the trained weights failed).
    pub model: ModelChoice,
    models: Models,
    pub tokens: Vec<u32>,
    /// Bytes of prompt (generate mode).
    pub prompt_len: Option<usize>,
    stage: Stage,
    generator: Option<Generator>,
    partial: [Vec<WindowParts>; 2],
    partial_log_probs: [Vec<f64>; 2],
    partial_norms: [Vec<f64>; 2],
    /// index 0 trained, 1 random.
    pub analyses: [Option<Analysis>; 2],
    pub steer: Option<SteerOutcome>,
    continuation: Option<(Generator, Generator, SteerOutcome)>,
    /// What the reader should know (plain text).
    pub notes: Vec<String>,
    /// A problem that stopped part of the computation.
    pub errors: Vec<String>,
    units_done: usize,
}

fn model_index(model: ModelChoice) -> usize {
    match model {
        ModelChoice::Trained => 0,
        ModelChoice::Random => 1,
    }
}

fn model_of(index: usize) -> ModelChoice {
    if index == 0 {
        ModelChoice::Trained
    } else {
        ModelChoice::Random
    }
}

pub fn model_title(model: ModelChoice) -> &'static str {
    match model {
        ModelChoice::Trained => "trained model",
        ModelChoice::Random => "random model",
    }
}

/// Window ranges of `n` tokens.
pub fn windows(n: usize) -> Vec<(usize, usize)> {
    (0..n.div_ceil(CONTEXT))
        .map(|w| (w * CONTEXT, ((w + 1) * CONTEXT).min(n)))
        .collect()
}

impl Scene {
    pub fn new(state: State, models: &Models) -> Scene {
        let mut scene = Scene {
            model: state.model,
            state,
            models: models.clone(),
            tokens: Vec::new(),
            prompt_len: None,
            stage: Stage::Done,
            generator: None,
            partial: [Vec::new(), Vec::new()],
            partial_log_probs: [Vec::new(), Vec::new()],
            partial_norms: [Vec::new(), Vec::new()],
            analyses: [None, None],
            steer: None,
            continuation: None,
            notes: Vec::new(),
            errors: Vec::new(),
            units_done: 0,
        };
        if scene.model == ModelChoice::Trained {
            if let Trained::Failed(_) = scene.models.trained {
                scene.model = ModelChoice::Random;
                scene.notes.push(
                    "The trained weights are not available: the random model generates and is steered instead.".into(),
                );
            }
        }
        scene.tokens = scene
            .state
            .input_bytes()
            .iter()
            .map(|&b| b as u32)
            .collect();
        scene.stage = scene.first_analysis();
        if scene.state.mode == InputMode::Generate {
            scene.prompt_len = Some(scene.tokens.len());
            scene.stage = Stage::Generate;
            scene.start_generator();
        }
        scene
    }

    fn start_generator(&mut self) {
        let Some(w) = self.models.get(self.model) else {
            return; // waits for the trained weights
        };
        match Generator::new(
            &w,
            &self.tokens,
            self.state.n,
            self.state.sampling(),
            self.state.gseed,
            None,
        ) {
            Ok(g) => self.generator = Some(g),
            Err(e) => {
                self.errors.push(format!("generation: {e}"));
                self.stage = self.first_analysis();
            }
        }
    }

    /// Whether the scene waits for the trained weights to go on.
    pub fn waiting_for_weights(&self) -> bool {
        if !matches!(self.models.trained, Trained::Loading(_)) {
            return false;
        }
        match self.stage {
            Stage::Generate => self.generator.is_none(),
            Stage::Analyse { model, .. } => model == 0,
            _ => false,
        }
    }

    /// Random model first, so its side shows while the trained weights download.
    fn first_analysis(&self) -> Stage {
        Stage::Analyse {
            model: 1,
            window: 0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Forward passes this scene needs in all (for the progress bar).
    pub fn total_units(&self) -> usize {
        let n = self.state.token_count();
        let gen = if self.state.mode == InputMode::Generate {
            self.state.n
        } else {
            0
        };
        let steer = if self.state.steer == SteerMode::Off {
            0
        } else {
            2 + 2 * self.state.n
        };
        gen + 2 * windows(n).len() + steer
    }

    pub fn progress(&self) -> f64 {
        (self.units_done as f64 / self.total_units().max(1) as f64).clamp(0.0, 1.0)
    }

    /// Runs up to `units` forward passes; returns whether the scene is complete.
    pub fn advance(&mut self, units: usize) -> bool {
        for _ in 0..units.max(1) {
            if self.is_done() || self.waiting_for_weights() {
                break;
            }
            self.unit();
            self.units_done += 1;
        }
        self.is_done()
    }

    /// Runs the whole scene (native command, tests). Stops early if it waits for weights.
    pub fn run_to_end(&mut self) {
        while !self.is_done() && !self.waiting_for_weights() {
            self.advance(64);
        }
    }

    fn unit(&mut self) {
        match self.stage.clone() {
            Stage::Generate => self.generate_unit(),
            Stage::Analyse { model, window } => self.analyse_unit(model, window),
            Stage::Steer => self.steer_unit(),
            Stage::Continue => self.continue_unit(),
            Stage::Done => {}
        }
    }

    fn generate_unit(&mut self) {
        let (Some(gen), Some(w)) = (self.generator.as_mut(), self.models.get(self.model)) else {
            self.stage = self.first_analysis();
            return;
        };
        let result = gen.step(&w);
        let finished = gen.done() || result.is_err();
        if finished {
            self.tokens = gen.tokens().to_vec();
        }
        if let Err(e) = result {
            self.errors.push(format!("generation: {e}"));
        }
        if finished {
            self.stage = self.first_analysis();
        }
    }

    fn analyse_unit(&mut self, model: usize, window: usize) {
        let ranges = windows(self.tokens.len());
        let next = |model: usize, window: usize| {
            if window + 1 < ranges.len() {
                Stage::Analyse {
                    model,
                    window: window + 1,
                }
            } else if model == 1 {
                Stage::Analyse {
                    model: 0,
                    window: 0,
                }
            } else {
                Stage::Steer
            }
        };
        let after = next(model, window);
        let finished_model = window + 1 >= ranges.len();
        let Some(w) = self.models.get(model_of(model)) else {
            // Trained weights failed: that side stays empty.
            self.stage = if model == 1 {
                Stage::Analyse {
                    model: 0,
                    window: 0,
                }
            } else {
                Stage::Steer
            };
            return;
        };
        let Some(&(start, end)) = ranges.get(window) else {
            self.stage = after;
            return;
        };
        let tokens = &self.tokens[start..end];
        match forward_patched(&w, tokens, ForwardOptions::default(), None) {
            Ok(fwd) => {
                let parts = window_parts(&fwd, tokens, start, &self.state);
                self.partial[model].push(parts);
                self.partial_log_probs[model].extend_from_slice(&fwd.log_probs);
                let h = fwd.hidden(self.state.hidden);
                self.partial_norms[model].extend(
                    h.chunks(fwd.d)
                        .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt()),
                );
            }
            Err(e) => self.errors.push(format!(
                "{}: forward pass failed: {e}",
                model_title(model_of(model))
            )),
        }
        if finished_model {
            self.finish_analysis(model, w.config.d_model);
        }
        self.stage = after;
    }

    fn finish_analysis(&mut self, model: usize, d: usize) {
        let windows = std::mem::take(&mut self.partial[model]);
        let (series, speed) = assemble(&windows, d, &self.state);
        let summary = summarize(&series);
        let null = decoupled_null(&series, self.state.form, NULL_DRAWS, 1);
        self.analyses[model] = Some(Analysis {
            model: model_of(model),
            log_probs: std::mem::take(&mut self.partial_log_probs[model]),
            hidden_norm: std::mem::take(&mut self.partial_norms[model]),
            windows,
            series,
            speed,
            summary,
            null,
        });
    }

    /// Updates how far the trained weights are (download progress shown in the trained panels);
    /// a scene is rebuilt when they arrive.
    pub fn set_trained_status(&mut self, trained: Trained) {
        if let (Trained::Loading(_), Trained::Loading(_)) = (&self.models.trained, &trained) {
            self.models.trained = trained;
        }
    }

    /// How far the trained weights are.
    pub fn trained_status(&self) -> Trained {
        self.models.trained.clone()
    }

    /// The steered / inspected position.
    pub fn position(&self) -> usize {
        match (self.state.pos, self.prompt_len) {
            (Some(p), _) => p.min(self.tokens.len().saturating_sub(1)),
            (None, Some(prompt)) => prompt.saturating_sub(1),
            (None, None) => self.tokens.len().saturating_sub(1),
        }
    }

    /// The analysis of the chosen model, if computed.
    pub fn chosen(&self) -> Option<&Analysis> {
        self.analyses[model_index(self.model)].as_ref()
    }

    /// What hovering the byte at position `t` shows beside it: the chosen model's five most
    /// likely next bytes and the text's own next byte, with their probabilities.
    pub fn hover_summary(&self, t: usize) -> Option<String> {
        let lp = self.chosen()?.log_probs_at(t)?;
        let label = |b: usize| super::params::byte_label(b as u8);
        let top: Vec<String> = top_tokens(lp, 5)
            .into_iter()
            .map(|b| format!("{} {:.3}", label(b), lp[b].exp()))
            .collect();
        let next = self.tokens.get(t + 1).map_or(String::new(), |&b| {
            let b = b as usize;
            format!(
                " — the text has {} (p {:.3}, {:.2} nats)",
                label(b),
                lp[b].exp(),
                -lp[b]
            )
        });
        Some(format!(
            "After position {t} the {} expects {}{next}",
            model_title(self.model),
            top.join(" · ")
        ))
    }

    /// The byte the page suggests at `t` for the chosen model: the runner-up.
    pub fn suggested_target(&self, t: usize) -> Option<u8> {
        let lp = self.chosen()?.log_probs_at(t)?;
        top_tokens(lp, 2).get(1).map(|&i| i as u8)
    }

    fn steer_unit(&mut self) {
        self.stage = Stage::Done;
        if self.state.steer == SteerMode::Off {
            self.finish_notes();
            return;
        }
        match self.compute_steer() {
            Ok((outcome, plain, steered)) => {
                self.continuation = Some((plain, steered, outcome));
                self.stage = Stage::Continue;
            }
            Err(e) => {
                self.errors.push(format!("steering: {e}"));
                self.finish_notes();
            }
        }
    }

    fn compute_steer(&mut self) -> Result<(SteerOutcome, Generator, Generator), String> {
        let model = self.model;
        let w = self
            .models
            .get(model)
            .ok_or("the trained weights are not loaded")?;
        let SteerRequest {
            position,
            suggested,
            target,
            old_lp,
            mut parts,
            win,
            start,
            local,
            tokens,
        } = self.steer_request()?;
        let y = target as usize;
        let old_rank = steer::rank(&old_lp, y);
        let old_top = top_tokens(&old_lp, 1)[0] as u8;
        let perturbation = match self.state.layer {
            SteerLayer::PostNorm => self.post_norm_perturbation(&w, &tokens, local, y)?,
            SteerLayer::Residual(layer) => {
                self.residual_perturbation(&w, &tokens, layer, local, y)?
            }
        };
        let patch = perturbation.patch;
        let fwd = forward_patched(&w, &tokens, ForwardOptions::default(), Some(&patch))?;
        let new_lp = fwd.log_probs_at(local).to_vec();
        let new_rank = steer::rank(&new_lp, y);
        let new_top = top_tokens(&new_lp, 1)[0] as u8;
        // The whole series with this window's parts recomputed.
        if let Some(slot) = parts.get_mut(win) {
            *slot = window_parts(&fwd, &tokens, start, &self.state);
        }
        let (series, _) = assemble(&parts, w.config.d_model, &self.state);
        let summary = summarize(&series);
        let prefix = tokens[..=local].to_vec();
        let n_new = self.state.n.min(CONTEXT - prefix.len());
        let generator = |patch| {
            Generator::new(
                &w,
                &prefix,
                n_new,
                self.state.sampling(),
                self.state.gseed,
                patch,
            )
        };
        let plain = generator(None)?;
        let steered = generator(Some(patch))?;
        let outcome = SteerOutcome {
            model,
            position,
            target,
            suggested,
            site: perturbation.site,
            form: perturbation.form,
            norm: perturbation.norm,
            old_log_p: old_lp[y],
            new_log_p: new_lp[y],
            predicted_log_p: perturbation.predicted,
            old_rank,
            new_rank,
            old_top,
            new_top,
            log_probs: new_lp,
            series,
            summary,
            prefix,
            plain: Vec::new(),
            steered: Vec::new(),
            n_new,
        };
        Ok((outcome, plain, steered))
    }

    /// What to steer: the inspected position of the chosen model, its target (chosen or
    /// suggested), the distribution there and the position's window.
    fn steer_request(&self) -> Result<SteerRequest, String> {
        let analysis = self.chosen().ok_or("no analysis of the chosen model")?;
        let position = self.position();
        let (suggested, target) = match self.state.target {
            Some(b) => (false, b),
            None => (
                true,
                self.suggested_target(position)
                    .ok_or("no distribution at that position")?,
            ),
        };
        let old_lp = analysis
            .log_probs_at(position)
            .ok_or("no distribution at that position")?
            .to_vec();
        let win = position / CONTEXT;
        let (start, end) = windows(self.tokens.len())[win];
        Ok(SteerRequest {
            position,
            suggested,
            target,
            old_lp,
            parts: analysis.windows.clone(),
            win,
            start,
            local: position - start,
            tokens: self.tokens[start..end].to_vec(),
        })
    }

    /// Steering after the final norm: the margin form (exact there) or the Δ form.
    fn post_norm_perturbation(
        &self,
        w: &Weights,
        tokens: &[u32],
        local: usize,
        y: usize,
    ) -> Result<Perturbation, String> {
        let fwd = forward_patched(w, tokens, ForwardOptions::default(), None)?;
        let h = fwd.h(local, HiddenState::PostNorm).to_vec();
        let (s, form) = if self.state.steer == SteerMode::Margin {
            (
                steer::steer_margin_to_top(w, &h, y, self.state.margin)?,
                "margin",
            )
        } else {
            (steer::steer_delta(w, &h, y, self.state.dlogp)?, "delta")
        };
        let predicted = (form == "delta").then_some(s.old_log_p + self.state.dlogp);
        Ok(Perturbation {
            patch: Patch {
                site: PatchSite::PostNorm,
                position: local,
                delta: s.delta,
            },
            norm: s.norm,
            predicted,
            form,
            site: "the final hidden state, after the final norm".to_string(),
        })
    }

    /// Steering in the residual stream entering block `layer` (the final norm's input for
    /// `layer = n_layer`): the first-order Δ form through the blocks' vector-Jacobian products
    /// (a note says so when the margin form was asked for).
    fn residual_perturbation(
        &mut self,
        w: &Weights,
        tokens: &[u32],
        layer: usize,
        local: usize,
        y: usize,
    ) -> Result<Perturbation, String> {
        if self.state.steer == SteerMode::Margin {
            self.notes.push(format!(
                "The margin form is exact only after the final norm; before it the first-order Δ form is used (Δ = {}).",
                td_core::url::format_number(self.state.dlogp)
            ));
        }
        let s = vjp::steer_delta_at_layer(w, tokens, layer, local, y, self.state.dlogp)?;
        let site = if layer == w.config.n_layer {
            "the residual stream before the final norm".to_string()
        } else {
            format!("the residual stream entering block {layer}")
        };
        Ok(Perturbation {
            patch: Patch {
                site: PatchSite::Residual(layer),
                position: local,
                delta: s.delta,
            },
            norm: s.norm,
            predicted: Some(s.predicted_log_p),
            form: "delta",
            site,
        })
    }

    fn continue_unit(&mut self) {
        let Some((plain, steered, outcome)) = self.continuation.as_mut() else {
            self.stage = Stage::Done;
            return;
        };
        let Some(w) = self.models.get(outcome.model) else {
            self.stage = Stage::Done;
            return;
        };
        let mut failed = None;
        if !plain.done() {
            if let Err(e) = plain.step(&w) {
                failed = Some(e);
            }
        } else if !steered.done() {
            if let Err(e) = steered.step(&w) {
                failed = Some(e);
            }
        }
        let len = outcome.prefix.len();
        outcome.plain = plain.tokens()[len..].to_vec();
        outcome.steered = steered.tokens()[len..].to_vec();
        let finished = (plain.done() && steered.done()) || failed.is_some();
        if let Some(e) = failed {
            self.errors.push(format!("continuation: {e}"));
        }
        if finished {
            if let Some((_, _, outcome)) = self.continuation.take() {
                self.steer = Some(outcome);
            }
            self.stage = Stage::Done;
            self.finish_notes();
        }
    }

    /// The steering outcome so far (continuations fill in while they are generated).
    pub fn steer_outcome(&self) -> Option<&SteerOutcome> {
        self.steer
            .as_ref()
            .or_else(|| self.continuation.as_ref().map(|(_, _, o)| o))
    }

    fn finish_notes(&mut self) {
        let mut notes = Vec::new();
        let trained = self.analyses[0].as_ref();
        let random = self.analyses[1].as_ref();
        if let Some(r) = random {
            if let Some(mu) = r.summary.mean_u {
                if self.state.potential == Potential::Surprisal {
                    notes.push(random_surprisal_note(mu, r.summary.cv_u));
                }
            }
        }
        let norm_notes: Vec<String> = [trained, random]
            .into_iter()
            .flatten()
            .filter_map(|a| norm_share_note(a, self.state.hidden))
            .collect();
        notes.extend(norm_notes);
        notes.push(
            "h_{t+1} − h_t is not the motion of one state: consecutive positions read different input bytes, so K mixes the model's dynamics with the change of input.".into(),
        );
        // The variance ratio compares E with the two terms that enter it.
        let (ratio_name, kinetic_term) = match self.state.form {
            EnergyForm::Additive => ("Var(E)/(Var(K)+Var(U))", "K"),
            EnergyForm::Product => ("Var(E)/(Var(ln 2K)+Var(U))", "ln 2K"),
        };
        for a in [trained, random].into_iter().flatten() {
            if let (Some(cv), Some(p)) = (a.summary.cv_e, a.null.p_value) {
                notes.push(format!(
                    "{}: CV(E) = {cv:.4}; with K and U shuffled against each other{} CV(E) averages {} ({} of {} shuffles at or below the observed value). {} = {} (below 1 only if {} and U trade off).",
                    capitalise(model_title(a.model)),
                    if a.series.mass.is_fitted() {
                        " (m* fitted again on each shuffled pairing)"
                    } else {
                        ""
                    },
                    opt(a.null.cv_e_mean, 4),
                    (p * a.null.draws as f64).round() as usize,
                    a.null.draws,
                    ratio_name,
                    opt(a.summary.var_ratio, 3),
                    kinetic_term
                ));
            }
            if a.series.mass.fell_back {
                notes.push(match a.series.mass.fitted {
                    Some(m) => format!(
                        "{}: the fitted m* = {} is not a mass (a mass is positive; with it the kinetic term would be negative or, in the product form, ln m undefined): 1/d was used.",
                        capitalise(model_title(a.model)),
                        opt(Some(m), 4)
                    ),
                    None => format!(
                        "{}: m* could not be fitted (K₁ does not vary): 1/d was used.",
                        capitalise(model_title(a.model))
                    ),
                });
            }
            if a.series.dropped > 0 {
                notes.push(format!(
                    "{}: {} positions with K = 0 were dropped by the product form.",
                    capitalise(model_title(a.model)),
                    a.series.dropped
                ));
            }
        }
        if self.state.form == EnergyForm::Product
            && self.state.mass == td_transformer::energy::Mass::Fitted
        {
            notes.push("With the product form the mass only shifts E by the constant ln m: the spread of E, corr(K, U) and the variance ratio do not depend on it; CV(E) does, through the mean of E.".into());
        }
        match &self.models.trained {
            Trained::Loading(_) => notes.push(
                "The trained weights are still loading; its side fills in when they arrive.".into(),
            ),
            Trained::Failed(e) if !e.is_empty() => notes.push(format!(
                "The trained weights could not be loaded ({e}); only the random model is shown."
            )),
            _ => {}
        }
        if self.tokens.len() > CONTEXT {
            notes.push(format!(
                "{} bytes were analysed in {} windows of {CONTEXT} (the context); velocities across a window boundary are not used.",
                self.tokens.len(),
                windows(self.tokens.len()).len()
            ));
        }
        notes.append(&mut self.notes);
        self.notes = notes;
    }

    /// A one-paragraph text summary (for screen readers and the page's summary line).
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} bytes analysed.", self.tokens.len())];
        for a in self.analyses.iter().flatten() {
            parts.push(format!(
                "{}: mean K {}, mean U {}, mean E {}, CV(E) {} (shuffled null {}), corr(K,U) {}.",
                capitalise(model_title(a.model)),
                opt(a.summary.mean_k, 3),
                opt(a.summary.mean_u, 3),
                opt(a.summary.mean_e, 3),
                opt(a.summary.cv_e, 4),
                opt(a.null.cv_e_mean, 4),
                opt(a.summary.corr_ku, 3)
            ));
        }
        if let Some(s) = self.steer_outcome() {
            parts.push(format!(
                "Steering at position {} toward {}: ‖δ‖ = {:.4}, p from {:.4} to {:.4}, rank {} to {}.",
                s.position,
                byte_label(s.target),
                s.norm,
                s.old_log_p.exp(),
                s.new_log_p.exp(),
                s.old_rank,
                s.new_rank
            ));
        }
        parts.join(" ")
    }
}

/// The random model's surprisal note says "predicts almost uniformly" only where the mean
/// surprisal is within this fraction of ln 256 and CV(U) is at most [`FLAT_CV`].
pub const NEAR_UNIFORM: f64 = 0.05;
/// CV below which a term is called flat in the notes.
pub const FLAT_CV: f64 = 0.1;

fn random_surprisal_note(mean_u: f64, cv_u: Option<f64>) -> String {
    let ln256 = 256f64.ln();
    let near_uniform = (mean_u - ln256).abs() <= NEAR_UNIFORM * ln256;
    match cv_u {
        Some(cv) if near_uniform && cv <= FLAT_CV => format!(
            "Random model: mean surprisal {mean_u:.3} nats against ln 256 = {ln256:.3}: it predicts almost uniformly, so U hardly varies (CV(U) = {}) and a flat E needs no trade-off between K and U here.",
            opt(Some(cv), 3)
        ),
        _ => format!(
            "Random model: mean surprisal {mean_u:.3} nats against ln 256 = {ln256:.3} (uniform prediction), CV(U) = {}.",
            opt(cv_u, 3)
        ),
    }
}

/// Largest share of Σ‖h_{t+1} − h_t‖² made by changes of ‖h‖ for which a note calls K "mostly a
/// change of direction".
pub const DIRECTION_SHARE: f64 = 0.1;

/// The share of Σ‖h_{t+1} − h_t‖² (over the series' pairs) made by changes of the norm:
/// ‖b − a‖² = (‖b‖ − ‖a‖)² + 2‖a‖‖b‖(1 − cos θ), so the rest is change of direction.
pub fn norm_change_share(a: &Analysis) -> Option<f64> {
    let (mut norm_part, mut total) = (0.0, 0.0);
    for (&t, &speed) in a.series.t.iter().zip(&a.speed) {
        let (&before, &after) = (a.hidden_norm.get(t)?, a.hidden_norm.get(t + 1)?);
        norm_part += (after - before) * (after - before);
        total += speed * speed;
    }
    (total > 0.0).then(|| (norm_part / total).clamp(0.0, 1.0))
}

fn norm_share_note(a: &Analysis, hidden: HiddenState) -> Option<String> {
    let norms = &a.hidden_norm;
    let m = td_transformer::energy::mean(norms)?;
    let c = td_transformer::energy::cv(norms)?;
    let share = norm_change_share(a)?;
    let state = match hidden {
        HiddenState::PostNorm => "after the final norm",
        HiddenState::PreNorm => "before the final norm",
    };
    let reading = if share <= DIRECTION_SHARE {
        "so K is mostly a change of direction (a cosine distance scaled by the norms) between consecutive states"
    } else {
        "so K is not just a change of direction"
    };
    Some(format!(
        "{}: ‖h_t‖ {state} has mean {m:.2} and CV {c:.3}; changes of the norm make up {:.1} % of Σ‖h_{{t+1}} − h_t‖², {reading}.",
        capitalise(model_title(a.model)),
        100.0 * share
    ))
}

/// The text with its first letter upper-cased.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// A statistic with `digits` decimals, or "undefined".
pub fn opt(value: Option<f64>, digits: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "undefined".into(),
    }
}

/// The `count` most likely tokens, most likely first (lower index on ties).
pub fn top_tokens(log_probs: &[f64], count: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..log_probs.len()).collect();
    idx.sort_by(|&a, &b| {
        log_probs[b]
            .partial_cmp(&log_probs[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    idx.truncate(count);
    idx
}

/// What a steering request is about (see `Scene::steer_request`).
struct SteerRequest {
    /// The steered position in the text.
    position: usize,
    /// The target was suggested (the runner-up), not chosen.
    suggested: bool,
    target: u8,
    /// Log-probabilities at the position before steering.
    old_lp: Vec<f64>,
    /// The chosen model's window parts (the steered window is recomputed).
    parts: Vec<WindowParts>,
    /// The position's window: its index, first position, and the position inside it.
    win: usize,
    start: usize,
    local: usize,
    /// The window's tokens.
    tokens: Vec<u32>,
}

/// The perturbation that steers: the patch and how it is described.
struct Perturbation {
    patch: Patch,
    norm: f64,
    /// Δ form: old log p + Δ (first order).
    predicted: Option<f64>,
    /// "delta" or "margin".
    form: &'static str,
    /// Where the perturbation goes, in words.
    site: String,
}

/// Squared speeds and potentials of one window (global positions), skipping its first positions.
fn window_parts(
    fwd: &td_transformer::Forward,
    tokens: &[u32],
    start: usize,
    st: &State,
) -> WindowParts {
    let d = fwd.d;
    let h = fwd.hidden(st.hidden);
    let mut parts = WindowParts::default();
    for t in st.skip..fwd.n.saturating_sub(1) {
        let a = &h[t * d..(t + 1) * d];
        let b = &h[(t + 1) * d..(t + 2) * d];
        parts
            .speed2
            .push(a.iter().zip(b).map(|(x, y)| (y - x) * (y - x)).sum());
        parts.u.push(match st.potential {
            Potential::Surprisal => fwd.surprisal(t, tokens[t + 1]),
            Potential::Entropy => fwd.entropy(t),
        });
        parts.t.push(start + t);
    }
    parts
}

/// The series of all windows together (one fitted mass for the whole text), and ‖v_t‖ aligned
/// with the series' positions.
fn assemble(windows: &[WindowParts], d: usize, st: &State) -> (EnergySeries, Vec<f64>) {
    let t: Vec<usize> = windows.iter().flat_map(|w| w.t.iter().copied()).collect();
    let speed2: Vec<f64> = windows
        .iter()
        .flat_map(|w| w.speed2.iter().copied())
        .collect();
    let u: Vec<f64> = windows.iter().flat_map(|w| w.u.iter().copied()).collect();
    let series = series_from_parts(&t, &speed2, &u, d, st.mass, st.form);
    let mut speed = Vec::with_capacity(series.t.len());
    let mut j = 0;
    for &ts in &series.t {
        while j < t.len() && t[j] != ts {
            j += 1;
        }
        speed.push(speed2.get(j).map_or(0.0, |v| v.sqrt()));
    }
    (series, speed)
}

// ---------------------------------------------------------------- computed in a worker

fn write_opt(w: &mut Writer, v: Option<f64>) {
    w.opt_f64(v);
}

fn write_series(w: &mut Writer, s: &EnergySeries) {
    w.usizes(&s.t).f64s(&s.k).f64s(&s.u).f64s(&s.e);
    w.f64(s.mass.value)
        .opt_f64(s.mass.fitted)
        .bool(s.mass.fell_back)
        .f64(s.mass.inv_d);
    w.usize(s.dropped);
}

fn read_series(r: &mut Reader) -> codec::Result<EnergySeries> {
    Ok(EnergySeries {
        t: r.usizes()?,
        k: r.f64s()?,
        u: r.f64s()?,
        e: r.f64s()?,
        mass: td_transformer::energy::MassUsed {
            value: r.f64()?,
            fitted: r.opt_f64()?,
            fell_back: r.bool()?,
            inv_d: r.f64()?,
        },
        dropped: r.usize()?,
    })
}

fn write_summary(w: &mut Writer, s: &EnergySummary) {
    w.usize(s.count);
    for v in [
        s.mean_k,
        s.mean_u,
        s.mean_e,
        s.cv_e,
        s.cv_k,
        s.cv_u,
        s.drift_slope,
        s.corr_ku,
        s.var_ratio,
    ] {
        write_opt(w, v);
    }
}

fn read_summary(r: &mut Reader) -> codec::Result<EnergySummary> {
    Ok(EnergySummary {
        count: r.usize()?,
        mean_k: r.opt_f64()?,
        mean_u: r.opt_f64()?,
        mean_e: r.opt_f64()?,
        cv_e: r.opt_f64()?,
        cv_k: r.opt_f64()?,
        cv_u: r.opt_f64()?,
        drift_slope: r.opt_f64()?,
        corr_ku: r.opt_f64()?,
        var_ratio: r.opt_f64()?,
    })
}

fn write_analysis(w: &mut Writer, a: &Analysis) {
    w.u8(model_index(a.model) as u8)
        .f64s(&a.log_probs)
        .f64s(&a.hidden_norm);
    write_series(w, &a.series);
    w.f64s(&a.speed);
    write_summary(w, &a.summary);
    w.usize(a.null.draws)
        .opt_f64(a.null.cv_e_mean)
        .opt_f64(a.null.p_value)
        .opt_f64(a.null.cv_e_independent);
}

fn read_analysis(r: &mut Reader) -> codec::Result<Analysis> {
    Ok(Analysis {
        model: model_of(usize::from(r.u8()?)),
        log_probs: r.f64s()?,
        hidden_norm: r.f64s()?,
        windows: Vec::new(),
        series: read_series(r)?,
        speed: r.f64s()?,
        summary: read_summary(r)?,
        null: DecoupledNull {
            draws: r.usize()?,
            cv_e_mean: r.opt_f64()?,
            p_value: r.opt_f64()?,
            cv_e_independent: r.opt_f64()?,
        },
    })
}

fn write_outcome(w: &mut Writer, o: &SteerOutcome) {
    w.u8(model_index(o.model) as u8)
        .usize(o.position)
        .u8(o.target)
        .bool(o.suggested)
        .str(&o.site)
        .bool(o.form == "margin")
        .f64(o.norm)
        .f64(o.old_log_p)
        .f64(o.new_log_p)
        .opt_f64(o.predicted_log_p)
        .usize(o.old_rank)
        .usize(o.new_rank)
        .u8(o.old_top)
        .u8(o.new_top)
        .f64s(&o.log_probs);
    write_series(w, &o.series);
    write_summary(w, &o.summary);
    w.u32s(&o.prefix)
        .u32s(&o.plain)
        .u32s(&o.steered)
        .usize(o.n_new);
}

fn read_outcome(r: &mut Reader) -> codec::Result<SteerOutcome> {
    Ok(SteerOutcome {
        model: model_of(usize::from(r.u8()?)),
        position: r.usize()?,
        target: r.u8()?,
        suggested: r.bool()?,
        site: r.string()?,
        form: if r.bool()? { "margin" } else { "delta" },
        norm: r.f64()?,
        old_log_p: r.f64()?,
        new_log_p: r.f64()?,
        predicted_log_p: r.opt_f64()?,
        old_rank: r.usize()?,
        new_rank: r.usize()?,
        old_top: r.u8()?,
        new_top: r.u8()?,
        log_probs: r.f64s()?,
        series: read_series(r)?,
        summary: read_summary(r)?,
        prefix: r.u32s()?,
        plain: r.u32s()?,
        steered: r.u32s()?,
        n_new: r.usize()?,
    })
}

impl Scene {
    /// What the page's copy of this scene needs of what was computed (a worker computes; the
    /// page paints): the tokens, each model's analysis once complete, the steering outcome, the
    /// notes. `shipped` remembers which analyses were sent.
    pub fn progress_since(&self, shipped: &mut Vec<usize>) -> Vec<u8> {
        shipped.resize(2, 0);
        let mut w = Writer::new();
        w.usize(self.units_done)
            .bool(self.is_done())
            .u8(model_index(self.model) as u8)
            .u32s(&self.tokens)
            .opt_usize(self.prompt_len);
        for (analysis, sent) in self.analyses.iter().zip(shipped.iter_mut()) {
            let send = analysis.is_some() && *sent == 0;
            w.bool(send);
            if let (true, Some(a)) = (send, analysis) {
                write_analysis(&mut w, a);
                *sent = 1;
            }
        }
        let outcome = self.steer_outcome();
        w.bool(outcome.is_some());
        if let Some(o) = outcome {
            write_outcome(&mut w, o);
        }
        for list in [&self.notes, &self.errors] {
            w.usize(list.len());
            for text in list {
                w.str(text);
            }
        }
        w.into_bytes()
    }

    /// Takes over what [`Scene::progress_since`] sent from a worker's copy of the same scene.
    pub fn apply_progress(&mut self, bytes: &[u8]) -> codec::Result<()> {
        let mut r = Reader::new(bytes);
        self.units_done = r.usize()?;
        let done = r.bool()?;
        self.model = model_of(usize::from(r.u8()?));
        self.tokens = r.u32s()?;
        self.prompt_len = r.opt_usize()?;
        for index in 0..2 {
            if r.bool()? {
                self.analyses[index] = Some(read_analysis(&mut r)?);
            }
        }
        self.steer = if r.bool()? {
            Some(read_outcome(&mut r)?)
        } else {
            None
        };
        self.continuation = None;
        self.notes = (0..r.usize()?)
            .map(|_| r.string())
            .collect::<codec::Result<_>>()?;
        self.errors = (0..r.usize()?)
            .map(|_| r.string())
            .collect::<codec::Result<_>>()?;
        if done {
            self.stage = Stage::Done;
            self.generator = None;
        }
        Ok(())
    }
}
