//! Arbitrary bytes as an identify body (serde_json + parse_identify_request).
//! The invariants are in `countersign_fuzz_harness::identify_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| countersign_fuzz_harness::identify_request(data));
