//! Throttling in front of the service, as the platform does it: the API gateway's token bucket
//! (`rate-limit`: 429 `APIGW.0308`, no `Retry-After`, as the gateway's error codes document) and
//! a server that sheds one request in 25 with `Retry-After: 1` (`throttle-retry-after`). Both are
//! conformant: a client is told to slow down, nothing about the operation changes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::catalogue::{Behaviour, Variant};
use crate::error::SetupError;

/// `throttle-retry-after`: every this-many-th request is answered 429.
const SHED_EVERY: u64 = 25;
/// What `throttle-retry-after` asks for, in seconds.
const SHED_RETRY_AFTER_S: u64 = 1;

/// A gateway limit: `limit` requests per `window` (`100/s`, `6000/min`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

impl RateLimit {
    /// What `--variant rate-limit` sets without `--rate-limit`: high enough that a whole default
    /// run stays a few seconds, low enough that it is met many times.
    pub const DEFAULT: RateLimit = RateLimit { limit: 1000, window: Duration::from_secs(1) };

    /// The gateway's own words for the window (`time:1 second`).
    fn window_words(&self) -> &'static str {
        if self.window >= Duration::from_secs(60) {
            "1 minute"
        } else {
            "1 second"
        }
    }
}

impl std::str::FromStr for RateLimit {
    type Err = SetupError;

    /// `N/s`, `N/min` or a bare `N` (per second); N at least 1.
    fn from_str(text: &str) -> Result<RateLimit, SetupError> {
        let bad = || {
            SetupError::Argument(format!(
                "`--rate-limit {text}`: give requests per second or per minute, like `100/s` or `6000/min`"
            ))
        };
        let (n, unit) = text.trim().split_once('/').unwrap_or((text.trim(), "s"));
        let limit: u32 = n.trim().parse().map_err(|_| bad())?;
        let window = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            _ => return Err(bad()),
        };
        if limit == 0 {
            return Err(bad());
        }
        Ok(RateLimit { limit, window })
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = if self.window >= Duration::from_secs(60) { "min" } else { "s" };
        write!(f, "{}/{unit}", self.limit)
    }
}

/// Why a request was not let through: the status, the gateway's code and message, and the
/// `Retry-After` seconds if any.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Throttled {
    pub message: String,
    pub retry_after_s: Option<u64>,
}

/// The code the gateway answers throttling with.
pub(crate) const THROTTLED_CODE: &str = "APIGW.0308";

/// The throttles one server applies, before authentication (the gateway answers first).
#[derive(Debug)]
pub(crate) struct Throttle {
    bucket: Option<(RateLimit, Mutex<(f64, Instant)>)>,
    shed: bool,
    seen: AtomicU64,
    /// Answers throttled so far (what `serve` reports at the end).
    pub refused: AtomicU64,
}

impl Throttle {
    pub(crate) fn new(behaviour: &Behaviour, limit: Option<RateLimit>) -> Throttle {
        let limit = limit.or(behaviour.chose(Variant::RateLimit).then_some(RateLimit::DEFAULT));
        Throttle {
            // A full bucket at the start: a gateway's first second is not throttled.
            bucket: limit.map(|l| (l, Mutex::new((f64::from(l.limit), Instant::now())))),
            shed: behaviour.chose(Variant::ThrottleRetryAfter),
            seen: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// `Some` when this request is to be answered 429.
    pub(crate) fn check(&self, now: Instant) -> Option<Throttled> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        let out = if self.shed && n % SHED_EVERY == 0 {
            Some(Throttled {
                message: "The throttling threshold has been reached: server busy, retry later".into(),
                retry_after_s: Some(SHED_RETRY_AFTER_S),
            })
        } else {
            self.take(now)
        };
        if out.is_some() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        out
    }

    /// One token from the bucket (refilled continuously at `limit` per `window`), or a refusal.
    fn take(&self, now: Instant) -> Option<Throttled> {
        let (limit, state) = self.bucket.as_ref()?;
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = &mut *state;
        let refill = now.saturating_duration_since(*at).as_secs_f64() / limit.window.as_secs_f64();
        *tokens = (*tokens + refill * f64::from(limit.limit)).min(f64::from(limit.limit));
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return None;
        }
        Some(Throttled {
            message: format!(
                "The throttling threshold has been reached: policy user over ratelimit,limit:{},time:{}",
                limit.limit,
                limit.window_words()
            ),
            retry_after_s: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_per_second_and_per_minute() {
        assert_eq!("100/s".parse::<RateLimit>().unwrap(), RateLimit { limit: 100, window: Duration::from_secs(1) });
        assert_eq!("6000/min".parse::<RateLimit>().unwrap().window, Duration::from_secs(60));
        assert_eq!("50".parse::<RateLimit>().unwrap().limit, 50);
        for bad in ["", "0/s", "x/s", "10/h", "-1"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        assert_eq!("6000/min".parse::<RateLimit>().unwrap().to_string(), "6000/min");
    }

    #[test]
    fn the_bucket_lets_its_limit_through_then_refills() {
        let behaviour = Behaviour::default();
        let t = Throttle::new(&behaviour, Some(RateLimit { limit: 10, window: Duration::from_secs(1) }));
        let t0 = Instant::now();
        assert!((0..10).all(|_| t.check(t0).is_none()));
        let refused = t.check(t0).expect("the 11th in the same instant is throttled");
        assert!(refused.message.ends_with("limit:10,time:1 second"), "{}", refused.message);
        assert_eq!(refused.retry_after_s, None);
        // A tenth of a second later, one more token.
        assert!(t.check(t0 + Duration::from_millis(100)).is_none());
        assert!(t.check(t0 + Duration::from_millis(100)).is_some());
    }

    #[test]
    fn shedding_answers_one_in_25_with_retry_after() {
        let behaviour = Behaviour::new(None, &[Variant::ThrottleRetryAfter]);
        let t = Throttle::new(&behaviour, None);
        let now = Instant::now();
        let shed: Vec<u64> = (1..=100).filter(|_| t.check(now).is_some()).collect();
        assert_eq!(shed.len(), 4);
        assert_eq!(t.refused.load(Ordering::Relaxed), 4);
    }
}
