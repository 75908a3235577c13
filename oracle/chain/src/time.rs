//! The wall clock, in the units Lineage's signed messages and records carry.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 for a clock set before it).
pub fn unix_time_ms() -> u64 {
	SystemTime::now()
		.duration_since(UNIX_EPOCH)
		.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
		.unwrap_or(0)
}

/// Seconds since the Unix epoch (0 for a clock set before it).
pub fn unix_time_secs() -> u64 {
	unix_time_ms() / 1000
}
