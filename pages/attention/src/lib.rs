//! The attention page's WebAssembly module: runs the attention explorer, and nothing else (and, in the
//! page's worker, computes its heavy scenes).

td_web::page!(td_attention::explorer::Attention);
