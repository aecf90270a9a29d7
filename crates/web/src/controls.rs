//! Controls generated from an explorer's parameter table: one row per parameter (slider + typed
//! value, integer field, select or text field), grouped in fieldsets, kept in sync with the state.
//! Events are delegated: every control carries `data-key`, and a change becomes a key=value edit
//! validated exactly like a link.

use wasm_bindgen::JsCast;
use web_sys::{Event, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};

use crate::chrome;
use crate::dom::{self, by_id, by_id_as, make, set_attr, set_text};
use crate::page::with_page;
use td_core::table::{Kind, Param};
use td_core::url::format_number;

pub fn is_focused(el: &web_sys::Element) -> bool {
    dom::document()
        .active_element()
        .is_some_and(|active| &active == el)
}

/// Creates one control per parameter, grouped (`groups`: each group and its legend), from the
/// table. The `playback` group sits under the figure; every other group in the control panel.
/// `slider_range` narrows a log slider to a comfortable span (typing still reaches the full range).
pub fn build<S, G: Copy + PartialEq>(
    params: &[Param<S, G>],
    groups: &[(G, &str)],
    playback: G,
    slider_range: fn(&str) -> Option<(f64, f64)>,
) {
    for &(group, title) in groups {
        let container = if group == playback {
            "playback"
        } else {
            "controls"
        };
        let Some(root) = by_id(container) else {
            continue;
        };
        let fieldset = make("fieldset", "group", None);
        let _ = fieldset.append_child(&make("legend", "", Some(title)));
        for param in params.iter().filter(|p| p.group == group) {
            let _ = fieldset.append_child(&control_row(param, slider_range));
        }
        let _ = root.append_child(&fieldset);
    }
}

/// One control row: label, the input(s) of the parameter's kind, and its help text.
fn control_row<S, G>(
    param: &Param<S, G>,
    slider_range: fn(&str) -> Option<(f64, f64)>,
) -> web_sys::Element {
    let row = make("div", "control", None);
    set_attr(&row, "id", &format!("row-{}", param.key));
    let id = format!("ctl-{}", param.key);
    let label = make("label", "", Some(param.label));
    set_attr(&label, "for", &id);
    set_attr(&label, "title", param.help);
    let _ = row.append_child(&label);
    let help_id = format!("help-{}", param.key);
    match &param.kind {
        Kind::Number {
            min,
            max,
            log,
            step,
            ..
        } => {
            let output = make("output", "value", None);
            set_attr(&output, "id", &format!("{id}-out"));
            // An <output> is a live region by default: every slider step (and every frame of
            // playback) would be read out. The slider announces its own value.
            set_attr(&output, "aria-live", "off");
            set_attr(&output, "for", &id);
            let _ = label.append_child(&output);
            let range = (*min, *max, *step);
            let _ = row.append_child(&slider(param, &id, &help_id, range, *log, slider_range));
            let _ = row.append_child(&typed_number(param, &id, *min, *max));
        }
        Kind::Integer { min, max, .. } => {
            let number = input(param, "num", "number", &id, &help_id);
            set_attr(&number, "min", &format_number(*min));
            set_attr(&number, "max", &format_number(*max));
            set_attr(&number, "step", "1");
            let _ = row.append_child(&number);
        }
        Kind::Choice { options, .. } => {
            let select = make("select", "", None);
            set_attr(&select, "id", &id);
            set_attr(&select, "data-key", param.key);
            set_attr(&select, "title", param.help);
            set_attr(&select, "aria-describedby", &help_id);
            for (value, text) in options.iter() {
                let option = make("option", "", Some(text));
                set_attr(&option, "value", value);
                let _ = select.append_child(&option);
            }
            let _ = row.append_child(&select);
        }
        Kind::Text { placeholder, .. } => {
            let text = input(param, "text", "text", &id, &help_id);
            set_attr(&text, "placeholder", placeholder);
            set_attr(&text, "spellcheck", "false");
            let _ = row.append_child(&text);
        }
    }
    let help = make("p", "help", Some(param.help));
    set_attr(&help, "id", &help_id);
    let _ = row.append_child(&help);
    row
}

/// An `<input>` bound to a parameter (`data-key`), described by its help text.
fn input<S, G>(
    param: &Param<S, G>,
    class: &str,
    kind: &str,
    id: &str,
    help_id: &str,
) -> web_sys::Element {
    let el = make("input", class, None);
    set_attr(&el, "type", kind);
    set_attr(&el, "id", id);
    set_attr(&el, "data-key", param.key);
    set_attr(&el, "title", param.help);
    set_attr(&el, "aria-describedby", help_id);
    el
}

/// The slider of a number; a log slider moves in log10 space.
fn slider<S, G>(
    param: &Param<S, G>,
    id: &str,
    help_id: &str,
    (min, max, step): (f64, f64, f64),
    log: bool,
    slider_range: fn(&str) -> Option<(f64, f64)>,
) -> web_sys::Element {
    let range = input(param, "", "range", id, help_id);
    if log {
        let (low, high) = slider_range(param.key).unwrap_or((min, max));
        set_attr(&range, "data-log", "1");
        set_attr(&range, "min", &format!("{}", low.log10()));
        set_attr(&range, "max", &format!("{}", high.log10()));
        set_attr(&range, "step", "0.01");
    } else {
        set_attr(&range, "min", &format_number(min));
        set_attr(&range, "max", &format_number(max));
        set_attr(&range, "step", &format_number(step));
    }
    range
}

/// The text box beside a slider, for typing any value of the whole range.
fn typed_number<S, G>(param: &Param<S, G>, id: &str, min: f64, max: f64) -> web_sys::Element {
    let number = make("input", "num", None);
    set_attr(&number, "type", "text");
    set_attr(&number, "inputmode", "decimal");
    set_attr(&number, "id", &format!("{id}-num"));
    set_attr(&number, "data-key", param.key);
    set_attr(
        &number,
        "aria-label",
        &format!("{} (type a value)", param.label),
    );
    set_attr(
        &number,
        "title",
        &format!(
            "type a value from {} to {}",
            format_number(min),
            format_number(max)
        ),
    );
    number
}

/// Replaces the one-line text fields of `keys` by multi-line text boxes (same id, data-key and
/// labels), for long text such as a pasted paragraph.
pub fn use_textareas(keys: &[&str]) {
    for key in keys {
        let id = format!("ctl-{key}");
        let Some(input) = by_id(&id) else { continue };
        let area = make("textarea", "text", None);
        for name in [
            "id",
            "data-key",
            "placeholder",
            "title",
            "aria-describedby",
            "spellcheck",
        ] {
            if let Some(value) = input.get_attribute(name) {
                set_attr(&area, name, &value);
            }
        }
        set_attr(&area, "rows", "5");
        let _ = input.replace_with_with_node_1(&area);
        // What typing does, and whether the page is still catching up with it.
        let hint = make(
            "p",
            "text-hint",
            Some("Applies as you type (Ctrl+Enter: at once). "),
        );
        set_attr(&hint, "id", &format!("{id}-hint"));
        let status = make("span", "text-status", None);
        set_attr(&status, "data-text-status", "");
        let _ = hint.append_child(&status);
        let _ = area.after_with_node_1(&hint);
    }
}

/// Moves the rows of `keys` into the page's `#lead-controls` slot, above the figures.
pub fn lead(keys: &[&str]) {
    let Some(slot) = by_id("lead-controls") else {
        return;
    };
    for key in keys {
        if let Some(row) = by_id(&format!("row-{key}")) {
            let _ = slot.append_child(&row);
        }
    }
}

/// How long (ms) typing must pause before a text box's content is applied.
const TEXT_SETTLE_MS: i32 = 500;

thread_local! {
    /// Counts keystrokes in text boxes; a pending apply runs only if it is still the latest.
    static TEXT_TICKET: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Applies a text box's content now (and cancels any pending apply).
fn apply_text(area: &HtmlTextAreaElement) {
    TEXT_TICKET.with(|t| t.set(t.get() + 1));
    let key = area.get_attribute("data-key").unwrap_or_default();
    let value = area.value();
    with_page(|e| e.edit(&[(key, value)]));
    let busy = dom::document()
        .body()
        .and_then(|b| b.get_attribute("data-busy"))
        .is_some_and(|b| b == "1");
    chrome::show_text_pending(busy);
}

/// A keystroke in a text box: applies it once typing pauses for [`TEXT_SETTLE_MS`].
fn text_typed(area: HtmlTextAreaElement) {
    let ticket = TEXT_TICKET.with(|t| {
        t.set(t.get() + 1);
        t.get()
    });
    chrome::show_text_pending(true);
    dom::set_timeout(
        move || {
            if TEXT_TICKET.with(|t| t.get()) == ticket {
                apply_text(&area);
            }
        },
        TEXT_SETTLE_MS,
    );
}

/// Sets an input's value unless it already holds it (a write invalidates style; see `dom::set_attr`).
fn set_value(input: &HtmlInputElement, value: &str) {
    if input.value() != value {
        input.set_value(value);
    }
}

/// Writes the state into every control (values, value displays) and shows a control's row only
/// when `shown(param)` (relevance and page options).
pub fn sync<S, G>(params: &[Param<S, G>], state: &S, shown: &dyn Fn(&Param<S, G>) -> bool) {
    for param in params {
        let id = format!("ctl-{}", param.key);
        let text = td_core::table::value_text(param, state);
        match &param.kind {
            Kind::Number { log, get, .. } => {
                let value = get(state);
                if let Some(range) = by_id_as::<HtmlInputElement>(&id) {
                    let slider = if *log { value.log10() } else { value };
                    set_value(&range, &format!("{slider}"));
                    set_attr(
                        &range,
                        "aria-valuetext",
                        &format!("{} = {}", param.label, text),
                    );
                }
                if let Some(number) = by_id_as::<HtmlInputElement>(&format!("{id}-num")) {
                    if !is_focused(number.as_ref()) {
                        set_value(&number, &text);
                    }
                }
                set_text(&format!("{id}-out"), &text);
            }
            Kind::Integer { .. } | Kind::Text { .. } => {
                if let Some(input) = by_id_as::<HtmlInputElement>(&id) {
                    if !is_focused(input.as_ref()) {
                        set_value(&input, &text);
                    }
                } else if let Some(area) = by_id_as::<HtmlTextAreaElement>(&id) {
                    // A focused box keeps what is being typed, unless the state cut it (a huge paste).
                    let value = area.value();
                    if (!is_focused(area.as_ref()) || value.len() > text.len() + 4) && value != text
                    {
                        area.set_value(&text);
                    }
                }
            }
            Kind::Choice { .. } => {
                if let Some(select) = by_id_as::<HtmlSelectElement>(&id) {
                    if select.value() != text {
                        select.set_value(&text);
                    }
                }
            }
        }
        if let Some(row) = by_id(&format!("row-{}", param.key)) {
            if shown(param) {
                if row.has_attribute("hidden") {
                    let _ = row.remove_attribute("hidden");
                }
            } else {
                set_attr(&row, "hidden", "");
            }
        }
    }
}

/// Rounds a slider value to 3 significant digits so links stay short and readable.
pub fn round_slider(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let digits = 2 - value.abs().log10().floor() as i32;
    let factor = 10f64.powi(digits.clamp(-300, 300));
    (value * factor).round() / factor
}

/// One delegated listener for sliders (input) and one for everything else (change). The `at`
/// slider scrubs without rebuilding the scene.
pub fn wire() {
    let Some(root) = by_id("controls-area") else {
        return;
    };
    dom::listen::<Event>(&root, "input", |event| {
        let target = event.target();
        if let Some(area) = target
            .clone()
            .and_then(|t| t.dyn_into::<HtmlTextAreaElement>().ok())
        {
            text_typed(area);
            return;
        }
        let Some(target) = target.and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) else {
            return;
        };
        if target.type_() != "range" {
            return;
        }
        let key = target.get_attribute("data-key").unwrap_or_default();
        let raw: f64 = target.value().parse().unwrap_or(0.0);
        let value = if target.has_attribute("data-log") {
            round_slider(10f64.powf(raw))
        } else {
            raw
        };
        with_page(|e| {
            if key == "at" {
                e.scrub(value);
            } else {
                e.edit(&[(key, format_number(value))]);
            }
        });
    });
    dom::listen::<web_sys::KeyboardEvent>(&root, "keydown", |event| {
        if event.key() != "Enter" || !(event.ctrl_key() || event.meta_key()) {
            return;
        }
        if let Some(area) = event
            .target()
            .and_then(|t| t.dyn_into::<HtmlTextAreaElement>().ok())
        {
            event.prevent_default();
            apply_text(&area);
        }
    });
    dom::listen::<Event>(&root, "change", |event| {
        let Some(target) = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let Some(key) = target.get_attribute("data-key") else {
            return;
        };
        let value = if let Ok(input) = target.clone().dyn_into::<HtmlInputElement>() {
            if input.type_() == "range" {
                return; // handled on input
            }
            input.value()
        } else if let Ok(area) = target.clone().dyn_into::<HtmlTextAreaElement>() {
            area.value()
        } else if let Ok(select) = target.dyn_into::<HtmlSelectElement>() {
            select.value()
        } else {
            return;
        };
        with_page(|e| e.edit(&[(key, value)]));
    });
}
