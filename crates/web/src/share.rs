//! Sharing and export in the full page: "Copy link", the "Embed" dialog (snippet, copy, live
//! preview), and downloads of SVG / PNG / CSV / JSON. Every action reports in `#share-status`
//! (aria-live). Files are named by `td_core::export::file_stem` plus `_<figure>.<ext>`.

use js_sys::{Array, Object, Promise, Reflect};
use plotters::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    Blob, BlobPropertyBag, Event, HtmlAnchorElement, HtmlCanvasElement, HtmlDialogElement,
    HtmlIFrameElement, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement, MessageEvent, Url,
};

use crate::backend::PageBackend;
use crate::canvas::BatchedCanvas;
use crate::dom::{self, by_id, by_id_as, make, set_attr, set_text};
use crate::embed;
use crate::page::{with_page, Page};
use td_core::page::{PageOptions, Theme};

/// Width of the snippet's iframe (CSS px); its height follows the preview's height messages.
const SNIPPET_WIDTH: f64 = 640.0;
/// Largest PNG side we produce (browsers refuse much larger canvases).
const MAX_PNG_SIDE: f64 = 8192.0;

thread_local! {
    static SNIPPET_HEIGHT: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
    /// Whether the preview's current document has said it is ready (see `on_preview_message`).
    static PREVIEW_LIVE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The embed address the preview shows, and how many documents it has loaded.
    static PREVIEW_SRC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    static PREVIEW_LOADS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn status(text: &str) {
    set_text("share-status", text);
}

/// The figure chosen for SVG/PNG export (the explorer's first figure by default).
fn chosen_figure() -> String {
    let chosen = by_id_as::<HtmlSelectElement>("export-figure").map(|s| s.value());
    with_page(|e| {
        let figures = e.figures();
        chosen
            .filter(|c| figures.iter().any(|f| f.name == c))
            .unwrap_or_else(|| figures[0].name.to_string())
    })
    .unwrap_or_default()
}

/// The absolute link of the current state as the full page shows it.
fn current_link(e: &dyn Page) -> String {
    format!("{}{}", crate::chrome::base_url(), e.full_hash())
}

/// Saves `blob` as `name` through a temporary `<a download>`.
fn download(blob: &Blob, name: &str) -> bool {
    let Ok(url) = Url::create_object_url_with_blob(blob) else {
        return false;
    };
    let Ok(anchor) = dom::document().create_element("a") else {
        return false;
    };
    let anchor: HtmlAnchorElement = anchor.unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.set_class_name("visually-hidden");
    let Some(body) = dom::document().body() else {
        return false;
    };
    let _ = body.append_child(&anchor);
    anchor.click();
    let _ = body.remove_child(&anchor);
    dom::set_timeout(
        move || {
            let _ = Url::revoke_object_url(&url);
        },
        30_000,
    );
    true
}

fn text_blob(text: &str, mime: &str) -> Option<Blob> {
    let parts = Array::of1(&JsValue::from_str(text));
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    Blob::new_with_str_sequence_and_options(&parts, &options).ok()
}

fn save_text(text: &str, mime: &str, name: &str) {
    match text_blob(text, mime) {
        Some(blob) if download(&blob, name) => status(&format!("Saved {name}")),
        _ => status(&format!("Could not save {name}")),
    }
}

/// Exports need the finished scene (large ones are computed over several frames).
fn ready_explorer<R>(f: impl FnOnce(&dyn Page) -> R) -> Option<R> {
    let result = with_page(|e| if e.is_done() { Some(f(e)) } else { None }).flatten();
    if result.is_none() {
        status("Still computing; try again in a moment");
    }
    result
}

pub fn export_svg(figure: &str) {
    if let Some((svg, name)) = ready_explorer(|e| {
        let name = format!("{}_{}.svg", e.file_stem(), figure);
        (e.svg(figure), name)
    }) {
        save_text(&svg, "image/svg+xml", &name);
    }
}

/// The on-page CSS size of a figure's pictures (its canvases in use side by side, borders
/// excluded); the export's default size when the figure is not shown.
fn css_size(e: &dyn Page, figure: &str) -> (f64, f64) {
    let mut width = 0.0;
    let mut height: f64 = 0.0;
    if let Some(info) = e.figures().iter().find(|f| f.name == figure) {
        for id in info.canvas_ids.iter().take(e.canvases_in_use(figure)) {
            if let Some(c) = by_id_as::<HtmlCanvasElement>(id) {
                // The content box (what the canvas's pixels cover), without its border.
                width += f64::from(c.client_width());
                height = height.max(f64::from(c.client_height()));
            }
        }
    }
    if width < 1.0 || height < 1.0 {
        let (w, h) = e.default_size(figure);
        (w as f64, h as f64)
    } else {
        (width, height)
    }
}

/// PNG of a figure: the same drawing functions painted onto a detached canvas at `factor` × the
/// device pixel ratio (1 = screen, 2 = print).
pub fn export_png(figure: &str, factor: f64) {
    let prepared = ready_explorer(|e| {
        let (css_w, figure_h) = css_size(e, figure);
        // The caption strip under the figure (drawn by the export, see Explorer::draw_export).
        let css_h = figure_h + e.export_caption_height(figure, css_w);
        let mut ratio = dom::device_pixel_ratio() * factor;
        ratio = ratio.min(MAX_PNG_SIDE / css_w.max(css_h));
        let (px_w, px_h) = (
            (css_w * ratio).round() as u32,
            (css_h * ratio).round() as u32,
        );
        let canvas: HtmlCanvasElement = dom::document()
            .create_element("canvas")
            .ok()?
            .unchecked_into();
        canvas.set_width(px_w);
        canvas.set_height(px_h);
        let backend = PageBackend::Canvas(BatchedCanvas::new(&canvas)?);
        let root = backend.into_drawing_area();
        let result = e
            .paint_figure(figure, &root, ratio)
            .and_then(|_| root.present().map_err(|err| format!("{err:?}")));
        if let Err(error) = result {
            web_sys::console::warn_1(&format!("PNG drawing failed: {error}").into());
            return None;
        }
        let suffix = if factor > 1.0 { "@2x" } else { "" };
        let name = format!("{}_{}{}.png", e.file_stem(), figure, suffix);
        Some((canvas, name, px_w, px_h))
    })
    .flatten();
    let Some((canvas, name, px_w, px_h)) = prepared else {
        return;
    };
    // Encoded synchronously, inside the click's task: a download started later (from toBlob's
    // callback) loses the click's user activation, and browsers then may drop it (seen in
    // headless Chromium after earlier downloads; Safari is strict about it too).
    match png_blob(&canvas) {
        Some(blob) if download(&blob, &name) => {
            status(&format!("Saved {name} ({px_w}×{px_h} px)"));
        }
        _ => status(&format!("Could not save {name}")),
    }
}

/// The canvas as a PNG blob, encoded now (`toDataURL`, then the base64 decoded).
fn png_blob(canvas: &HtmlCanvasElement) -> Option<Blob> {
    let url = canvas.to_data_url_with_type("image/png").ok()?;
    let base64 = url.strip_prefix("data:image/png;base64,")?;
    let binary = dom::window().atob(base64).ok()?;
    let bytes: Vec<u8> = binary.chars().map(|c| c as u32 as u8).collect();
    let parts = Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
    let options = BlobPropertyBag::new();
    options.set_type("image/png");
    Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()
}

pub fn export_csv() {
    if let Some((text, name)) = ready_explorer(|e| {
        let text = e.csv(&current_link(e));
        (text, format!("{}_data.csv", e.file_stem()))
    }) {
        save_text(&text, "text/csv", &name);
    }
}

pub fn export_json() {
    if let Some((text, name)) = ready_explorer(|e| {
        let text = e.json(&current_link(e));
        (text, format!("{}_state.json", e.file_stem()))
    }) {
        save_text(&text, "application/json", &name);
    }
}

/// Rows the data table shows at most (evenly spread over the CSV's rows when it has more).
const TABLE_ROWS: usize = 200;
/// How long (ms) changes must settle before an open data table is rebuilt.
const TABLE_SETTLE_MS: i32 = 700;

thread_local! {
    /// Counts rebuild requests; only the latest one builds.
    static TABLE_TICKET: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn data_table_open() -> bool {
    by_id("data-table-box").is_some_and(|d| d.has_attribute("open"))
}

/// The page's text changed: an open data table is rebuilt once the changes settle.
pub fn data_table_changed() {
    if !data_table_open() {
        return;
    }
    let ticket = TABLE_TICKET.with(|t| {
        t.set(t.get() + 1);
        t.get()
    });
    dom::set_timeout(
        move || {
            if TABLE_TICKET.with(|t| t.get()) == ticket {
                build_data_table();
            }
        },
        TABLE_SETTLE_MS,
    );
}

/// The figures' data (the CSV export) as an HTML table: its comment lines as notes, its header
/// as column headers, and up to [`TABLE_ROWS`] rows. Every cell is set as text, never as HTML.
fn build_data_table() {
    let Some(root) = by_id("data-table") else {
        return;
    };
    let csv = with_page(|e| e.is_done().then(|| e.csv(&current_link(e)))).flatten();
    dom::clear(&root);
    let Some(csv) = csv else {
        let _ = root.append_child(&make("p", "help-text", Some("Still computing…")));
        return;
    };
    let lines: Vec<&str> = csv.lines().filter(|l| !l.trim().is_empty()).collect();
    let (comments, rest): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| l.starts_with('#'));
    for comment in comments {
        let note = comment.trim_start_matches('#').trim();
        let _ = root.append_child(&make("p", "help-text", Some(note)));
    }
    let Some((header, rows)) = rest.split_first() else {
        return;
    };
    let step = rows.len().div_ceil(TABLE_ROWS).max(1);
    let shown: Vec<&&str> = rows.iter().step_by(step).collect();
    let table = make("table", "data", None);
    let caption = if step > 1 {
        format!(
            "{} of {} rows (every {step}th); the CSV button downloads them all",
            shown.len(),
            rows.len()
        )
    } else {
        format!("{} rows", rows.len())
    };
    let _ = table.append_child(&make("caption", "", Some(&caption)));
    let head = make("thead", "", None);
    let tr = make("tr", "", None);
    for cell in td_core::export::csv_cells(header) {
        let th = make("th", "", Some(&cell));
        set_attr(&th, "scope", "col");
        let _ = tr.append_child(&th);
    }
    let _ = head.append_child(&tr);
    let _ = table.append_child(&head);
    let body = make("tbody", "", None);
    for row in shown {
        let tr = make("tr", "", None);
        for cell in td_core::export::csv_cells(row) {
            let _ = tr.append_child(&make("td", "", Some(&cell)));
        }
        let _ = body.append_child(&tr);
    }
    let _ = table.append_child(&body);
    let _ = root.append_child(&table);
}

/// Writes `text` to the clipboard; reports through `report(ok)`.
fn copy_text(text: &str, report: impl FnOnce(bool) + 'static) {
    let clipboard = dom::window().navigator().clipboard();
    let promise: Promise = clipboard.write_text(text);
    let report = std::rc::Rc::new(std::cell::RefCell::new(Some(report)));
    let r1 = report.clone();
    let ok = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        if let Some(f) = r1.borrow_mut().take() {
            f(true);
        }
    });
    let fail = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        if let Some(f) = report.borrow_mut().take() {
            f(false);
        }
    });
    let _ = promise.then2(&ok, &fail);
    ok.forget();
    fail.forget();
}

fn flash_button(id: &str, text: &'static str, normal: &'static str) {
    set_text(id, text);
    let id = id.to_string();
    dom::set_timeout(move || set_text(&id, normal), 2000);
}

pub fn copy_link() {
    let Some(link) = with_page(|e| current_link(e)) else {
        return;
    };
    let shown = link.clone();
    copy_text(&link, move |ok| {
        if ok {
            flash_button("copy-link", "Copied ✓", "Copy link");
            status("Link copied");
        } else {
            status(&format!("Could not copy; the link is {shown}"));
        }
    });
}

// ---------- the Embed dialog ----------

fn checked(id: &str) -> bool {
    by_id_as::<HtmlInputElement>(id).is_some_and(|i| i.checked())
}

/// The embed link of the current state with the dialog's options.
fn embed_src(e: &dyn Page) -> String {
    let figures = e.figures();
    let mut view = vec![figures[0].name.to_string()];
    let others = figures[1..]
        .iter()
        .map(|f| f.name)
        .chain(e.text_panels().iter().map(|t| t.name));
    for name in others {
        if checked(&format!("embed-opt-{name}")) {
            view.push(name.to_string());
        }
    }
    let theme = match by_id_as::<HtmlSelectElement>("embed-opt-theme")
        .map(|s| s.value())
        .as_deref()
    {
        Some("light") => Theme::Light,
        Some("dark") => Theme::Dark,
        _ => Theme::Auto,
    };
    let opts = PageOptions {
        embed: true,
        hide: e.page().hide.clone(),
        controls: checked("embed-opt-controls"),
        autoplay: checked("embed-opt-autoplay"),
        looping: checked("embed-opt-autoplay"),
        theme,
        // The first figure alone is the embed's default view: leave it out of the link.
        view: if view.len() == 1 { Vec::new() } else { view },
    };
    let mut pairs = e.explorer_pairs();
    pairs.extend(td_core::page::to_pairs(&opts));
    format!(
        "{}{}",
        crate::chrome::base_url(),
        td_core::url::join_hash(e.name(), &pairs)
    )
}

/// Rebuilds the snippet (and, when `reload`, the preview's address).
fn refresh_snippet(reload: bool) {
    let Some((src, title)) = with_page(|e| (embed_src(e), e.embed_title())) else {
        return;
    };
    let measured = SNIPPET_HEIGHT.with(|h| h.get());
    let height = if measured > 0.0 {
        measured.round()
    } else {
        (SNIPPET_WIDTH * 0.85).round()
    };
    let snippet = format!(
        "<iframe src=\"{src}\"\n  title=\"{title}\"\n  width=\"{w}\" height=\"{h}\" loading=\"lazy\"\n  style=\"width:100%;max-width:{w}px;height:auto;aspect-ratio:{w}/{h};border:0\"\n  sandbox=\"allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox\"></iframe>",
        src = td_core::export::xml_text(&src),
        title = td_core::export::xml_text(&title),
        w = SNIPPET_WIDTH,
        h = height,
    );
    if let Some(area) = by_id_as::<HtmlTextAreaElement>("embed-code") {
        area.set_value(&snippet);
    }
    if reload {
        if let Some(frame) = by_id_as::<HtmlIFrameElement>("embed-preview") {
            if PREVIEW_SRC.with(|p| *p.borrow() != src) || frame.src() == "about:blank" {
                SNIPPET_HEIGHT.with(|h| h.set(0.0));
                PREVIEW_LIVE.with(|l| l.set(false));
                PREVIEW_SRC.with(|p| *p.borrow_mut() = src.clone());
                // A new document every time (a query the static server ignores): a change of the
                // fragment alone would be a same-document navigation, whose first height could
                // be measured before the new view was laid out.
                let count = PREVIEW_LOADS.with(|c| {
                    c.set(c.get() + 1);
                    c.get()
                });
                let (page, hash) = src.split_once('#').unwrap_or((src.as_str(), ""));
                let join = if page.contains('?') { '&' } else { '?' };
                let fresh = format!("{page}{join}preview={count}#{hash}");
                frame.set_src(&fresh);
                frame.set_title(&format!("Preview: {title}"));
            }
        }
    }
}

pub fn open_embed_dialog() {
    let Some(dialog) = by_id_as::<HtmlDialogElement>("embed-dialog") else {
        return;
    };
    if !dialog.open() {
        let _ = dialog.show_modal();
    }
    set_text("embed-status", "");
    refresh_snippet(true);
}

/// Height messages from the dialog's preview size the preview and the snippet's aspect ratio.
fn on_preview_message(event: MessageEvent) {
    let Some(frame) = by_id_as::<HtmlIFrameElement>("embed-preview") else {
        return;
    };
    let (Some(source), Some(child)) = (event.source(), frame.content_window()) else {
        return;
    };
    if !Object::is(source.as_ref(), child.as_ref()) {
        return;
    }
    let data = event.data();
    if !data.is_object() {
        return;
    }
    let kind = Reflect::get(&data, &"type".into())
        .ok()
        .and_then(|t| t.as_string());
    // Heights count from the new document's "ready" on: the window is the same object across the
    // preview's navigations, and a height the previous document posted can arrive after the new
    // address was set (it made the snippet's height depend on how quickly options were ticked).
    if kind.as_deref() == Some(embed::MSG_READY) {
        PREVIEW_LIVE.with(|l| l.set(true));
        return;
    }
    if kind.as_deref() != Some(embed::MSG_HEIGHT) || !PREVIEW_LIVE.with(|l| l.get()) {
        return;
    }
    let Some(height) = Reflect::get(&data, &"height".into())
        .ok()
        .and_then(|h| h.as_f64())
        .filter(|h| h.is_finite() && *h > 0.0 && *h < 5000.0)
    else {
        return;
    };
    let _ = frame.style().set_property("height", &format!("{height}px"));
    fit_preview(height);
    // The preview is laid out at the snippet's width: its height is the snippet's.
    SNIPPET_HEIGHT.with(|h| h.set(height));
    refresh_snippet(false);
}

/// Draws the preview (laid out at [`SNIPPET_WIDTH`]) scaled to its box's width, and gives the box
/// the scaled height.
fn fit_preview(height: f64) {
    let (Some(frame), Some(container)) = (
        by_id_as::<HtmlIFrameElement>("embed-preview"),
        by_id_as::<web_sys::HtmlElement>("embed-preview-box"),
    ) else {
        return;
    };
    let scale = (f64::from(container.client_width()) / SNIPPET_WIDTH).clamp(0.1, 1.0);
    let _ = frame
        .style()
        .set_property("transform", &format!("scale({scale:.4})"));
    let _ = container
        .style()
        .set_property("height", &format!("{:.0}px", height * scale));
}

fn on_click(id: &str, handler: impl Fn() + 'static) {
    if let Some(el) = by_id(id) {
        dom::listen::<Event>(&el, "click", move |_| handler());
    }
}

/// Keyboard shortcuts (Shift + key); false when the key is not one of ours.
pub fn shortcut(key: &str) -> bool {
    if with_page(|e| e.page().embed).unwrap_or(true) {
        return false;
    }
    match key {
        "S" => export_svg(&chosen_figure()),
        "P" => export_png(&chosen_figure(), 1.0),
        "O" => export_png(&chosen_figure(), 2.0),
        "C" => export_csv(),
        "J" => export_json(),
        "L" => copy_link(),
        "E" => open_embed_dialog(),
        _ => return false,
    }
    true
}

/// Fills the figure chooser and the embed dialog's "show" boxes from the explorer's figures.
fn build_figure_choices() {
    let Some((figures, text_panels)) = with_page(|e| (e.figures(), e.text_panels())) else {
        return;
    };
    if let Some(select) = by_id("export-figure") {
        dom::clear(&select);
        for info in figures {
            let option = make("option", "", Some(info.label));
            set_attr(&option, "value", info.name);
            let _ = select.append_child(&option);
        }
    }
    if let Some(root) = by_id("embed-view-options") {
        dom::clear(&root);
        // Every figure but the first (always shown), then the text panels.
        let choices = figures[1..]
            .iter()
            .map(|f| (f.name, f.label))
            .chain(text_panels.iter().map(|t| (t.name, t.label)));
        for (name, text) in choices {
            let label = make("label", "", None);
            let input = make("input", "", None);
            set_attr(&input, "type", "checkbox");
            set_attr(&input, "id", &format!("embed-opt-{name}"));
            let _ = label.append_child(&input);
            let _ = label.append_child(&make("span", "", Some(text)));
            let _ = root.append_child(&label);
        }
    }
}

pub fn install() {
    build_figure_choices();
    if let Some(details) = by_id("data-table-box") {
        dom::listen::<web_sys::Event>(&details, "toggle", |_| {
            if data_table_open() {
                build_data_table();
            }
        });
    }
    on_click("copy-link", copy_link);
    on_click("embed-open", open_embed_dialog);
    on_click("export-svg", || export_svg(&chosen_figure()));
    on_click("export-png", || export_png(&chosen_figure(), 1.0));
    on_click("export-png2", || export_png(&chosen_figure(), 2.0));
    on_click("export-csv", export_csv);
    on_click("export-json", export_json);
    on_click("embed-close", || {
        if let Some(dialog) = by_id_as::<HtmlDialogElement>("embed-dialog") {
            dialog.close();
        }
    });
    // However the dialog closes (button, Escape), stop the preview: a hidden live figure would keep
    // computing and animating for nothing.
    if let Some(dialog) = by_id("embed-dialog") {
        dom::listen::<web_sys::Event>(&dialog, "close", |_| {
            if let Some(frame) = by_id_as::<HtmlIFrameElement>("embed-preview") {
                frame.set_src("about:blank");
            }
        });
    }
    on_click("embed-copy", || {
        let Some(area) = by_id_as::<HtmlTextAreaElement>("embed-code") else {
            return;
        };
        area.select();
        copy_text(&area.value(), |ok| {
            if ok {
                flash_button("embed-copy", "Copied ✓", "Copy HTML");
                set_text("embed-status", "HTML copied");
            } else {
                set_text(
                    "embed-status",
                    "Could not copy: the HTML is selected, press Ctrl+C (⌘C)",
                );
            }
        });
    });
    if let Some(options) = dom::document()
        .query_selector(".embed-options")
        .ok()
        .flatten()
    {
        dom::listen::<Event>(&options, "change", |_| refresh_snippet(true));
    }
    dom::listen::<MessageEvent>(&dom::window(), "message", on_preview_message);
    // Selecting the whole snippet on focus makes manual copying one keystroke.
    if let Some(area) = by_id("embed-code") {
        dom::listen::<Event>(&area, "focus", |event| {
            if let Some(area) = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlTextAreaElement>().ok())
            {
                area.select();
            }
        });
    }
}
