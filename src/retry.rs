//! The retry policies of the binary, all of one type: `backon`'s jittered exponential backoff (the `hubble-adx`
//! client builds its delays from the same type). Each policy is an iterator of delays; a loop that retries takes
//! the next delay after each failure, counts the retry in metrics and logs it.
//!
//! See ARCHITECTURE.md ("deliver").

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use std::time::Duration;

/// Delays between attempts to deliver a spooled batch to a sink: 100 ms doubling to 30 s, jittered, forever
/// (a batch stays spooled until it is delivered or the daemon stops).
pub fn delivery_policy() -> ExponentialBackoff {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
        .build()
}

/// Delays between attempts to write a segment to the spool (disk full): 200 ms doubling to 10 s, jittered,
/// forever.
pub fn spool_write_policy() -> ExponentialBackoff {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_their_cap_and_never_end() {
        let d: Vec<Duration> = delivery_policy().take(40).collect();
        assert_eq!(d.len(), 40);
        assert!(d[0] >= Duration::from_millis(100) && d[0] < Duration::from_millis(200));
        assert!(d[3] >= Duration::from_millis(800));
        assert!(d[39] >= Duration::from_secs(30) && d[39] < Duration::from_secs(60));
        // Jittered: two policies do not produce the same sequence.
        let e: Vec<Duration> = delivery_policy().take(40).collect();
        assert_ne!(d, e);
    }
}
