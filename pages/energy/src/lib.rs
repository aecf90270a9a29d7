//! The energy page's WebAssembly module: runs the energy explorer, and nothing else (and, in the
//! page's worker, computes its heavy scenes).

td_web::page!(td_energy::explorer::Energy);
