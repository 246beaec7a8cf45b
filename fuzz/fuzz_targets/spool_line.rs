//! Arbitrary bytes as one spool line, read as the replay does (parse_spool_line).
//! The invariants are in `countersign_fuzz_harness::spool_line`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| countersign_fuzz_harness::spool_line(data));
