//! The attention page's own DOM: click empty space to add a token, drag a token at k = 0 to move
//! its start, click a token for its attention arrows, drag to rotate a 3-D view; step buttons and
//! the step readout.

use td_attention::draw::ParticleFrame;
use td_attention::explorer::{step_text, Attention};
use td_attention::params;
use td_core::explorer::Explorer;
use td_core::url::format_number;
use web_sys::{Event, HtmlCanvasElement, PointerEvent};

use crate::dom::{self, by_id, by_id_as, set_text};
use crate::runner::{with_runner, Runner, WebExplorer};

/// Pointer distance (CSS px) within which a press picks a token.
const PICK_RADIUS: f64 = 10.0;

/// A press on a particle canvas, until release.
#[derive(Clone, Copy, Default)]
pub enum Drag {
    #[default]
    None,
    /// Moving the start of a token (d <= 2, shown at k = 0), in the data window the press began
    /// in (`View::hold`: the axes do not re-fit under the pointer until release).
    Token {
        panel: usize,
        token: usize,
        hold: [f64; 4],
    },
    /// Rotating the 3-D view from (yaw, pitch) at pointer (x, y).
    Rotate {
        x: f64,
        y: f64,
        yaw: f64,
        pitch: f64,
    },
}

type R = Runner<Attention>;

impl WebExplorer for Attention {
    type Local = Drag;

    fn initial_models(_: &Self::State) {}
    fn view_hold(local: &Drag) -> Option<[f64; 4]> {
        match local {
            Drag::Token { hold, .. } => Some(*hold),
            _ => None,
        }
    }
    fn worker_models(_: &Self::State, _: &wasm_bindgen::JsValue) -> Option<()> {
        Some(())
    }
    fn wire() {
        wire_pointer();
        on_click("step-back", || {
            with_runner::<Attention, _>(|r| step_by(r, -1));
        });
        on_click("step-forward", || {
            with_runner::<Attention, _>(|r| step_by(r, 1));
        });
    }
    fn on_key(r: &mut R, key: &str, on_canvas: bool) -> bool {
        match key {
            "ArrowUp" | "ArrowDown" if on_canvas => {
                // Pick the token whose attention arrows are drawn.
                let n = r.state.token_count().max(1);
                let next = match (r.state.focus, key) {
                    (None, "ArrowUp") => 0,
                    (None, _) => n - 1,
                    (Some(f), "ArrowUp") => (f + 1) % n,
                    (Some(f), _) => (f + n - 1) % n,
                };
                r.edit_pairs(&[("focus".to_string(), next.to_string())]);
            }
            " " | "k" => r.toggle_play(),
            "r" | "R" => r.scrub(0.0),
            "[" | "ArrowLeft" => step_by(r, -1),
            "]" | "ArrowRight" => step_by(r, 1),
            _ => return false,
        }
        true
    }
    fn on_position(r: &mut R) {
        set_text("step-readout", &step_text(&r.scene, r.state.at));
    }
    fn render_extra(r: &mut R) {
        Self::on_position(r);
    }
}

fn on_click(id: &str, handler: impl Fn() + 'static) {
    if let Some(el) = by_id(id) {
        dom::listen::<Event>(&el, "click", move |_| handler());
    }
}

/// One step forward or back (`delta` = ±1), exactly on a step.
fn step_by(r: &mut R, delta: i64) {
    let steps = r.state.steps.max(1) as i64;
    let k = (r.scene.step_at(r.state.at) as i64 + delta).clamp(0, steps);
    r.scrub(k as f64 / steps as f64);
}

/// Replaces the start points with `points` (switching to custom starts).
fn set_start_points(r: &mut R, points: &[f64]) {
    let d = r.state.d.max(1);
    let text = points
        .chunks(d)
        .map(|p| {
            p.iter()
                .map(|v| format_number((v * 1e4).round() / 1e4))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join(";");
    r.edit_pairs(&[("x0".to_string(), text)]);
}

/// The panel's frame as painted now (held during a token drag).
fn frame(r: &R, canvas: &HtmlCanvasElement, panel: usize) -> ParticleFrame {
    ParticleFrame::fit_holding(
        &r.scene,
        panel,
        canvas.width() as f64,
        canvas.height() as f64,
        dom::device_pixel_ratio(),
        Attention::view_hold(&r.local),
    )
}

/// A frame's data window, as `View::hold` takes it.
fn window_of(frame: &ParticleFrame) -> [f64; 4] {
    [
        frame.x_range.0,
        frame.x_range.1,
        frame.y_range.0,
        frame.y_range.1,
    ]
}

fn pointer_down(r: &mut R, canvas: &HtmlCanvasElement, panel: usize, x_css: f64, y_css: f64) {
    let scale = dom::device_pixel_ratio();
    let (x, y) = (x_css * scale, y_css * scale);
    if r.state.d >= 3 {
        r.local = Drag::Rotate {
            x: x_css,
            y: y_css,
            yaw: r.state.yaw,
            pitch: r.state.pitch,
        };
        return;
    }
    let frame = frame(r, canvas, panel);
    let k = r.scene.step_at(r.state.at);
    if let Some(token) = frame.nearest_token(&r.scene, k, x, y, PICK_RADIUS * scale) {
        let focus = if r.state.focus == Some(token) {
            "none".to_string()
        } else {
            token.to_string()
        };
        if k == 0 {
            let hold = window_of(&frame);
            r.local = Drag::Token { panel, token, hold };
        }
        r.edit_pairs(&[("focus".to_string(), focus)]);
        return;
    }
    let Some(point) = frame.from_px(x, y) else {
        return;
    };
    let mut points = r.state.initial_points();
    if points.len() / r.state.d.max(1) >= params::MAX_CUSTOM_POINTS {
        r.tell(
            "x0",
            format!(
                "at most {} tokens can be placed by hand; use n and an initial configuration for more",
                params::MAX_CUSTOM_POINTS
            ),
        );
        return;
    }
    points.extend(point.iter().take(r.state.d));
    // The press goes on as a drag of the token it added, in this frame.
    if k == 0 {
        let token = points.len() / r.state.d.max(1) - 1;
        let hold = window_of(&frame);
        r.local = Drag::Token { panel, token, hold };
    }
    set_start_points(r, &points);
}

fn pointer_move(r: &mut R, canvas: &HtmlCanvasElement, x_css: f64, y_css: f64) {
    match r.local {
        Drag::Rotate { x, y, yaw, pitch } => {
            let new_yaw = (yaw + (x_css - x) * 0.5 + 180.0).rem_euclid(360.0) - 180.0;
            let new_pitch = (pitch + (y_css - y) * 0.5).clamp(-90.0, 90.0);
            r.edit_pairs(&[
                ("yaw".to_string(), format_number(new_yaw.round())),
                ("pitch".to_string(), format_number(new_pitch.round())),
            ]);
        }
        Drag::Token { panel, token, .. } => {
            let scale = dom::device_pixel_ratio();
            let f = frame(r, canvas, panel);
            // A pointer dragged past the plot's edge keeps the token at the edge, in view.
            let x = (x_css * scale).clamp(f.left, f.left + f.width);
            let y = (y_css * scale).clamp(f.top, f.top + f.height);
            let Some(point) = f.from_px(x, y) else {
                return;
            };
            let d = r.state.d.max(1);
            let mut points = r.state.initial_points();
            if (token + 1) * d <= points.len() {
                points[token * d..token * d + d.min(point.len())]
                    .copy_from_slice(&point[..d.min(point.len())]);
                set_start_points(r, &points);
            }
        }
        Drag::None => {}
    }
}

fn wire_pointer() {
    for (panel, info_id) in Attention::figures()[0].canvas_ids.iter().enumerate() {
        let Some(canvas) = by_id_as::<HtmlCanvasElement>(info_id) else {
            continue;
        };
        let target = canvas.clone();
        dom::listen::<PointerEvent>(&canvas, "pointerdown", move |event| {
            let _ = target.set_pointer_capture(event.pointer_id());
            let (x, y) = (event.offset_x() as f64, event.offset_y() as f64);
            with_runner::<Attention, _>(|r| pointer_down(r, &target, panel, x, y));
        });
        let target = canvas.clone();
        dom::listen::<PointerEvent>(&canvas, "pointermove", move |event| {
            let (x, y) = (event.offset_x() as f64, event.offset_y() as f64);
            with_runner::<Attention, _>(|r| pointer_move(r, &target, x, y));
        });
        for name in ["pointerup", "pointercancel"] {
            dom::listen::<PointerEvent>(&canvas, name, |_| {
                with_runner::<Attention, _>(|r| {
                    let held = matches!(r.local, Drag::Token { .. });
                    r.local = Drag::None;
                    if held {
                        // Released: the axes fit the tokens again.
                        r.paint_figures();
                    }
                });
            });
        }
    }
}
