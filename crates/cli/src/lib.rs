//! The native side of token-dynamics: `token-dynamics render '<link>'` turns any shared link into
//! the same figures and data as the page (SVG, PNG, CSV, JSON), and the `bench` binary times the
//! shared benchmark scenarios of every explorer.

pub mod cli;
