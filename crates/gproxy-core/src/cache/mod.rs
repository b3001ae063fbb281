//! Response cache (issue 14, "Response cache").
//!
//! Only the key derivation exists so far ([`key`]): the store (moka / Redis),
//! the settings section and the engine hook are not built yet, and nothing in
//! the request path calls this module.
pub mod key;
