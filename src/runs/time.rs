//! UTC timestamps for run ids and manifests, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in UTC, to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millisecond: u32,
}

impl UtcTime {
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// `2026-11-29T16:35:00.125Z` (RFC 3339, milliseconds: short runs' wall times need them).
    pub fn rfc3339(&self) -> String {
        let UtcTime { year, month, day, hour, minute, second, millisecond } = self;
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millisecond:03}Z")
    }

    /// Reads `2026-11-29T16:35:00.125Z`, the form [`rfc3339`](Self::rfc3339) writes, or
    /// `2026-11-29T16:35:00Z`, the whole seconds earlier versions wrote (UTC both); None
    /// for anything else.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let (text, millisecond) = match text.split_once('.') {
            Some((whole, fraction)) => {
                let digits = fraction.strip_suffix('Z')?;
                if digits.len() != 3 || !digits.bytes().all(|d| d.is_ascii_digit()) {
                    return None;
                }
                (format!("{whole}Z"), digits.parse().ok()?)
            }
            None => (text.to_string(), 0),
        };
        let b = text.as_bytes();
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')];
        if b.len() != 20 || separators.iter().any(|&(i, c)| b[i] != c) {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let digits = &text[range];
            if digits.bytes().all(|d| d.is_ascii_digit()) { digits.parse().ok() } else { None }
        };
        let time = UtcTime {
            year: i64::from(number(0..4)?),
            month: number(5..7)?,
            day: number(8..10)?,
            hour: number(11..13)?,
            minute: number(14..16)?,
            second: number(17..19)?,
            millisecond,
        };
        // Round-tripping through seconds rejects 2026-02-30 and 25:00.
        let whole = std::time::Duration::from_secs(time.unix_seconds().max(0) as u64);
        let millis = std::time::Duration::from_millis(millisecond.into());
        (UtcTime::from(UNIX_EPOCH + whole + millis) == time).then_some(time)
    }

    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub fn unix_seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour * 3600 + self.minute * 60 + self.second)
    }

    /// Seconds from `earlier` to this moment, to the millisecond.
    pub fn seconds_since(&self, earlier: &UtcTime) -> f64 {
        let millis = |t: &UtcTime| t.unix_seconds() * 1000 + i64::from(t.millisecond);
        (millis(self) - millis(earlier)) as f64 / 1000.0
    }

    /// `20261129-163500`: sorts like the time it names.
    pub fn compact(&self) -> String {
        let UtcTime { year, month, day, hour, minute, second, .. } = self;
        format!("{year:04}{month:02}{day:02}-{hour:02}{minute:02}{second:02}")
    }
}

impl From<SystemTime> for UtcTime {
    fn from(time: SystemTime) -> Self {
        // A clock before 1970 is a broken clock: clamp it rather than fail a run.
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = since.as_secs() as i64;
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let of_day = seconds.rem_euclid(86_400) as u32;
        UtcTime {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day / 60 % 60,
            second: of_day % 60,
            millisecond: since.subsec_millis(),
        }
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

/// Days from 1970-01-01 to (year, month, day): the inverse of [`civil_from_days`]
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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
        assert_eq!(at(0).rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400).rfc3339(), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(1_700_000_000).rfc3339(), "2023-11-14T22:13:20.000Z");
        assert_eq!(at(4_102_444_799).rfc3339(), "2099-12-31T23:59:59.000Z");
        assert_eq!(at(1_700_000_000).compact(), "20231114-221320");
        let later = UtcTime::from(UNIX_EPOCH + Duration::from_millis(1_700_000_000_840));
        assert_eq!(later.rfc3339(), "2023-11-14T22:13:20.840Z");
    }

    #[test]
    fn wall_times_keep_milliseconds() {
        let start = UtcTime::parse_rfc3339("2023-11-14T22:13:20.160Z").unwrap();
        let end = UtcTime::parse_rfc3339("2023-11-14T22:13:21.000Z").unwrap();
        assert_eq!(end.seconds_since(&start), 0.84);
        // Whole seconds, as earlier versions wrote them, still read.
        let old = UtcTime::parse_rfc3339("2023-11-14T22:13:20Z").unwrap();
        assert_eq!(start.seconds_since(&old), 0.16);
    }

    #[test]
    fn parses_what_it_writes() {
        for seconds in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            let time = at(seconds);
            assert_eq!(UtcTime::parse_rfc3339(&time.rfc3339()), Some(time));
            assert_eq!(time.unix_seconds(), seconds as i64);
        }
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-29T25:00:00Z",
            "2026-11-29 16:35:00Z",
            "2026-11-29T16:35:00",
            "2026-11-29T16:35:00.5Z",
            "2026-11-29T16:35:00.+12Z",
            "",
        ] {
            assert_eq!(UtcTime::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        let mut previous = civil_from_days(-1);
        for day in 0..200_000 {
            let today = civil_from_days(day);
            assert_eq!(days_from_civil(today.0, today.1, today.2), day);
            let next_day = (previous.0, previous.1, previous.2 + 1);
            let next_month = (previous.0, previous.1 + 1, 1);
            let next_year = (previous.0 + 1, 1, 1);
            assert!(today == next_day || today == next_month || today == next_year, "{previous:?} -> {today:?}");
            previous = today;
        }
    }
}
