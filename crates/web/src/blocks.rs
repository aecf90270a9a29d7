//! Renders an explorer's text panels ([`Block`]s) as HTML elements. Everything is text content:
//! nothing an explorer or a link says ever becomes markup.
//!
//! A fill is first written as a flat list of element openings, texts and closings ([`Op`]). When
//! a root's new list has the layout of its last one (every tag, class and attribute; only texts
//! differ), just the texts that changed are written: rebuilding the panels on every slider step
//! cost about a tenth of a repaint, and every removal and insertion invalidates the page's style.

use std::cell::RefCell;

use td_core::explorer::Block;
use web_sys::Element;

use crate::dom::{self, make, set_attr};

/// One step of a fill.
#[derive(Clone, Copy)]
enum Op<'a> {
    /// Opens an element (tag, class) under the open one.
    Open(&'a str, &'a str),
    /// An attribute of the open element.
    Attr(&'a str, &'a str),
    /// The open element's text.
    Text(&'a str),
    /// Closes the open element.
    Close,
}

/// What a root was last filled with: its layout and its text-holding elements with their text.
struct Shadow {
    root: Element,
    layout: String,
    children: u32,
    texts: Vec<(Element, String)>,
}

thread_local! {
    static SHADOWS: RefCell<Vec<Shadow>> = const { RefCell::new(Vec::new()) };
}

/// The layout signature of `ops`: everything but the texts.
fn layout(ops: &[Op]) -> String {
    let mut out = String::new();
    for op in ops {
        let parts = match op {
            Op::Open(tag, class) => ["<", tag, ".", class],
            Op::Attr(name, value) => [" ", name, "=", value],
            Op::Text(_) => ["", "", "", "t"],
            Op::Close => ["", "", "", ">"],
        };
        parts.iter().for_each(|p| out.push_str(p));
    }
    out
}

/// Fills `root` with `ops`, or only rewrites the texts that changed since the last fill when the
/// layout is the same and the page still holds what was built.
fn fill_root(root: &Element, ops: &[Op]) {
    let layout = layout(ops);
    SHADOWS.with_borrow_mut(|shadows| {
        let at = shadows.iter().position(|s| s.root == *root);
        if let Some(shadow) = at.map(|i| &mut shadows[i]) {
            let intact = shadow.layout == layout
                && root.child_element_count() == shadow.children
                // Whether something else rebuilt the root: its first and last text elements
                // (a call each; every one would cost as much as the writes it saves).
                && [shadow.texts.first(), shadow.texts.last()]
                    .into_iter()
                    .flatten()
                    .all(|(el, _)| el.is_connected());
            if intact {
                patch(shadow, ops);
                return;
            }
        }
        let shadow = build(root, ops, layout);
        match at {
            Some(i) => shadows[i] = shadow,
            None => shadows.push(shadow),
        }
    });
}

/// Writes the texts of `ops` that differ from the shadow's.
fn patch(shadow: &mut Shadow, ops: &[Op]) {
    let new_texts = ops.iter().filter_map(|op| match op {
        Op::Text(text) => Some(*text),
        _ => None,
    });
    for ((el, old), new) in shadow.texts.iter_mut().zip(new_texts) {
        if old != new {
            el.set_text_content(Some(new));
            *old = new.to_string();
        }
    }
}

/// Replaces the root's content by the elements of `ops`.
fn build(root: &Element, ops: &[Op], layout: String) -> Shadow {
    dom::clear(root);
    let (mut open, mut texts) = (vec![root.clone()], Vec::new());
    for op in ops {
        match *op {
            Op::Open(tag, class) => open.push(make(tag, class, None)),
            Op::Attr(name, value) => open.last().iter().for_each(|el| set_attr(el, name, value)),
            Op::Text(text) => {
                if let Some(el) = open.last() {
                    el.set_text_content(Some(text));
                    texts.push((el.clone(), text.to_string()));
                }
            }
            Op::Close => {
                // The root itself (open[0]) stays open.
                if open.len() > 1 {
                    if let (Some(el), Some(parent)) = (open.pop(), open.last()) {
                        let _ = parent.append_child(&el);
                    }
                }
            }
        }
    }
    Shadow {
        root: root.clone(),
        layout,
        children: root.child_element_count(),
        texts,
    }
}

/// Replaces the items of a list element (`ul`/`ol`) by `items`.
pub fn fill_list(list: &Element, items: &[String]) {
    let mut ops = Vec::new();
    list_items(&mut ops, items);
    fill_root(list, &ops);
}

/// An element holding only `text`.
fn leaf<'a>(ops: &mut Vec<Op<'a>>, tag: &'a str, class: &'a str, text: &'a str) {
    ops.extend_from_slice(&[Op::Open(tag, class), Op::Text(text), Op::Close]);
}

fn list_items<'a>(ops: &mut Vec<Op<'a>>, items: &'a [String]) {
    for item in items {
        leaf(ops, "li", "", item);
    }
}

/// Replaces the content of `root` by `blocks`. A heading opens a `div.readout-block` that holds
/// the blocks after it, up to the next heading.
pub fn render(root: &Element, blocks: &[Block]) {
    let mut ops = Vec::new();
    let mut in_section = false;
    for block in blocks {
        if let Block::Heading(text) = block {
            if in_section {
                ops.push(Op::Close);
            }
            ops.push(Op::Open("div", "readout-block"));
            leaf(&mut ops, "h3", "", text);
            in_section = true;
            continue;
        }
        element(&mut ops, block);
    }
    if in_section {
        ops.push(Op::Close);
    }
    fill_root(root, &ops);
}

fn element<'a>(ops: &mut Vec<Op<'a>>, block: &'a Block) {
    match block {
        Block::Heading(text) => leaf(ops, "h3", "", text),
        Block::Paragraph { class, parts } => {
            ops.push(Op::Open("p", class));
            for (kind, text) in parts {
                inline(ops, kind, text);
            }
            ops.push(Op::Close);
        }
        Block::Pairs(rows) => {
            ops.push(Op::Open("dl", ""));
            for (name, value) in rows {
                leaf(ops, "dt", "", name);
                leaf(ops, "dd", "", value);
            }
            ops.push(Op::Close);
        }
        Block::Table {
            class,
            head,
            rows,
            row_headers,
        } => table(ops, class, head, rows, *row_headers),
        Block::List(items) => {
            ops.push(Op::Open("ul", ""));
            list_items(ops, items);
            ops.push(Op::Close);
        }
    }
}

/// A run of text: "" plain, "strong", "mark" (with `mark#id` an element id), anything else a
/// span with that class.
fn inline<'a>(ops: &mut Vec<Op<'a>>, kind: &'a str, text: &'a str) {
    let (tag, id) = match kind.split_once('#') {
        Some((tag, id)) => (tag, Some(id)),
        None => (kind, None),
    };
    let (tag, class) = match tag {
        "" => ("span", ""),
        "strong" | "mark" | "em" => (tag, ""),
        class => ("span", class),
    };
    ops.push(Op::Open(tag, class));
    if let Some(id) = id {
        ops.push(Op::Attr("id", id));
    }
    ops.extend_from_slice(&[Op::Text(text), Op::Close]);
}

fn table<'a>(
    ops: &mut Vec<Op<'a>>,
    class: &'a str,
    head: &'a [String],
    rows: &'a [Vec<(&'static str, String)>],
    row_headers: bool,
) {
    ops.extend_from_slice(&[
        Op::Open("table", class),
        Op::Open("thead", ""),
        Op::Open("tr", ""),
    ]);
    for cell in head {
        leaf(ops, "th", "", cell);
    }
    ops.extend_from_slice(&[Op::Close, Op::Close, Op::Open("tbody", "")]);
    for row in rows {
        ops.push(Op::Open("tr", ""));
        for (i, (class, text)) in row.iter().enumerate() {
            if row_headers && i == 0 {
                ops.extend_from_slice(&[Op::Open("th", class), Op::Attr("scope", "row")]);
            } else {
                ops.push(Op::Open("td", class));
            }
            ops.extend_from_slice(&[Op::Text(text), Op::Close]);
        }
        ops.push(Op::Close);
    }
    ops.extend_from_slice(&[Op::Close, Op::Close]);
}
