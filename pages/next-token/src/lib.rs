//! The next-token page's WebAssembly module: runs the next-token explorer, and nothing else (and, in the
//! page's worker, computes its heavy scenes).

td_web::page!(td_next_token::explorer::NextToken);
