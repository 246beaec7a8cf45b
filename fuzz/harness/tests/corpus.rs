//! The fuzz targets on every `cargo test`: each runs over its committed seed corpus
//! (`fuzz/corpus/<target>/`) and over a few thousand deterministic mutations of it. The long,
//! coverage-guided runs are `scripts/fuzz` (README, "Fuzzing").

use std::path::PathBuf;

use countersign_fuzz_harness::TARGETS;

/// Mutations tried per target.
const MUTATIONS: usize = 3000;

/// The seed files of `target`, sorted by name.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus").join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

/// Bytes the mutations insert: JSON and JWT punctuation, NUL, control and multi-byte text.
const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\\u0000",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b".",
    b"=",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\xff",
    b"\xc3",
    "é".as_bytes(),
    "\u{2028}".as_bytes(),
    b"\\ud800",
    b"\n",
    b"\r\n",
    b"HS256",
    b"none",
    b"\"kid\":",
    b"\"crit\":[\"b64\"]",
];

/// One mutation of `seed`: a few byte flips, insertions, deletions or splices of another seed.
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                out.splice(at..at, piece.iter().copied());
            }
            2 if !out.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 if !other.is_empty() => {
                let from = rng.below(other.len());
                let to = (from + 1 + rng.below(64)).min(other.len());
                out.splice(at..at, other[from..to].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// Every target accepts its seeds and thousands of mutations of them without breaking an
/// invariant.
#[test]
fn targets_hold_over_seeds_and_mutations() {
    for (name, target) in TARGETS {
        let seeds = seeds(name);
        assert!(seeds.len() >= 3, "{name}: expected seed files in fuzz/corpus/{name}/");
        for seed in &seeds {
            target(seed);
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
        for _ in 0..MUTATIONS {
            let seed = &seeds[rng.below(seeds.len())];
            let other = &seeds[rng.below(seeds.len())];
            let input = mutate(&mut rng, seed, other);
            target(&input);
        }
    }
}

/// The allocation budget catches an input whose memory grows faster than its size.
#[test]
fn the_budget_refuses_unbounded_growth() {
    let (_, peak) = countersign_fuzz_harness::alloc::measure(|| vec![0u8; 4 << 20]);
    assert!(peak >= 4 << 20);
    assert!(peak > countersign_fuzz_harness::alloc::budget(16));
}
