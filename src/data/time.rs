//! Times in data files: parsing a value by the descriptor's `time_format` (a strftime
//! pattern, or epoch seconds / milliseconds) into seconds since 1970-01-01 UTC, and the
//! parts of a time (hour, weekday, day, month, date) as field values.

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, Timelike, Weekday};
use serde::{Deserialize, Serialize};

use crate::data::descriptor::{LoadedDescriptor, SplitKind};
use crate::data::encode::cut_sizes;
use crate::data::raw::{Parse, RawColumn, RawTable};
use crate::data::transform::split_column;

/// How a column's text holds a time.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeFormat {
    /// Whole or fractional seconds since 1970-01-01 UTC.
    EpochSeconds,
    /// Milliseconds since 1970-01-01 UTC.
    EpochMillis,
    /// A strftime pattern (`%Y-%m-%d %H:%M:%S`); times without a zone are UTC.
    Pattern { text: String, items: Vec<Item<'static>> },
}

impl TimeFormat {
    /// Reads a `time_format` value: `epoch_s`, `epoch_ms` or a strftime pattern with at
    /// least one field. The error says what is wrong with it.
    pub fn new(text: &str) -> Result<Self, String> {
        match text {
            "epoch_s" => return Ok(TimeFormat::EpochSeconds),
            "epoch_ms" => return Ok(TimeFormat::EpochMillis),
            _ => {}
        }
        let items = StrftimeItems::new(text)
            .parse_to_owned()
            .map_err(|_| format!("{text:?} is not a valid strftime pattern (e.g. \"%Y-%m-%d %H:%M:%S\")"))?;
        // A pattern that cannot read back a time it wrote lacks a date (or has a field
        // that parsing does not take).
        let sample = DateTime::from_timestamp(1_000_000_000, 0).expect("a constant in range");
        let written = sample.format_with_items(items.iter()).to_string();
        let format = TimeFormat::Pattern { text: text.to_string(), items };
        if format.seconds(&written).is_none() {
            return Err(format!(
                "{text:?} does not read a whole date (year, month and day): give a strftime pattern such as \
                 \"%Y-%m-%d\", or \"epoch_s\" / \"epoch_ms\""
            ));
        }
        Ok(format)
    }

    /// The format as the descriptor wrote it.
    pub fn text(&self) -> &str {
        match self {
            TimeFormat::EpochSeconds => "epoch_s",
            TimeFormat::EpochMillis => "epoch_ms",
            TimeFormat::Pattern { text, .. } => text,
        }
    }

    /// Seconds since 1970-01-01 UTC, or None when `value` does not match the format.
    /// A pattern without a time of day means midnight; one without minutes, minute 0.
    pub fn seconds(&self, value: &str) -> Option<i64> {
        match self {
            TimeFormat::EpochSeconds => epoch(value, 1.0),
            TimeFormat::EpochMillis => epoch(value, 1000.0),
            TimeFormat::Pattern { items, .. } => {
                let mut parsed = Parsed::new();
                chrono::format::parse(&mut parsed, value, items.iter()).ok()?;
                if parsed.timestamp.is_none() {
                    if parsed.hour_div_12().is_none() {
                        parsed.set_hour(0).ok()?;
                    }
                    if parsed.minute().is_none() {
                        parsed.set_minute(0).ok()?;
                    }
                }
                let seconds = match parsed.offset() {
                    Some(_) => parsed.to_datetime().ok()?.timestamp(),
                    None => parsed.to_naive_datetime_with_offset(0).ok()?.and_utc().timestamp(),
                };
                Some(seconds)
            }
        }
    }
}

fn epoch(value: &str, per_second: f64) -> Option<i64> {
    if let Ok(whole) = value.parse::<i64>() {
        return Some(whole.div_euclid(per_second as i64));
    }
    let number: f64 = value.parse().ok()?;
    number.is_finite().then(|| (number / per_second).floor() as i64)
}

/// A part of a time, as a field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePart {
    /// Hour of the day, 0 to 23.
    Hour,
    /// Day of the week, `Mon` to `Sun`.
    Weekday,
    /// Day of the month, 1 to 31.
    Day,
    /// Month, 1 to 12.
    Month,
    /// The date, `YYYY-MM-DD`.
    Date,
}

impl TimePart {
    /// Whether the part is a number (numeric fields may use it).
    pub fn is_number(self) -> bool {
        !matches!(self, TimePart::Weekday | TimePart::Date)
    }

    pub fn name(self) -> &'static str {
        match self {
            TimePart::Hour => "hour",
            TimePart::Weekday => "weekday",
            TimePart::Day => "day",
            TimePart::Month => "month",
            TimePart::Date => "date",
        }
    }

    /// The part of the time `seconds` after 1970-01-01 UTC, as text; None out of range.
    pub fn of(self, seconds: i64) -> Option<String> {
        let time = DateTime::from_timestamp(seconds, 0)?;
        Some(match self {
            TimePart::Hour => time.hour().to_string(),
            TimePart::Weekday => weekday_name(time.weekday()).to_string(),
            TimePart::Day => time.day().to_string(),
            TimePart::Month => time.month().to_string(),
            TimePart::Date => time.format("%Y-%m-%d").to_string(),
        })
    }
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Mon",
        Weekday::Tue => "Tue",
        Weekday::Wed => "Wed",
        Weekday::Thu => "Thu",
        Weekday::Fri => "Fri",
        Weekday::Sat => "Sat",
        Weekday::Sun => "Sun",
    }
}

/// A time as people read it, UTC: `2014-10-21 00:00:00`.
pub fn display(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .map_or_else(|| seconds.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// What a time split cannot tell by time: every row at one time (the split is then the
/// file order), or rows of one time on both sides of a cut (the file order decides
/// which side they fall on). None for other splits and for clean cuts.
pub fn split_warning(descriptor: &LoadedDescriptor, raw: &RawTable) -> Option<String> {
    let split = &descriptor.descriptor.split;
    if split.kind != SplitKind::Time {
        return None;
    }
    let index = raw.index_of(&split_column(split)?, &Parse::Number)?;
    let RawColumn::Numbers(times) = &raw.columns[index] else { return None };
    // Read back whole from its spill: the encoder holds the split's times the same way.
    let times = times.to_vec().ok()?;
    let column = split.column.as_deref().unwrap_or_default();
    let show = |t: f64| if split.time_format.is_some() { display(t as i64) } else { format!("{t}") };
    tie_warning(&times, split.ratios, column, show)
}

fn tie_warning(times: &[f64], ratios: [f64; 3], column: &str, show: impl Fn(f64) -> String) -> Option<String> {
    let mut sorted: Vec<f64> = times.iter().copied().filter(|t| !t.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let (first, last) = (*sorted.first()?, *sorted.last()?);
    if first == last {
        return Some(format!(
            "split.column `{column}`: all {} rows have the same time ({}), so the time split is the file order",
            sorted.len(),
            show(first)
        ));
    }
    let (n_train, n_valid) = cut_sizes(sorted.len(), ratios);
    let cuts = [(n_train, "training and validation"), (n_train + n_valid, "validation and test")];
    let mut straddling = Vec::new();
    for (cut, between) in cuts {
        if cut == 0 || cut >= sorted.len() || sorted[cut - 1] != sorted[cut] {
            continue;
        }
        let time = sorted[cut];
        let rows = sorted.iter().filter(|&&t| t == time).count();
        straddling.push(format!("{rows} rows at {} fall between {between}", show(time)));
    }
    (!straddling.is_empty()).then(|| {
        format!(
            "split.column `{column}`: {}; which side each falls on follows the file order",
            straddling.join(", and ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(format: &str, value: &str) -> Option<i64> {
        TimeFormat::new(format).unwrap().seconds(value)
    }

    // Expected values counted by hand: days since 1970-01-01 times 86,400, plus the time of
    // day. 2007-07-10 is day 13,704 (37 years of 365 days, 9 leap days, 190 days into 2007).
    #[test]
    fn patterns_parse_to_utc_seconds() {
        assert_eq!(seconds("%Y-%m-%d", "2007-07-10"), Some(13_704 * 86_400));
        assert_eq!(seconds("%Y-%m-%d %H:%M:%S", "2017-05-06 00:00:02"), Some(17_292 * 86_400 + 2));
        // Avazu's YYMMDDHH: no minutes in the pattern.
        assert_eq!(seconds("%y%m%d%H", "14102100"), Some(16_364 * 86_400));
        assert_eq!(seconds("%y%m%d%H", "14102113"), Some(16_364 * 86_400 + 13 * 3600));
        // MIND: a 12-hour clock with one-digit hours.
        assert_eq!(
            seconds("%m/%d/%Y %I:%M:%S %p", "11/15/2019 8:55:22 PM"),
            Some(18_215 * 86_400 + 20 * 3600 + 55 * 60 + 22)
        );
        // An offset is applied: 02:00 at +02:00 is midnight UTC.
        assert_eq!(seconds("%Y-%m-%dT%H:%M:%S%z", "2007-07-10T02:00:00+0200"), Some(13_704 * 86_400));
    }

    #[test]
    fn values_that_do_not_match_are_none() {
        assert_eq!(seconds("%Y-%m-%d", "10/07/2007"), None);
        assert_eq!(seconds("%Y-%m-%d", "2007-02-30"), None);
        assert_eq!(seconds("%y%m%d%H", "141021"), None);
        assert_eq!(seconds("epoch_s", "soon"), None);
    }

    #[test]
    fn epochs_in_seconds_and_milliseconds() {
        assert_eq!(seconds("epoch_s", "978300760"), Some(978_300_760));
        assert_eq!(seconds("epoch_s", "978300760.9"), Some(978_300_760));
        assert_eq!(seconds("epoch_ms", "978300760999"), Some(978_300_760));
        assert_eq!(seconds("epoch_ms", "-1"), Some(-1));
    }

    #[test]
    fn bad_formats_say_why() {
        assert!(TimeFormat::new("%Q").unwrap_err().contains("not a valid strftime pattern"));
        assert!(TimeFormat::new("date").unwrap_err().contains("does not read a whole date"));
        assert!(TimeFormat::new("%H:%M").unwrap_err().contains("does not read a whole date"));
        assert!(TimeFormat::new("%Y-%m").unwrap_err().contains("does not read a whole date"));
    }

    #[test]
    fn ties_at_the_cuts_are_told() {
        let show = |t: f64| format!("{t}");
        // 10 rows cut 8/1/1: the cuts fall after the 8th and the 9th sorted rows.
        let clean = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(tie_warning(&clean, [0.8, 0.1, 0.1], "t", show), None);
        let same = [5.0; 10];
        assert_eq!(
            tie_warning(&same, [0.8, 0.1, 0.1], "t", show).unwrap(),
            "split.column `t`: all 10 rows have the same time (5), so the time split is the file order"
        );
        let tied = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 8.0, 8.0];
        assert_eq!(
            tie_warning(&tied, [0.8, 0.1, 0.1], "t", show).unwrap(),
            "split.column `t`: 3 rows at 8 fall between training and validation, and 3 rows at 8 fall between \
             validation and test; which side each falls on follows the file order"
        );
    }

    #[test]
    fn parts_of_a_time() {
        // 2014-10-21 13:00 UTC was a Tuesday.
        let t = 16_364 * 86_400 + 13 * 3600;
        let parts: Vec<String> = [TimePart::Hour, TimePart::Weekday, TimePart::Day, TimePart::Month, TimePart::Date]
            .iter()
            .map(|p| p.of(t).unwrap())
            .collect();
        assert_eq!(parts, ["13", "Tue", "21", "10", "2014-10-21"]);
        // 1970-01-01 was a Thursday.
        assert_eq!(TimePart::Weekday.of(0).unwrap(), "Thu");
        assert_eq!(display(t), "2014-10-21 13:00:00");
    }
}
