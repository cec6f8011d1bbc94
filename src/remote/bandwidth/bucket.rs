//! The token bucket behind a bandwidth limit, as arithmetic on explicit instants (seconds on
//! a monotonic clock) so it can be tested without sleeping.
//!
//! It counts bytes `earned` (the rate times the time passed) and bytes `spent` (handed out).
//! A transfer reserves its bytes at once and gets a ticket, the `spent` total including them;
//! it may go when `earned` reaches its ticket. Several streams and channels reserving from one
//! bucket are therefore served in order, and their total never runs ahead of the rate by more
//! than the burst. The rate is passed in on every call, so a timetable that switches while
//! transfers wait takes effect on their next look.

/// Unused allowance kept while nothing is sent: a tenth of a second's worth, so a stream that
/// pauses cannot make up for it later with a burst.
pub const BURST_SECS: f64 = 0.1;

/// Half a byte: what float rounding may leave short of a ticket after a wait that should have
/// covered it exactly, and which must not turn into one more wait.
const SLACK: f64 = 0.5;

#[derive(Debug, Clone)]
pub struct Bucket {
    earned: f64,
    spent: f64,
    at: f64,
}

impl Bucket {
    /// Empty at `now`: the first bytes wait their share too.
    pub fn new(now: f64) -> Bucket {
        Bucket {
            earned: 0.0,
            spent: 0.0,
            at: now,
        }
    }

    fn refill(&mut self, now: f64, rate: Option<u64>) {
        let dt = (now - self.at).max(0.0);
        self.at = self.at.max(now);
        match rate {
            // No limit: every debt is forgiven and nothing is saved for later.
            None => self.earned = self.spent,
            Some(r) => {
                let r = r as f64;
                self.earned = (self.earned + dt * r).min(self.spent + r * BURST_SECS);
            }
        }
    }

    /// Reserves `n` bytes at `now`; `None` when they may go at once, else the ticket to wait on.
    pub fn reserve(&mut self, n: u64, now: f64, rate: Option<u64>) -> Option<f64> {
        self.refill(now, rate);
        self.spent += n as f64;
        if rate.is_none() {
            self.earned = self.spent;
        }
        (self.earned + SLACK < self.spent).then_some(self.spent)
    }

    /// How much longer the holder of `ticket` waits at the current rate; `None`: it may go.
    pub fn wait(&mut self, ticket: f64, now: f64, rate: Option<u64>) -> Option<f64> {
        self.refill(now, rate);
        match rate {
            Some(r) if self.earned + SLACK < ticket => Some((ticket - self.earned) / r as f64),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Longest nap the limiter takes between looks, as in mod.rs.
    const NAP: f64 = 0.2;

    /// One taker after another: the instant each take of `sizes` is granted, at `rate(t)`.
    fn grant_times(sizes: &[(u64, f64)], rate: impl Fn(f64) -> Option<u64>) -> Vec<f64> {
        let mut b = Bucket::new(0.0);
        let mut t = 0.0;
        let mut out = Vec::new();
        for &(n, gap) in sizes {
            t += gap;
            if let Some(ticket) = b.reserve(n, t, rate(t)) {
                while let Some(d) = b.wait(ticket, t, rate(t)) {
                    t += d.min(NAP);
                }
            }
            out.push(t);
        }
        out
    }

    #[test]
    fn a_megabyte_at_a_megabyte_a_second_takes_a_second() {
        let sizes = vec![(64 * 1024, 0.0); 16];
        let times = grant_times(&sizes, |_| Some(1 << 20));
        assert!((times[15] - 1.0).abs() < 1e-6, "{times:?}");
    }

    #[test]
    fn a_switch_to_off_frees_waiting_transfers_at_their_next_look() {
        let mut b = Bucket::new(0.0);
        let ticket = b.reserve(10 << 20, 0.0, Some(1 << 20)).unwrap();
        assert!(b.wait(ticket, 0.1, Some(1 << 20)).unwrap() > 9.0);
        assert_eq!(b.wait(ticket, 0.3, None), None);
        // Back to a limit: no debt and no saved burst from the unlimited time.
        assert!(b.reserve(1 << 20, 0.4, Some(1 << 20)).is_some());
    }

    #[test]
    fn concurrent_reservations_are_served_in_order_at_the_total_rate() {
        let mut b = Bucket::new(0.0);
        let rate = Some(1000);
        let first = b.reserve(500, 0.0, rate).unwrap();
        let second = b.reserve(500, 0.0, rate).unwrap();
        assert!((b.wait(first, 0.0, rate).unwrap() - 0.5).abs() < 1e-9);
        assert!((b.wait(second, 0.0, rate).unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(b.wait(first, 0.5, rate), None);
        assert!(b.wait(second, 0.5, rate).is_some());
        assert_eq!(b.wait(second, 1.0, rate), None);
    }

    proptest! {
        /// Smooth: in any window, what was granted is at most the rate times the window plus
        /// the burst (and the piece that opened the window, granted at its start).
        #[test]
        fn never_more_than_the_rate_plus_a_tenth_of_a_second(
            sizes in proptest::collection::vec((1u64..300_000, 0.0f64..0.5), 1..60),
            rate in 10_000u64..50_000_000,
        ) {
            let times = grant_times(&sizes, |_| Some(rate));
            let r = rate as f64;
            for i in 0..times.len() {
                let mut bytes = 0.0;
                for j in i..times.len() {
                    bytes += sizes[j].0 as f64;
                    let allowed = r * (times[j] - times[i]) + r * BURST_SECS + sizes[i].0 as f64;
                    prop_assert!(bytes <= allowed + 1.0, "{} > {} ({}..{})", bytes, allowed, i, j);
                }
            }
        }

        /// And no slower than the rate: back-to-back takes finish when the rate says.
        #[test]
        fn back_to_back_takes_finish_on_time(
            sizes in proptest::collection::vec(1u64..300_000, 1..60),
            rate in 10_000u64..50_000_000,
        ) {
            let pieces: Vec<(u64, f64)> = sizes.iter().map(|&n| (n, 0.0)).collect();
            let times = grant_times(&pieces, |_| Some(rate));
            let total: u64 = sizes.iter().sum();
            let expected = total as f64 / rate as f64;
            prop_assert!((times[times.len() - 1] - expected).abs() < 1e-6);
        }

        /// A timetable that lifts the limit at `switch`: nothing waits past it by more than a nap.
        #[test]
        fn lifting_the_limit_is_seen_within_a_nap(
            sizes in proptest::collection::vec((1u64..300_000, 0.0f64..0.2), 1..60),
            switch in 0.0f64..3.0,
        ) {
            let rate = |t: f64| (t < switch).then_some(100_000);
            let times = grant_times(&sizes, rate);
            let mut t = 0.0;
            for (&(_, gap), &granted) in sizes.iter().zip(&times) {
                let begun = t + gap;
                if begun >= switch {
                    prop_assert_eq!(granted, begun);
                } else {
                    prop_assert!(granted <= switch + NAP + 1e-9, "{} > {} + nap", granted, switch);
                }
                t = granted;
            }
        }
    }
}
