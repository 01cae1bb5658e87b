//! UTC timestamps for run ids and manifests, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in UTC, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl UtcTime {
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// `2026-11-29T16:35:00Z` (RFC 3339).
    pub fn rfc3339(&self) -> String {
        let UtcTime { year, month, day, hour, minute, second } = self;
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }

    /// `20261129-163500`: sorts like the time it names.
    pub fn compact(&self) -> String {
        let UtcTime { year, month, day, hour, minute, second } = self;
        format!("{year:04}{month:02}{day:02}-{hour:02}{minute:02}{second:02}")
    }
}

impl From<SystemTime> for UtcTime {
    fn from(time: SystemTime) -> Self {
        // A clock before 1970 is a broken clock: clamp it rather than fail a run.
        let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let of_day = seconds.rem_euclid(86_400) as u32;
        UtcTime { year, month, day, hour: of_day / 3600, minute: of_day / 60 % 60, second: of_day % 60 }
    }
}

/// (year, month, day) of a day counted from 1970-01-01, in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: u64) -> UtcTime {
        UtcTime::from(UNIX_EPOCH + Duration::from_secs(seconds))
    }

    #[test]
    fn formats_known_moments() {
        assert_eq!(at(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400).rfc3339(), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_700_000_000).rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(at(4_102_444_799).rfc3339(), "2099-12-31T23:59:59Z");
        assert_eq!(at(1_700_000_000).compact(), "20231114-221320");
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        let mut previous = civil_from_days(-1);
        for day in 0..200_000 {
            let today = civil_from_days(day);
            let next_day = (previous.0, previous.1, previous.2 + 1);
            let next_month = (previous.0, previous.1 + 1, 1);
            let next_year = (previous.0 + 1, 1, 1);
            assert!(today == next_day || today == next_month || today == next_year, "{previous:?} -> {today:?}");
            previous = today;
        }
    }
}
