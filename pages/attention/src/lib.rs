//! The attention page's WebAssembly module: runs the attention explorer, and nothing else.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    td_web::run::<td_attention::explorer::Attention>();
}
