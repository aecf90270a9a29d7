//! The next-token page's WebAssembly module: runs the next-token explorer, and nothing else.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    td_web::run::<td_next_token::explorer::NextToken>();
}
