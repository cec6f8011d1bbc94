//! The config's `[jobs.X.retention]` table as a [`Policy`]: an absent count is 0 and an absent
//! duration is `None`, both meaning "no such rule".

use super::Policy;
use crate::config;

impl From<&config::Retention> for Policy {
    fn from(r: &config::Retention) -> Self {
        let d = |v: Option<config::HumanDuration>| v.map(config::HumanDuration::get);
        Policy {
            keep_last: r.keep_last.unwrap_or(0),
            keep_hourly: r.keep_hourly.unwrap_or(0),
            keep_daily: r.keep_daily.unwrap_or(0),
            keep_weekly: r.keep_weekly.unwrap_or(0),
            keep_monthly: r.keep_monthly.unwrap_or(0),
            keep_yearly: r.keep_yearly.unwrap_or(0),
            keep_within: d(r.keep_within),
            keep_within_hourly: d(r.keep_within_hourly),
            keep_within_daily: d(r.keep_within_daily),
            keep_within_weekly: d(r.keep_within_weekly),
            keep_within_monthly: d(r.keep_within_monthly),
            keep_within_yearly: d(r.keep_within_yearly),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn absent_rules_make_an_empty_policy() {
        assert!(Policy::from(&config::Retention::default()).is_empty());
        let r = config::Retention {
            keep_last: Some(3),
            keep_within_daily: Some(config::HumanDuration(Duration::from_secs(86400))),
            ..Default::default()
        };
        let p = Policy::from(&r);
        assert_eq!(p.keep_last, 3);
        assert_eq!(p.keep_within_daily, Some(Duration::from_secs(86400)));
        assert!(!p.is_empty());
    }
}
