//! The energy lab's page: state <-> controls <-> URL, the trained weights downloaded on demand
//! with progress, progressive computation (one forward pass per slice), the token strip (hover a
//! byte to see its next-byte distribution, click to choose it), the statistics table with its
//! nulls, and the steering panel.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Event, HtmlCanvasElement, MouseEvent, ProgressEvent, XmlHttpRequest};

use super::app::{paint, set_canvas_size};
use super::controls;
use super::dom::{self, by_id, by_id_as, make, set_attr, set_text};
use super::embed;
use super::explorer::{CanvasArea, Explorer, FigureInfo, TextPanel};
use super::shell::{self, Chrome, LinkSpec};
use td_core::page::PageOptions;
use td_core::url::format_number;
use td_energy::draw;
use td_energy::params::{self, byte_label, Message, State, SteerMode, PARAMS};
use td_energy::presets::PRESETS;
use td_energy::scene::{model_title, opt, top_tokens, Models, Scene, Trained};
use td_energy::svg::{draw_figure, render_svg, Figure};
use td_transformer::{format, Config, Weights};

/// Compute budget inside the event that changed the state, then per animation frame (ms).
const SYNC_MS: f64 = 12.0;
const CHUNK_MS: f64 = 12.0;
const PLAY_MS: f64 = 8000.0;
/// Where the page finds the trained weights (relative to the page).
const WEIGHTS_URL: &str = "models/trained.tdgpt";
const EMBED_STRIP: &[&str] = &["mass", "form", "U", "at"];

static FIGURES: &[FigureInfo] = &[
    FigureInfo {
        name: "series",
        label: "K, U, E per position",
        wrap_id: "series-wrap",
        canvas_ids: &["series-canvas"],
        aspect: 0.4,
        min_height: 220.0,
        max_height: 420.0,
    },
    FigureInfo {
        name: "phase",
        label: "phase portrait",
        wrap_id: "phase-wrap",
        canvas_ids: &["phase-canvas"],
        aspect: 0.42,
        min_height: 220.0,
        max_height: 440.0,
    },
    FigureInfo {
        name: "scatter",
        label: "ΔK against ΔU",
        wrap_id: "scatter-wrap",
        canvas_ids: &["scatter-canvas"],
        aspect: 0.62,
        min_height: 220.0,
        max_height: 440.0,
    },
    FigureInfo {
        name: "dist",
        label: "next-byte distribution",
        wrap_id: "dist-wrap",
        canvas_ids: &["dist-canvas"],
        aspect: 0.5,
        min_height: 200.0,
        max_height: 360.0,
    },
];

static TEXT_PANELS: &[TextPanel] = &[
    TextPanel {
        name: "tokens",
        id: "tokens-panel",
    },
    TextPanel {
        name: "stats",
        id: "stats-panel",
    },
    TextPanel {
        name: "steering",
        id: "steering-panel",
    },
    TextPanel {
        name: "notes",
        id: "notes-panel",
    },
];

static LINKS: LinkSpec<State> = LinkSpec {
    panels: params::PANELS,
    control_keys: params::control_keys,
    from_hash: params::from_hash,
    apply_pairs: params::apply_pairs,
    normalise: params::normalise,
    figures: FIGURES,
    text_panels: TEXT_PANELS,
};

pub struct App {
    pub state: State,
    pub scene: Scene,
    models: Models,
    /// The random model's seed (rebuilt when it changes).
    random_seed: u64,
    chrome: Chrome,
    /// Position previewed by the pointer (not in the link).
    hover: Option<usize>,
    /// Token strip drawn for these tokens (rebuilt only when they change).
    strip_tokens: Vec<u32>,
    /// Seconds the weights took to arrive, and their size.
    pub weights_info: Option<(f64, f64)>,
}

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

pub fn is_running() -> bool {
    APP.with(|cell| cell.try_borrow().map(|a| a.is_some()).unwrap_or(true))
}

pub fn with_app<R>(f: impl FnOnce(&mut App) -> R) -> Option<R> {
    APP.with(|cell| match cell.try_borrow_mut() {
        Ok(mut guard) => guard.as_mut().map(f),
        Err(_) => None,
    })
}

fn random_model(seed: u64) -> Rc<Weights> {
    Rc::new(Weights::random(Config::default(), seed).expect("the default config is valid"))
}

pub fn start() {
    let groups: Vec<_> = params::Group::ALL.iter().map(|g| (*g, g.title())).collect();
    controls::build(PARAMS, &groups, params::Group::Playback, |_| None);
    controls::use_textareas(params::TEXTAREAS);
    shell::build_presets(PRESETS);
    let hash = dom::window().location().hash().unwrap_or_default();
    let mut chrome = Chrome::new(PageOptions::default());
    let (state, messages) = chrome.read_link(&LINKS, &hash);
    let models = Models {
        trained: Trained::Loading(None),
        random: random_model(state.seed),
    };
    let scene = Scene::new(state.clone(), &models);
    APP.with(|cell| {
        *cell.borrow_mut() = Some(App {
            random_seed: state.seed,
            state,
            scene,
            models,
            chrome,
            hover: None,
            strip_tokens: Vec::new(),
            weights_info: None,
        })
    });
    wire_events();
    with_app(|app| {
        let state = app.state.clone();
        app.apply_state(state, messages, true);
    });
    load_weights();
}

/// Downloads the trained weights with progress events (XMLHttpRequest: no futures needed).
fn load_weights() {
    let Ok(request) = XmlHttpRequest::new() else {
        weights_failed("this browser cannot download files".into());
        return;
    };
    if request.open("GET", WEIGHTS_URL).is_err() {
        weights_failed("the weights address was refused".into());
        return;
    }
    request.set_response_type(web_sys::XmlHttpRequestResponseType::Arraybuffer);
    let started = dom::now_ms();
    dom::listen::<ProgressEvent>(&request, "progress", |event| {
        let fraction = (event.length_computable() && event.total() > 0.0)
            .then(|| event.loaded() / event.total());
        with_app(|app| app.weights_progress(fraction, event.loaded()));
    });
    let req = request.clone();
    dom::listen::<Event>(&request, "load", move |_| {
        let status = req.status().unwrap_or(0);
        if !(200..300).contains(&status) && status != 0 {
            weights_failed(format!("HTTP {status} for {WEIGHTS_URL}"));
            return;
        }
        let Ok(buffer) = req.response() else {
            weights_failed("no response body".into());
            return;
        };
        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
        match format::read_weights(&bytes) {
            Ok((w, _)) => {
                let seconds = (dom::now_ms() - started) / 1000.0;
                with_app(|app| app.weights_ready(w, seconds, bytes.len() as f64));
            }
            Err(e) => weights_failed(format!("{WEIGHTS_URL}: {e}")),
        }
    });
    dom::listen::<Event>(&request, "error", |_| {
        weights_failed(format!(
            "{WEIGHTS_URL} could not be downloaded (opened from a file, or offline?)"
        ))
    });
    if request.send().is_err() {
        weights_failed("the download could not start".into());
    }
}

fn weights_failed(reason: String) {
    with_app(|app| {
        app.models.trained = Trained::Failed(reason.clone());
        set_text(
            "model-status",
            &format!("Trained weights not loaded: {reason}"),
        );
        if let Some(bar) = by_id("model-progress") {
            set_attr(&bar, "hidden", "");
        }
        app.chrome.messages.push(Message::new(
            "model",
            format!(
                "the trained weights could not be loaded ({reason}); the random model stands in"
            ),
        ));
        shell::show_messages(&app.chrome.messages);
        app.rebuild_scene();
    });
}

impl App {
    fn weights_progress(&mut self, fraction: Option<f64>, loaded: f64) {
        self.models.trained = Trained::Loading(fraction);
        if let Some(bar) = by_id("model-progress") {
            let _ = bar.remove_attribute("hidden");
            if let Some(f) = fraction {
                set_attr(&bar, "value", &format!("{f:.3}"));
            }
        }
        set_text(
            "model-status",
            &format!(
                "Loading the trained weights: {:.1} MB{}",
                loaded / 1e6,
                fraction.map_or(String::new(), |f| format!(" ({:.0}%)", f * 100.0))
            ),
        );
        // The trained panels show the progress too.
        let start = dom::now_ms();
        self.scene_models_sync();
        self.paint_figures();
        self.chrome.last_paint_ms = dom::now_ms() - start;
    }

    /// Shares the current model status with the scene without recomputing (progress text only).
    fn scene_models_sync(&mut self) {
        if !self.scene.is_done() || self.scene.waiting_for_weights() {
            self.scene.set_trained_status(self.models.trained.clone());
        }
    }

    fn weights_ready(&mut self, w: Weights, seconds: f64, size: f64) {
        self.models.trained = Trained::Ready(Rc::new(w));
        self.weights_info = Some((seconds, size));
        if let Some(bar) = by_id("model-progress") {
            set_attr(&bar, "hidden", "");
        }
        set_text(
            "model-status",
            &format!(
                "Trained weights loaded ({:.2} MB in {:.2} s).",
                size / 1e6,
                seconds
            ),
        );
        if let Some(body) = dom::document().body() {
            set_attr(&body, "data-model", "loaded");
        }
        self.rebuild_scene();
    }

    fn apply_state(&mut self, state: State, messages: Vec<Message>, replace_messages: bool) {
        let recompute = !self.chrome.ready
            || computation_key(&state) != computation_key(&self.scene.state)
            || state.seed != self.random_seed;
        self.state = state;
        let t0 = dom::now_ms();
        let page_changed = self.chrome.begin_apply(&LINKS, messages, replace_messages);
        let page = &self.chrome.page;
        controls::sync(PARAMS, &self.state, &|param| {
            (param.relevant)(&self.state)
                && embed::control_shown(page, param.key, params::controlled_by, EMBED_STRIP)
        });
        self.update_open_link();
        self.chrome.timings.push(("controls", dom::now_ms() - t0));
        if !self.chrome.ready || page_changed {
            self.layout_canvases();
        }
        if recompute {
            self.rebuild_scene();
        } else {
            self.scene.state = self.state.clone();
            let start = dom::now_ms();
            self.render_all();
            self.chrome.last_paint_ms = dom::now_ms() - start;
        }
        shell::schedule_url();
    }

    fn update_open_link(&self) {
        if self.chrome.page.embed {
            embed::update_open_link(
                params::EXPLORER,
                params::to_pairs(&self.state),
                &self.chrome.page,
            );
        }
    }

    fn rebuild_scene(&mut self) {
        self.chrome.generation += 1;
        if self.state.seed != self.random_seed {
            self.models.random = random_model(self.state.seed);
            self.random_seed = self.state.seed;
        }
        let start = dom::now_ms();
        self.scene = Scene::new(self.state.clone(), &self.models);
        let mut done = self.scene.is_done();
        while !done && !self.scene.waiting_for_weights() && dom::now_ms() - start < SYNC_MS {
            done = self.scene.advance(1);
        }
        self.chrome.timings.push(("compute", dom::now_ms() - start));
        self.render_all();
        self.chrome.last_paint_ms = dom::now_ms() - start;
        self.set_busy(!done);
        if !done {
            let generation = self.chrome.generation;
            dom::request_frame(move |_| compute_chunk(generation));
        }
    }

    fn set_busy(&self, busy: bool) {
        shell::set_busy(busy, self.scene.progress());
    }

    fn mark_ready(&mut self) {
        if self.chrome.mark_ready() {
            embed::on_ready(self);
            if self.chrome.autoplay_due() {
                self.toggle_play();
            }
        }
    }

    fn layout_canvases(&self) -> bool {
        if self.chrome.page.embed {
            return embed::layout(FIGURES, &|_| 1, &self.chrome.page);
        }
        let mut changed = false;
        for figure in FIGURES {
            if let Some(canvas) = by_id_as::<HtmlCanvasElement>(figure.canvas_ids[0]) {
                let width = canvas
                    .parent_element()
                    .map(|p| p.client_width() as f64)
                    .unwrap_or(600.0)
                    .max(200.0);
                let two_rows = (figure.name == "series" || figure.name == "phase") && width < 600.0;
                let height = if two_rows {
                    (width * 1.3).clamp(360.0, 720.0)
                } else {
                    (width * figure.aspect).clamp(figure.min_height, figure.max_height)
                };
                changed |= set_canvas_size(&canvas, width, height.round());
            }
        }
        changed
    }

    fn relayout(&mut self, force_paint: bool) {
        if self.layout_canvases() || force_paint {
            self.render_all();
        }
    }

    fn render_all(&mut self) {
        let start = dom::now_ms();
        self.paint_figures();
        let t1 = dom::now_ms();
        self.render_text();
        self.chrome.timings.push(("text", dom::now_ms() - t1));
        self.chrome.last_paint_ms = dom::now_ms() - start;
        if self.scene.is_done() {
            self.mark_ready();
        }
    }

    fn paint_figures(&mut self) {
        let scale = dom::device_pixel_ratio();
        let at = self.state.at;
        let t0 = dom::now_ms();
        for figure in Figure::ALL {
            if figure == Figure::Dist {
                continue;
            }
            let id = format!("{}-canvas", figure.name());
            if let Some(canvas) = by_id_as::<HtmlCanvasElement>(&id) {
                paint(&canvas, |area| {
                    draw_figure(area, &self.scene, figure, at, scale)
                });
            }
        }
        self.paint_distribution();
        self.chrome.timings.push(("paint", dom::now_ms() - t0));
    }

    fn paint_distribution(&self) {
        let scale = dom::device_pixel_ratio();
        if let Some(canvas) = by_id_as::<HtmlCanvasElement>("dist-canvas") {
            paint(&canvas, |area| {
                draw::draw_distribution(area, &self.scene, self.hover, scale)
            });
        }
        self.update_next_token_link();
    }

    /// The "open in the next-token explorer" link for the inspected (or hovered) position.
    fn update_next_token_link(&self) {
        let Some(link) = by_id("open-next-token") else {
            return;
        };
        let t = self.hover.unwrap_or_else(|| self.scene.position());
        match self.scene.chosen().and_then(|a| a.log_probs_at(t)) {
            Some(lp) => {
                let _ = link.remove_attribute("hidden");
                set_attr(&link, "href", &next_token_link(lp));
                link.set_text_content(Some(&format!(
                    "Open position {t}'s next-byte logits in the next-token explorer ↗"
                )));
            }
            None => set_attr(&link, "hidden", ""),
        }
    }

    fn render_text(&mut self) {
        self.render_strip();
        self.render_stats();
        self.render_steering();
        if let Some(list) = by_id("notes") {
            dom::clear(&list);
            for note in self.scene.notes.iter().chain(&self.scene.errors) {
                let _ = list.append_child(&make("li", "", Some(note)));
            }
        }
        set_text("summary", &self.scene.summary());
        for figure in FIGURES {
            if let Some(canvas) = by_id(figure.canvas_ids[0]) {
                set_attr(
                    &canvas,
                    "aria-label",
                    &format!(
                        "{} for {} bytes, trained and random model. The statistics table and summary below give the numbers.",
                        figure.label,
                        self.scene.tokens.len()
                    ),
                );
            }
        }
    }

    /// The token strip: one span per byte, shaded by its surprisal under the chosen model.
    fn render_strip(&mut self) {
        let Some(strip) = by_id("tokens") else { return };
        let surprisal: Vec<f64> = match self.scene.chosen() {
            Some(a) => (0..self.scene.tokens.len())
                .map(|t| {
                    t.checked_sub(1)
                        .and_then(|prev| a.log_probs_at(prev))
                        .map_or(f64::NAN, |lp| -lp[self.scene.tokens[t] as usize])
                })
                .collect(),
            None => vec![f64::NAN; self.scene.tokens.len()],
        };
        if self.strip_tokens != self.scene.tokens || strip.child_element_count() == 0 {
            dom::clear(&strip);
            for (t, &b) in self.scene.tokens.iter().enumerate() {
                let text = match b as u8 {
                    b'\n' => "⏎".to_string(),
                    b' ' => " ".to_string(),
                    b if b.is_ascii_graphic() => (b as char).to_string(),
                    b => format!("\\x{b:02X}"),
                };
                let span = make("span", "tok", Some(&text));
                set_attr(&span, "data-t", &t.to_string());
                let _ = strip.append_child(&span);
            }
            self.strip_tokens = self.scene.tokens.clone();
        }
        let position = self.scene.position();
        let prompt = self.scene.prompt_len;
        let children = strip.children();
        for t in 0..children.length() {
            let Some(span) = children.item(t) else {
                continue;
            };
            let t = t as usize;
            let s = surprisal.get(t).copied().unwrap_or(f64::NAN);
            let level = if s.is_finite() {
                ((s / 8.0).clamp(0.0, 1.0) * 4.0).round() as usize
            } else {
                0
            };
            let mut class = format!("tok s{level}");
            if t == position {
                class.push_str(" at");
            }
            if prompt.is_some_and(|p| t >= p) {
                class.push_str(" gen");
            }
            set_attr(&span, "class", &class);
            set_attr(
                &span,
                "title",
                &if s.is_finite() {
                    format!("position {t}: surprisal {s:.3} nats")
                } else {
                    format!("position {t}")
                },
            );
        }
        set_text(
            "tokens-caption",
            &format!(
                "{} bytes{}. Shade = surprisal under the {} (darker = more surprising). Hover a byte to see what the model expected next; click to inspect and steer there (←/→ move along the text).",
                self.scene.tokens.len(),
                prompt.map_or(String::new(), |p| format!(" ({p} of prompt, the rest generated)")),
                model_title(self.scene.model)
            ),
        );
    }

    fn render_stats(&self) {
        let Some(table) = by_id("stats") else { return };
        dom::clear(&table);
        let head = make("tr", "", None);
        for text in [
            "statistic",
            "trained",
            "random",
            "what it would be without coupling",
        ] {
            let _ = head.append_child(&make("th", "", Some(text)));
        }
        let thead = make("thead", "", None);
        let _ = thead.append_child(&head);
        let _ = table.append_child(&thead);
        let body = make("tbody", "", None);
        let models = [&self.scene.analyses[0], &self.scene.analyses[1]];
        let cell = |f: &dyn Fn(&td_energy::scene::Analysis) -> String, i: usize| {
            models[i].as_ref().map_or("—".to_string(), f)
        };
        type Row<'a> = (
            &'a str,
            Box<dyn Fn(&td_energy::scene::Analysis) -> String>,
            Box<dyn Fn(&td_energy::scene::Analysis) -> String>,
        );
        let rows: Vec<Row> = vec![
            (
                "CV(E) — the headline",
                Box::new(|a| opt(a.summary.cv_e, 4)),
                Box::new(|a| {
                    format!(
                        "shuffled U against K: {} (p = {}); if independent: {}",
                        opt(a.null.cv_e_mean, 4),
                        opt(a.null.p_value, 3),
                        opt(a.null.cv_e_independent, 4)
                    )
                }),
            ),
            (
                "CV(K)",
                Box::new(|a| opt(a.summary.cv_k, 4)),
                Box::new(|_| "each term's own spread: a flat term makes E flat by itself".into()),
            ),
            (
                "CV(U)",
                Box::new(|a| opt(a.summary.cv_u, 4)),
                Box::new(|_| "random model: U ≈ ln 256 = 5.545 at every byte".into()),
            ),
            (
                "corr(K, U)",
                Box::new(|a| opt(a.summary.corr_ku, 3)),
                Box::new(|_| "0; a trade-off needs it negative".into()),
            ),
            (
                "Var(E) / (Var(K)+Var(U))",
                Box::new(|a| opt(a.summary.var_ratio, 3)),
                Box::new(|_| "1; below 1 only if K and U trade off".into()),
            ),
            (
                "drift slope of E (per byte)",
                Box::new(|a| opt(a.summary.drift_slope, 5)),
                Box::new(|_| "0 for a conserved E".into()),
            ),
            (
                "mean K · mean U · mean E",
                Box::new(|a| {
                    format!(
                        "{} · {} · {}",
                        opt(a.summary.mean_k, 3),
                        opt(a.summary.mean_u, 3),
                        opt(a.summary.mean_e, 3)
                    )
                }),
                Box::new(|_| "nats".into()),
            ),
            (
                "mass m used",
                Box::new(|a| {
                    let m = a.series.mass;
                    format!(
                        "{}{}",
                        format_number((m.value * 1e6).round() / 1e6),
                        if m.fell_back {
                            " (fit unusable: 1/d)"
                        } else {
                            ""
                        }
                    )
                }),
                Box::new(|_| "our assumption (switch above)".into()),
            ),
            (
                "points",
                Box::new(|a| a.summary.count.to_string()),
                Box::new(|_| String::new()),
            ),
        ];
        for (name, value, null) in &rows {
            let tr = make("tr", "", None);
            let _ = tr.append_child(&make("th", "", Some(name)));
            for i in 0..2 {
                let _ = tr.append_child(&make("td", "num", Some(&cell(value.as_ref(), i))));
            }
            let explanation = models
                .iter()
                .flat_map(|m| m.as_ref())
                .next()
                .map_or(String::new(), null);
            let explanation = if name.starts_with("CV(E)") {
                models
                    .iter()
                    .zip(["trained", "random"])
                    .filter_map(|(m, label)| m.as_ref().map(|a| format!("{label}: {}", null(a))))
                    .collect::<Vec<_>>()
                    .join(" · ")
            } else {
                explanation
            };
            let _ = tr.append_child(&make("td", "null", Some(&explanation)));
            let _ = body.append_child(&tr);
        }
        let _ = table.append_child(&body);
    }

    fn render_steering(&self) {
        let Some(root) = by_id("steering") else {
            return;
        };
        dom::clear(&root);
        if self.state.steer == SteerMode::Off {
            let _ = root.append_child(&make(
                "p",
                "help-text",
                Some("Steering is off. Choose the Δ or margin form under Jacobian steering, pick a position in the text and a target byte (or let the page suggest the runner-up)."),
            ));
            if let Some(b) = self.scene.suggested_target(self.scene.position()) {
                let _ = root.append_child(&make(
                    "p",
                    "",
                    Some(&format!(
                        "Suggested target at position {}: {} (the runner-up).",
                        self.scene.position(),
                        byte_label(b)
                    )),
                ));
            }
            return;
        }
        let Some(s) = self.scene.steer_outcome() else {
            let _ = root.append_child(&make(
                "p",
                "",
                Some(&format!("computing… {:.0}%", self.scene.progress() * 100.0)),
            ));
            return;
        };
        let dl = make("dl", "", None);
        let mut rows = vec![
            (
                "where",
                format!(
                    "position {} of the {}, {} ({} form)",
                    s.position,
                    model_title(s.model),
                    s.site,
                    if s.form == "margin" { "margin" } else { "Δ" }
                ),
            ),
            (
                "target",
                format!(
                    "{}{}",
                    byte_label(s.target),
                    if s.suggested {
                        " (suggested: the runner-up)"
                    } else {
                        ""
                    }
                ),
            ),
            ("‖δ‖", format!("{:.5}", s.norm)),
            (
                "p(target)",
                format!(
                    "{:.5} → {:.5} (log p {:.4} → {:.4})",
                    s.old_log_p.exp(),
                    s.new_log_p.exp(),
                    s.old_log_p,
                    s.new_log_p
                ),
            ),
            (
                "rank of the target",
                format!("{} → {}", s.old_rank, s.new_rank),
            ),
            (
                "top byte",
                format!("{} → {}", byte_label(s.old_top), byte_label(s.new_top)),
            ),
        ];
        if let Some(pred) = s.predicted_log_p {
            let requested = pred - s.old_log_p;
            let realised = s.new_log_p - s.old_log_p;
            rows.push((
                "Δ log p requested / realised",
                format!(
                    "{requested:.4} / {realised:.4}{}",
                    if requested != 0.0 {
                        format!(" ({:.1}%)", 100.0 * realised / requested)
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        rows.push((
            "CV(E) without / with steering",
            format!(
                "{} / {}",
                opt(self.scene.chosen().and_then(|a| a.summary.cv_e), 5),
                opt(s.summary.cv_e, 5)
            ),
        ));
        for (name, value) in rows {
            let _ = dl.append_child(&make("dt", "", Some(name)));
            let _ = dl.append_child(&make("dd", "", Some(&value)));
        }
        let _ = root.append_child(&dl);
        let text = |tokens: &[u32]| {
            let bytes: Vec<u8> = tokens.iter().map(|&t| t as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let tail_start = s.prefix.len().saturating_sub(40);
        let prefix = text(&s.prefix[tail_start..]);
        for (label, id, tokens) in [
            ("without steering", "continuation-plain", &s.plain),
            ("with steering", "continuation-steered", &s.steered),
        ] {
            let p = make("p", "continuation", None);
            let _ = p.append_child(&make("strong", "", Some(&format!("{label}: "))));
            let _ = p.append_child(&make("span", "prefix", Some(&format!("…{prefix}"))));
            let generated = make("mark", "", Some(&text(tokens)));
            set_attr(&generated, "id", id);
            let _ = p.append_child(&generated);
            let _ = root.append_child(&p);
        }
        if s.plain == s.steered && !s.plain.is_empty() && self.scene.is_done() {
            let _ = root.append_child(&make(
                "p",
                "",
                Some(&format!(
                    "The continuations agree: the first byte is drawn from the steered distribution (p(target) = {:.3}), and this draw landed on the same byte as without steering, so the rest follows identically. Try another sampling seed, or T = 0.",
                    s.new_log_p.exp()
                )),
            ));
        }
        let _ = root.append_child(&make(
            "p",
            "help-text",
            Some(&format!(
                "Both continuations: {} bytes, same sampler and seed (T = {}, top-k {}, top-p {}, seed {}).",
                s.n_new,
                format_number(self.state.temperature),
                self.state.top_k,
                format_number(self.state.top_p),
                self.state.gseed
            )),
        ));
    }

    fn write_url(&self) {
        shell::replace_hash(&self.full_hash());
        self.update_open_link();
    }

    fn set_at(&mut self, at: f64) {
        self.state.at = at.clamp(0.0, 1.0);
        self.scene.state.at = self.state.at;
        if let Some(input) = by_id_as::<web_sys::HtmlInputElement>("ctl-at") {
            input.set_value(&format!("{}", self.state.at));
        }
        if let Some(input) = by_id_as::<web_sys::HtmlInputElement>("ctl-at-num") {
            input.set_value(&format_number(self.state.at));
        }
        set_text("ctl-at-out", &format_number(self.state.at));
        let start = dom::now_ms();
        self.paint_figures();
        self.chrome.last_paint_ms = dom::now_ms() - start;
    }

    fn toggle_play(&mut self) {
        self.state.at = self.chrome.playback.toggle(self.state.at);
        self.scene.state.at = self.state.at;
        if !self.chrome.playback.playing {
            shell::schedule_url();
        }
    }

    fn edit_pairs(&mut self, pairs: &[(String, String)]) -> Vec<Message> {
        let (state, messages, start_playing) = self.chrome.edit(&LINKS, &self.state, pairs);
        if start_playing {
            self.toggle_play();
        }
        self.apply_state(state, messages.clone(), false);
        messages
    }

    fn set_hover(&mut self, hover: Option<usize>) {
        if self.hover != hover {
            self.hover = hover;
            self.paint_distribution();
        }
    }

    fn on_key_impl(&mut self, key: &str) -> bool {
        match key {
            "ArrowLeft" | "ArrowRight" => {
                let n = self.scene.tokens.len();
                if n == 0 {
                    return false;
                }
                let p = self.scene.position() as i64 + if key == "ArrowLeft" { -1 } else { 1 };
                let p = p.clamp(0, n as i64 - 1);
                self.edit_pairs(&[("pos".to_string(), p.to_string())]);
            }
            " " | "k" => self.toggle_play(),
            _ => return false,
        }
        true
    }
}

/// The link of a next-token flow whose logits are this position's (all 256 bytes, log-probs
/// rounded to 4 decimals; the three most likely bytes are the simplex corners).
pub fn next_token_link(log_probs: &[f64]) -> String {
    let s: Vec<String> = log_probs
        .iter()
        .map(|v| format_number((v.max(-1e4) * 1e4).round() / 1e4))
        .collect();
    let labels: Vec<String> = (0..log_probs.len())
        .map(|b| byte_label(b as u8).replace(',', "comma"))
        .collect();
    let corners = top_tokens(log_probs, 3);
    let pairs = vec![
        ("v".to_string(), "1".to_string()),
        ("s".to_string(), s.join(",")),
        ("labels".to_string(), labels.join(",")),
        (
            "corners".to_string(),
            corners
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    ];
    format!(
        "index.html{}",
        td_core::url::join_hash(td_next_token::params::EXPLORER, &pairs)
    )
}

/// The state with view-only settings at their defaults (same key: repaint, no recompute).
fn computation_key(state: &State) -> State {
    let defaults = State::default();
    State {
        at: defaults.at,
        speed: defaults.speed,
        ..state.clone()
    }
}

fn compute_chunk(generation: u64) {
    let again = with_app(|app| {
        if app.chrome.generation != generation {
            return false;
        }
        let start = dom::now_ms();
        let mut done = app.scene.is_done();
        while !done && !app.scene.waiting_for_weights() && dom::now_ms() - start < CHUNK_MS {
            done = app.scene.advance(1);
        }
        app.set_busy(!done);
        app.render_all();
        !done && !app.scene.waiting_for_weights()
    })
    .unwrap_or(false);
    if again {
        dom::request_frame(move |_| compute_chunk(generation));
    }
}

fn strip_position(event: &MouseEvent) -> Option<usize> {
    let target = event.target()?.dyn_into::<web_sys::Element>().ok()?;
    target.get_attribute("data-t")?.parse().ok()
}

fn wire_events() {
    controls::wire();
    shell::wire(params::EXPLORER, |el| el.id() == "tokens");
    if let Some(strip) = by_id("tokens") {
        dom::listen::<MouseEvent>(&strip, "mouseover", |event| {
            if let Some(t) = strip_position(&event) {
                with_app(|app| app.set_hover(Some(t)));
            }
        });
        dom::listen::<MouseEvent>(&strip, "mouseleave", |_| {
            with_app(|app| app.set_hover(None));
        });
        dom::listen::<MouseEvent>(&strip, "click", |event| {
            if let Some(t) = strip_position(&event) {
                with_app(|app| {
                    app.hover = None;
                    app.edit_pairs(&[("pos".to_string(), t.to_string())]);
                });
            }
        });
        dom::listen::<web_sys::KeyboardEvent>(&strip, "keydown", |event| {
            let key = event.key();
            if matches!(key.as_str(), "ArrowLeft" | "ArrowRight")
                && with_app(|app| app.on_key_impl(&key)).unwrap_or(false)
            {
                event.prevent_default();
            }
        });
    }
}

impl Explorer for App {
    fn name(&self) -> &'static str {
        params::EXPLORER
    }
    fn chrome(&self) -> &Chrome {
        &self.chrome
    }
    fn chrome_mut(&mut self) -> &mut Chrome {
        &mut self.chrome
    }
    fn is_done(&self) -> bool {
        self.scene.is_done()
    }
    fn explorer_pairs(&self) -> Vec<(String, String)> {
        params::to_pairs(&self.state)
    }
    fn edit(&mut self, pairs: &[(String, String)]) -> Vec<Message> {
        self.edit_pairs(pairs)
    }
    fn write_url(&self) {
        App::write_url(self)
    }
    fn show_at(&mut self, at: f64) {
        self.set_at(at);
    }
    fn toggle_play(&mut self) {
        App::toggle_play(self)
    }
    fn speed(&self) -> f64 {
        self.state.speed
    }
    fn play_ms(&self) -> f64 {
        PLAY_MS
    }
    fn load_hash(&mut self, hash: &str) {
        let (state, messages) = self.chrome.read_link(&LINKS, hash);
        self.apply_state(state, messages, true);
    }
    fn on_key(&mut self, key: &str, _on_canvas: bool) -> bool {
        self.on_key_impl(key)
    }
    fn relayout(&mut self, force_paint: bool) {
        App::relayout(self, force_paint)
    }
    fn state_object(&self) -> JsValue {
        super::state_object_from(
            params::EXPLORER,
            PARAMS,
            &self.state,
            &self.chrome.page,
            &self.full_hash(),
        )
    }
    fn readout_object(&self) -> JsValue {
        js_sys::JSON::parse(&td_energy::export::readout_json(&self.scene)).unwrap_or(JsValue::NULL)
    }
    fn figures(&self) -> &'static [FigureInfo] {
        FIGURES
    }
    fn canvases_in_use(&self, _figure: &str) -> usize {
        1
    }
    fn default_size(&self, figure: &str) -> (u32, u32) {
        Figure::parse(figure)
            .unwrap_or(Figure::Series)
            .default_size()
    }
    fn svg(&self, figure: &str) -> String {
        let figure = Figure::parse(figure).unwrap_or(Figure::Series);
        render_svg(&self.scene, figure, figure.default_size(), self.state.at)
    }
    fn paint_figure(&self, figure: &str, root: &CanvasArea, ratio: f64) -> Result<(), String> {
        let figure = Figure::parse(figure).unwrap_or(Figure::Series);
        draw_figure(root, &self.scene, figure, self.state.at, ratio).map_err(|e| format!("{e:?}"))
    }
    fn csv(&self, link: &str) -> String {
        td_energy::export::csv(&self.scene, link)
    }
    fn json(&self, link: &str) -> String {
        td_energy::export::state_json(&self.scene, &self.chrome.page, link)
    }
    fn file_stem(&self) -> String {
        td_energy::export::file_stem(&self.state)
    }
    fn embed_title(&self) -> String {
        format!(
            "token-dynamics: hidden-state energy ({} bytes, trained and random model)",
            self.scene.tokens.len()
        )
    }
}
