//! Each explorer's page hooks: what its page does in the DOM beyond the generic runner.

#[cfg(feature = "attention")]
pub mod attention;
#[cfg(feature = "energy")]
pub mod energy;
#[cfg(feature = "next-token")]
pub mod next_token;
