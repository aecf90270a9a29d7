//! The native side of token-dynamics: `token-dynamics render '<link>'` turns any shared link into
//! the same figures and data as the page (SVG, PNG, CSV, JSON), and the `bench` binary times the
//! shared benchmark scenarios of every explorer. [`explorers`] holds the one name→explorer
//! dispatch.

pub mod cli;
pub mod explorers;
pub mod model;
