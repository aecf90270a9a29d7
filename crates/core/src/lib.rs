//! What every explorer shares on the model side (no web-sys, tested natively):
//!
//! - [`codec`]: the binary encoding of what a worker sends its page;
//! - [`url`]: the `#<explorer>?key=value&…` link syntax, percent-coding and exact number text;
//! - [`message`]: what the reader is told about their link or input;
//! - [`table`]: the parameter-table machinery (one typed row per link key: default,
//!   range, validation, link text and control);
//! - [`page`]: page options every explorer understands (`embed`, `hide`, `view`, `theme`, …);
//! - [`export`]: CSV and JSON writing and file-name pieces;
//! - [`explorer`]: the one interface every explorer implements (page runner, CLI, bench);
//! - [`rank`]: the top entries of a long vector without sorting it;
//! - [`vocabulary`]: a real model's whole next-token distribution, kept in the browser for the
//!   next-token explorer (a link carries only its top tokens);
//! - [`draw_kit`]: colours, fonts, ticks and text fitting for the drawing code of every explorer.

pub mod codec;
pub mod draw_kit;
pub mod explorer;
pub mod export;
pub mod message;
pub mod page;
pub mod rank;
pub mod table;
pub mod url;
pub mod vocabulary;
