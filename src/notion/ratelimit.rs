//! The one client-wide rate limiter: a GCRA (generic cell rate algorithm, equivalent to a token
//! bucket) shared by every task that talks to Notion, plus a global pause that a 429/529 with
//! `Retry-After` imposes on everybody, not only on the request that received it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    /// Time between requests at the sustained rate.
    interval: Duration,
    /// How far ahead of the sustained schedule a burst may run.
    tolerance: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Theoretical arrival time of the next request.
    tat: Instant,
    paused_until: Option<Instant>,
}

impl RateLimiter {
    /// `per_second` sustained requests with bursts of up to `burst` requests.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 { per_second } else { 3.0 };
        let interval = Duration::from_secs_f64(1.0 / per_second);
        let tolerance = interval * burst.max(1).saturating_sub(1);
        RateLimiter { interval, tolerance, inner: Mutex::new(Inner { tat: Instant::now(), paused_until: None }) }
    }

    /// Wait until a request may be sent, and reserve its slot.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.inner.lock().expect("rate limiter lock poisoned");
                let now = Instant::now();
                match s.paused_until {
                    Some(p) if p > now => Some(p - now),
                    _ => {
                        s.paused_until = None;
                        let tat = s.tat.max(now);
                        if tat > now + self.tolerance {
                            Some(tat - (now + self.tolerance))
                        } else {
                            s.tat = tat + self.interval;
                            None
                        }
                    }
                }
            };
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => return,
            }
        }
    }

    /// Stop everybody for `d` (a 429 or 529 with `Retry-After`), and restart at the sustained
    /// rate afterwards rather than with a fresh burst.
    pub fn pause(&self, d: Duration) {
        let mut s = self.inner.lock().expect("rate limiter lock poisoned");
        let until = Instant::now() + d;
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
        if s.tat < until + self.tolerance {
            s.tat = until + self.tolerance;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sustained_rate_and_burst() {
        let rl = RateLimiter::new(3.0, 3);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..12 {
            rl.acquire().await;
            times.push(start.elapsed());
        }
        // The burst of 3 goes at once; the other 9 at 1/3 s spacing.
        assert!(times[2] < Duration::from_millis(1));
        let last = times[11].as_secs_f64();
        assert!((last - 3.0).abs() < 0.01, "12 requests at 3/s with burst 3 should end at 3 s, ended at {last}");
        // Never more than burst + rate in any 1 s window.
        for (i, t) in times.iter().enumerate() {
            let n = times[i..].iter().take_while(|u| **u < *t + Duration::from_secs(1)).count();
            assert!(n <= 6, "window starting at {t:?} had {n} requests");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pause_blocks_everybody() {
        let rl = RateLimiter::new(100.0, 10);
        rl.pause(Duration::from_secs(2));
        let start = Instant::now();
        rl.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(2));
    }
}
