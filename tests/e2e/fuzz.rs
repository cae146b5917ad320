//! A short fuzzing run of every parser of untrusted input, on every
//! `make test`: the seeds in tests/fuzz/seeds/TARGET/ and mutations of them
//! (bytes flipped, YAML and JSON tokens spliced in, cut, repeated), from a
//! fixed seed so a failure reproduces. Each input must come back without a
//! panic and quickly. `make fuzz` runs the same targets under libFuzzer,
//! coverage-guided and for longer.

use crate::support;

use std::time::{Duration, Instant};

/// Time for each target, and the most one input may take.
const PER_TARGET: Duration = Duration::from_millis(500);
const PER_INPUT: Duration = Duration::from_secs(2);

/// Tokens that make parsers take other paths.
const TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "! ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "---\n",
    "\"",
    "'",
    "#",
    "..",
    "../",
    "/",
    "\\",
    "\u{1b}",
    "\0",
    "%YAML 1.1\n",
    "? ",
    "|\n",
    "$ref",
    "\"#\"",
    "allOf",
    "default",
    "writeOnly",
    "kind: Secret\n",
    "op: rename\n",
    "stop: /\n",
];

/// xorshift64*: small, fixed, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(5) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            2 => data.truncate(at),
            3 => {
                let end = (at + rng.below(64)).min(data.len());
                let chunk = data[at..end].to_vec();
                for _ in 0..rng.below(50) {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            _ => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
        }
    }
    data
}

#[test]
fn every_parser_of_untrusted_input_survives_mutated_input() {
    let seeds_dir = support::root().join("tests/fuzz/seeds");
    let mut rng = Rng(0x00c0_ffee_cafe_f00d);
    for (name, target) in cairn::fuzz::TARGETS {
        let dir = seeds_dir.join(name);
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        assert!(!seeds.is_empty(), "{} holds no seeds", dir.display());
        let started = Instant::now();
        let mut runs = 0;
        while started.elapsed() < PER_TARGET {
            let seed = &seeds[rng.below(seeds.len())];
            let input = if runs < seeds.len() {
                seeds[runs].clone()
            } else {
                mutate(&mut rng, seed)
            };
            let one = Instant::now();
            let result = std::panic::catch_unwind(|| target(&input));
            assert!(
                result.is_ok(),
                "target {name} panicked on {:?}",
                String::from_utf8_lossy(&input)
            );
            assert!(
                one.elapsed() < PER_INPUT,
                "target {name} took {:?} on {:?}",
                one.elapsed(),
                String::from_utf8_lossy(&input)
            );
            runs += 1;
        }
        assert!(runs > seeds.len(), "{name}: only {runs} runs");
    }
}
