//! The wall clock, as records and audit entries keep time.

/// The current time in nanoseconds since the Unix epoch.
#[must_use]
pub fn now_ns() -> i128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}
