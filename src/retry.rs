//! Backoff between retries, shared by the upstream client and the job scheduler.

use std::time::Duration;

/// Exponential backoff from `base`, capped at `cap`, with jitter (a random share of the
/// step's upper half), so that many retriers do not hammer a recovering peer in step.
#[must_use]
pub fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let step = base.saturating_mul(1 << attempt.min(16)).min(cap);
    let mut b = [0u8; 4];
    let jitter = if getrandom::fill(&mut b).is_ok() { f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX) } else { 0.5 };
    step.mul_f64(0.5 + jitter / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 0..20 {
            let d = backoff(base, attempt, cap);
            let step = base.saturating_mul(1 << attempt.min(16)).min(cap);
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
        }
    }
}
