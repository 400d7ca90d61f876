//! Jittered exponential backoff with `Retry-After`, bounded by an optional attempt count and
//! elapsed time, and a cancellable sleep. The delays come from `backon`'s exponential policy (the
//! one retry policy type of the project). Guarantees: delays grow ×2 from `initial_backoff` up to
//! `max_backoff`, each jittered into [50%, 100%); a server `Retry-After` is a lower bound (capped
//! at `max_retry_after`); with no limits configured it never gives up.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::RetryPolicy;
use crate::error::IngestError;

/// Retry state for one unit of work.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    delays: backon::ExponentialBackoff,
    attempts: u32,
    started: Instant,
}

impl Backoff {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        use backon::BackoffBuilder;
        // backon's jitter adds up to 100% of the delay: half the bounds give [50%, 100%) of them.
        let delays = backon::ExponentialBuilder::new()
            .with_min_delay(policy.initial_backoff / 2)
            .with_max_delay(policy.max_backoff / 2)
            .with_jitter()
            .without_max_times()
            .build();
        Backoff {
            policy: policy.clone(),
            delays,
            attempts: 0,
            started: Instant::now(),
        }
    }

    /// Attempts made so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Records one failed attempt and returns how long to wait, or `None` if a limit is reached.
    pub(crate) fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        self.attempts = self.attempts.saturating_add(1);
        if let Some(max) = self.policy.max_attempts {
            if self.attempts >= max {
                return None;
            }
        }
        let jittered = self.delays.next()?;
        let delay = match retry_after {
            Some(ra) => jittered.max(ra.min(self.policy.max_retry_after)),
            None => jittered,
        };
        if let Some(max) = self.policy.max_elapsed {
            if self.started.elapsed() + delay > max {
                return None;
            }
        }
        Some(delay)
    }
}

/// Sleeps unless `cancel` fires first.
pub(crate) async fn sleep_or_cancel(
    delay: Duration,
    cancel: &CancellationToken,
) -> Result<(), IngestError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(IngestError::Cancelled),
        _ = tokio::time::sleep(delay) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
            max_retry_after: Duration::from_secs(5),
            max_attempts: None,
            max_elapsed: None,
        }
    }

    #[test]
    fn grows_and_caps_with_jitter() {
        let mut b = Backoff::new(&policy());
        let expected = [100u64, 200, 400, 800, 800, 800];
        for base in expected {
            let d = b.next_delay(None).unwrap();
            assert!(
                d >= Duration::from_millis(base / 2) && d <= Duration::from_millis(base),
                "{d:?} vs {base}"
            );
        }
    }

    #[test]
    fn retry_after_is_a_floor_and_capped() {
        let mut b = Backoff::new(&policy());
        assert!(b.next_delay(Some(Duration::from_secs(2))).unwrap() >= Duration::from_secs(2));
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(60))).unwrap(),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn attempt_limit() {
        let mut p = policy();
        p.max_attempts = Some(3);
        let mut b = Backoff::new(&p);
        assert!(b.next_delay(None).is_some());
        assert!(b.next_delay(None).is_some());
        assert!(b.next_delay(None).is_none());
        assert_eq!(b.attempts(), 3);
    }

    #[test]
    fn unlimited_by_default() {
        let mut b = Backoff::new(&RetryPolicy::default());
        for _ in 0..1000 {
            assert!(b.next_delay(None).is_some());
        }
    }

    #[tokio::test]
    async fn cancel_interrupts_sleep() {
        let token = CancellationToken::new();
        token.cancel();
        let r = sleep_or_cancel(Duration::from_secs(3600), &token).await;
        assert_eq!(r, Err(IngestError::Cancelled));
    }
}
