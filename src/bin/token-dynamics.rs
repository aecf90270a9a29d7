//! Native command-line renderer: turns any shared link into the same figures and data as the page.
//!
//!   token-dynamics render '<link or hash>' [--svg out.svg] [--png out.png] [--csv out.csv]
//!                         [--json out.json] [--figure simplex|series|logits] [--size WxH] [--scale N]
//!
//! (On wasm32 this binary is an empty stub so `trunk build` of the crate still works.)

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(token_dynamics::cli::main(
        std::env::args().skip(1).collect(),
    ));
}

#[cfg(target_arch = "wasm32")]
fn main() {}
