//! The cost of the cipher behind encryption at rest, alone: AES-256-GCM (ring, as the
//! gateway uses it) sealing and opening 64 MiB in frames of each size, in place, on one
//! core. Prints GB/s per frame size (median of `--passes`), and what 64 MiB costs: the
//! floor under what a sealed GET or PUT adds to a plain one.
//!
//! `cargo run --release -p loadgen --bin aead [-- --passes 7]`

use std::time::{Duration, Instant};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const TOTAL: usize = 64 << 20;

fn nonce(i: usize) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&(i as u64).to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

/// The median of `times`.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let passes = match (args.next().as_deref(), args.next()) {
        (Some("--passes"), Some(n)) => n.parse().expect("--passes takes a number"),
        (None, _) => 7,
        _ => panic!("usage: aead [--passes N]"),
    };
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).expect("a 32-byte key"));
    let gbps = |d: Duration| TOTAL as f64 / d.as_secs_f64() / 1e9;
    println!("{:>10} {:>10} {:>10} {:>14}", "frame", "seal GB/s", "open GB/s", "ms per 64 MiB");
    for frame in [16 << 10, 64 << 10, 256 << 10] {
        let frames = TOTAL / frame;
        // One sealed copy of every frame, so that opening authenticates real ciphertext.
        let mut sealed: Vec<Vec<u8>> = (0..frames)
            .map(|i| {
                let mut f = vec![(i % 251) as u8; frame];
                let tag = key.seal_in_place_separate_tag(nonce(i), Aad::empty(), &mut f).expect("seals");
                f.extend_from_slice(tag.as_ref());
                f
            })
            .collect();
        let mut scratch = vec![0u8; frame];
        let seal = median(
            (0..passes)
                .map(|_| {
                    let start = Instant::now();
                    for i in 0..frames {
                        let _tag = std::hint::black_box(key.seal_in_place_separate_tag(nonce(i), Aad::empty(), &mut scratch).expect("seals"));
                    }
                    start.elapsed()
                })
                .collect(),
        );
        // Opening works in place: each pass opens a fresh copy, restored before its clock starts.
        let originals = sealed.clone();
        let open = median(
            (0..passes)
                .map(|_| {
                    for (f, o) in sealed.iter_mut().zip(&originals) {
                        f.copy_from_slice(o);
                    }
                    let start = Instant::now();
                    for (i, f) in sealed.iter_mut().enumerate() {
                        std::hint::black_box(key.open_in_place(nonce(i), Aad::empty(), f).expect("opens").len());
                    }
                    start.elapsed()
                })
                .collect(),
        );
        println!("{:>9}K {:>10.2} {:>10.2} {:>14.1}", frame >> 10, gbps(seal), gbps(open), open.as_secs_f64() * 1e3);
    }
}
