//! Abuse limits kept in memory by each instance: sliding-window rate limits
//! per key (an IP, an account, a clinician), and a progressive lock-out of an
//! account after repeated wrong passwords. A limited request gets 429 with
//! `Retry-After`. Several instances each keep their own counts, so the
//! effective limit behind a load balancer is at most N times the setting.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong passwords in a row before the first lock-out.
pub const FREE_FAILURES: u32 = 5;
/// The longest lock-out: the right password works again within a minute.
pub const MAX_LOCK: Duration = Duration::from_secs(60);
/// Keys are forgotten after this long without a hit.
const IDLE: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub struct Limits {
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Limits {
    /// Counts a request under `key`; `Err(seconds to wait)` once `max` requests
    /// fell within `per`.
    pub fn hit(&self, key: &str, max: u32, per: Duration) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < IDLE));
        }
        let q = map.entry(key.to_owned()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= per) {
            q.pop_front();
        }
        if q.len() >= max as usize {
            let wait = q.front().map_or(per, |t| per.saturating_sub(now.duration_since(*t)));
            return Err(secs(wait).max(1));
        }
        q.push_back(now);
        Ok(())
    }

    /// `Err(seconds)` while `account` is locked out after wrong passwords.
    pub fn locked(&self, account: &str) -> Result<(), u64> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(account) {
            Some((n, last)) if *n >= FREE_FAILURES => {
                let lock = lock_for(*n);
                let since = Instant::now().duration_since(*last);
                if since < lock { Err(secs(lock - since).max(1)) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    /// A wrong password for `account`.
    pub fn failed(&self, account: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (_, t)| now.duration_since(*t) < IDLE);
        }
        let e = map.entry(account.to_owned()).or_insert((0, now));
        // A pause longer than the idle time starts the count again.
        if now.duration_since(e.1) >= IDLE {
            e.0 = 0;
        }
        e.0 += 1;
        e.1 = now;
    }

    /// The right password: the count starts again.
    pub fn succeeded(&self, account: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(account);
    }
}

/// The client's IP for per-IP limits: the peer, or behind a trusted proxy the
/// address it forwards.
pub fn client_ip(req: &actix_web::HttpRequest, trust_forwarded: bool) -> String {
    if trust_forwarded && let Some(ip) = req.connection_info().realip_remote_addr() {
        return ip.to_owned();
    }
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
}

/// 1 s after the fifth wrong password in a row, doubling with each further one, at most a minute.
fn lock_for(failures: u32) -> Duration {
    let extra = failures.saturating_sub(FREE_FAILURES).min(6);
    Duration::from_secs(1u64 << extra).min(MAX_LOCK)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_window_counts_per_key() {
        let l = Limits::default();
        for _ in 0..3 {
            assert!(l.hit("ip:1", 3, Duration::from_secs(60)).is_ok());
        }
        let wait = l.hit("ip:1", 3, Duration::from_secs(60)).unwrap_err();
        assert!((59..=60).contains(&wait), "{wait}");
        assert!(l.hit("ip:2", 3, Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn lock_out_grows_and_stays_under_a_minute() {
        let l = Limits::default();
        for _ in 0..FREE_FAILURES - 1 {
            l.failed("a");
        }
        assert!(l.locked("a").is_ok(), "four wrong passwords are free");
        l.failed("a");
        assert_eq!(l.locked("a"), Err(1));
        for _ in 0..10 {
            l.failed("a");
        }
        assert!(l.locked("a").unwrap_err() <= 60);
        l.succeeded("a");
        assert!(l.locked("a").is_ok());
        assert_eq!(lock_for(6), Duration::from_secs(2));
        assert_eq!(lock_for(40), MAX_LOCK);
    }
}
