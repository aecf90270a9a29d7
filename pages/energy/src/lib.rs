//! The energy page's WebAssembly module: runs the energy explorer, and nothing else.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    td_web::run::<td_energy::explorer::Energy>();
}
