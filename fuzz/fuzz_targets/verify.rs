//! The identify decision (countersign_core::verify) on arbitrary requests and policies.
//! The invariants are in `countersign_fuzz_harness::verify`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| countersign_fuzz_harness::verify(data));
