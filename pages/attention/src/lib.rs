//! The page's WebAssembly module (work in progress: the generic runner replaces this).
pub use td_web::start;
