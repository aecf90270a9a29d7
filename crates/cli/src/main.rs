//! Native command-line renderer: turns any shared link into the same figures and data as the page.
//!
//!   token-dynamics render '<link or hash>' [--svg out.svg] [--png out.png] [--csv out.csv]
//!                         [--json out.json] [--figure NAME] [--size WxH] [--scale N]

fn main() {
    std::process::exit(token_dynamics::cli::main(
        std::env::args().skip(1).collect(),
    ));
}
