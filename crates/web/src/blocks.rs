//! Renders an explorer's text panels ([`Block`]s) as HTML elements. Everything is text content:
//! nothing an explorer or a link says ever becomes markup.

use td_core::explorer::Block;
use web_sys::Element;

use crate::dom::{self, make, set_attr};

/// Replaces the items of a list element (`ul`/`ol`) by `items`.
pub fn fill_list(list: &Element, items: &[String]) {
    dom::clear(list);
    for item in items {
        let _ = list.append_child(&make("li", "", Some(item)));
    }
}

/// Replaces the content of `root` by `blocks`. A heading opens a `div.readout-block` that holds
/// the blocks after it, up to the next heading.
pub fn render(root: &Element, blocks: &[Block]) {
    dom::clear(root);
    let mut section: Option<Element> = None;
    for block in blocks {
        if let Block::Heading(text) = block {
            let div = make("div", "readout-block", None);
            let _ = div.append_child(&make("h3", "", Some(text)));
            let _ = root.append_child(&div);
            section = Some(div);
            continue;
        }
        let el = element(block);
        let _ = section.as_ref().unwrap_or(root).append_child(&el);
    }
}

fn element(block: &Block) -> Element {
    match block {
        Block::Heading(text) => make("h3", "", Some(text)),
        Block::Paragraph { class, parts } => {
            let p = make("p", class, None);
            for (kind, text) in parts {
                let _ = p.append_child(&inline(kind, text));
            }
            p
        }
        Block::Pairs(rows) => {
            let dl = make("dl", "", None);
            for (name, value) in rows {
                let _ = dl.append_child(&make("dt", "", Some(name)));
                let _ = dl.append_child(&make("dd", "", Some(value)));
            }
            dl
        }
        Block::Table {
            class,
            head,
            rows,
            row_headers,
        } => table(class, head, rows, *row_headers),
        Block::List(items) => {
            let ul = make("ul", "", None);
            fill_list(&ul, items);
            ul
        }
    }
}

/// A run of text: "" plain, "strong", "mark" (with `mark#id` an element id), anything else a
/// span with that class.
fn inline(kind: &str, text: &str) -> Element {
    let (tag, id) = match kind.split_once('#') {
        Some((tag, id)) => (tag, Some(id)),
        None => (kind, None),
    };
    let el = match tag {
        "" => make("span", "", Some(text)),
        "strong" | "mark" | "em" => make(tag, "", Some(text)),
        class => make("span", class, Some(text)),
    };
    if let Some(id) = id {
        set_attr(&el, "id", id);
    }
    el
}

fn table(
    class: &str,
    head: &[String],
    rows: &[Vec<(&'static str, String)>],
    row_headers: bool,
) -> Element {
    let table = make("table", class, None);
    let thead = make("thead", "", None);
    let tr = make("tr", "", None);
    for cell in head {
        let _ = tr.append_child(&make("th", "", Some(cell)));
    }
    let _ = thead.append_child(&tr);
    let _ = table.append_child(&thead);
    let body = make("tbody", "", None);
    for row in rows {
        let tr = make("tr", "", None);
        for (i, (class, text)) in row.iter().enumerate() {
            let tag = if row_headers && i == 0 { "th" } else { "td" };
            let cell = make(tag, class, Some(text));
            if tag == "th" {
                set_attr(&cell, "scope", "row");
            }
            let _ = tr.append_child(&cell);
        }
        let _ = body.append_child(&tr);
    }
    let _ = table.append_child(&body);
    table
}
