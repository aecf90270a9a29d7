//! Native command-line renderer: turns any shared link into the same figures and data as the page.
//!
//!   token-dynamics render '<link or hash>' --svg out.svg [--figure simplex|series|logits] [--json out.json]

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(token_dynamics::cli::main(
        std::env::args().skip(1).collect(),
    ));
}

#[cfg(target_arch = "wasm32")]
fn main() {}
