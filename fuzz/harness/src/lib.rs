//! The bodies of Countersign's fuzz targets. Each takes arbitrary bytes, runs one untrusted-input
//! boundary and asserts its invariants, so a violation is a crash the fuzzer reports:
//!
//! - [`jwt_decode`]: strict compact-JWT decoding (`countersign_core::jwt`);
//! - [`identify_request`]: the identify body decoder (`serde_json` + `parse_identify_request`);
//! - [`verify`]: the identify decision (`countersign_core::verify`) against fixed policies;
//! - [`spool_line`]: the spool replay's reading of one line (`parse_spool_line`).
//!
//! Every target also runs under an allocation budget ([`alloc::within_budget`]): memory grows
//! at most linearly with the input, never without bound. The libFuzzer binaries in
//! `fuzz/fuzz_targets/` call these functions; `tests/corpus.rs` replays the committed seed
//! corpus and mutations of it through them on every `cargo test`.

pub mod alloc;
mod jwt;
mod request;
mod spool;
mod verify;

pub use jwt::jwt_decode;
pub use request::identify_request;
pub use spool::spool_line;
pub use verify::verify;

/// A target's body: arbitrary bytes in, a panic when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name of its libFuzzer binary and corpus directory.
pub const TARGETS: [(&str, Target); 4] = [
    ("jwt_decode", jwt_decode),
    ("identify_request", identify_request),
    ("verify", verify),
    ("spool_line", spool_line),
];
