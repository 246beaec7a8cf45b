//! Arbitrary bytes as a compact JWT (countersign_core::jwt::decode_unverified).
//! The invariants are in `countersign_fuzz_harness::jwt_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| countersign_fuzz_harness::jwt_decode(data));
