//! A rate limit on log lines that attackers can cause (denials, requests no route
//! matches): at most [`LINES_PER_SECOND`] such lines a second per gateway; the next line
//! logged says how many were not. Every denial is still counted in the metrics.
//!
//! Lock-free: one atomic load on the hot path once the second's budget is spent, one
//! atomic add to count the line that was not logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The most denial (and no-route) lines logged a second.
pub const LINES_PER_SECOND: u32 = 10;

/// Counts lines per second and those left out.
pub struct LogLimit {
    /// Where the seconds are counted from.
    epoch: Instant,
    /// The current second (since `epoch`) in the high 32 bits, the lines logged in it in
    /// the low 32 bits.
    window: AtomicU64,
    /// Lines not logged since the last one that was.
    suppressed: AtomicU64,
    /// The budget of lines a second.
    per_second: u32,
}

impl LogLimit {
    /// A limit of `per_second` lines a second.
    pub fn new(per_second: u32) -> LogLimit {
        LogLimit {
            epoch: Instant::now(),
            window: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            per_second,
        }
    }

    /// Whether a line may be logged now: `Some(n)` with the number of lines not logged
    /// since the previous one that was, or `None` (this one is counted as not logged).
    pub fn admit(&self) -> Option<u64> {
        let second = u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX);
        let current = self.window.load(Ordering::Relaxed);
        let admitted = if (current >> 32) as u32 != second {
            // The first line of a new second: whoever swaps the window in gets it.
            let fresh = (u64::from(second) << 32) | 1;
            match self
                .window
                .compare_exchange(current, fresh, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => true,
                Err(_) => self.take_one(second),
            }
        } else {
            self.take_one(second)
        };
        if admitted {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Takes one line of the budget of `second`, if there is some left. The count is only
    /// added to while under the budget, so it never overflows into the second.
    fn take_one(&self, second: u32) -> bool {
        let current = self.window.load(Ordering::Relaxed);
        if (current >> 32) as u32 != second || (current as u32) >= self.per_second {
            return false;
        }
        let before = self.window.fetch_add(1, Ordering::Relaxed);
        (before >> 32) as u32 == second && (before as u32) < self.per_second
    }
}

/// What a logged line adds when others were left out before it (empty otherwise).
pub fn note(suppressed: u64) -> String {
    if suppressed == 0 {
        String::new()
    } else {
        format!(
            " ({suppressed} similar lines not logged before this one: at most \
             {LINES_PER_SECOND} denial lines a second are logged; every denial is counted \
             in corsica_denials_total)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_of_a_second_is_kept_and_the_rest_counted() {
        let limit = LogLimit::new(3);
        let admitted: Vec<Option<u64>> = (0..10).map(|_| limit.admit()).collect();
        // Unless the second turned meanwhile: then the first of the next one is logged too.
        let logged = admitted.iter().filter(|a| a.is_some()).count();
        assert!((3..=6).contains(&logged), "{admitted:?}");
        assert_eq!(admitted[0], Some(0));
        let left_out = limit.suppressed.load(Ordering::Relaxed);
        assert!(left_out > 0);
        assert_eq!(note(0), "");
        assert!(note(7).starts_with(" (7 similar lines not logged"));
    }
}
