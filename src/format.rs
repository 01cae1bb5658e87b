//! Numbers as people read them in tables and exports: `12.3k` samples/s, `1m05s`,
//! `1,234,567` parameters, AUCs to four decimals.

use serde::Serialize;

/// `0.554` -> `55.4%`.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `12.3k`: a rate with three significant figures.
pub fn rate(per_second: f64) -> String {
    match per_second {
        r if r >= 1e6 => format!("{:.2}M", r / 1e6),
        r if r >= 1e3 => format!("{:.1}k", r / 1e3),
        r => format!("{r:.0}"),
    }
}

/// A measured figure with about three significant digits: `1.24M`, `56.3k`, `412`,
/// `55.1`, `1.07`.
pub fn figure(value: f64) -> String {
    match value.abs() {
        v if v >= 1e3 => rate(value),
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

/// `1h02m`, `3m05s`, `12.3s`, `0.84s`: three significant digits below a minute.
pub fn duration(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    match whole {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        _ if seconds.abs() < 9.995 => format!("{seconds:.2}s"),
        _ => format!("{seconds:.1}s"),
    }
}

/// `value` with `decimals` decimals, or fewer until it fits in `width` characters: the
/// digits dropped are rounded away, never cut (`0.8106` in five is `0.811`). A number
/// too long even without decimals is written whole.
pub fn fit_decimal(value: f64, decimals: usize, width: usize) -> String {
    (0..=decimals)
        .rev()
        .map(|d| format!("{value:.d$}"))
        .find(|text| text.chars().count() <= width)
        .unwrap_or_else(|| format!("{value:.0}"))
}

/// A count in at most `width` characters: `10,041`, else `10041`, else rounded to
/// thousands or millions (`10.0k`, `10k`, `1.2M`). Written whole if nothing fits.
pub fn fit_count(n: u64, width: usize) -> String {
    let value = n as f64;
    let scaled =
        |unit: f64, suffix: &str| [format!("{:.1}{suffix}", value / unit), format!("{:.0}{suffix}", value / unit)];
    let mut candidates = vec![thousands(n), n.to_string()];
    candidates.extend(scaled(1e3, "k"));
    candidates.extend(scaled(1e6, "M"));
    candidates.into_iter().find(|text| text.chars().count() <= width).unwrap_or_else(|| n.to_string())
}

/// How a metric's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// AUC, logloss: four decimals.
    Metric,
    /// Steps, parameters: a whole number with thousands separators.
    Count,
    /// Samples per second.
    Rate,
    /// Seconds.
    Duration,
}

impl Format {
    pub fn value(self, v: f64) -> String {
        match self {
            Format::Metric => format!("{v:.4}"),
            Format::Count => thousands(v.max(0.0).round() as u64),
            Format::Rate => rate(v),
            Format::Duration => duration(v),
        }
    }

    /// A difference, always signed: `+0.0123`, `-1,200`, `+3.1k`, `-12.0s`.
    pub fn delta(self, d: f64) -> String {
        let sign = if d < 0.0 { "-" } else { "+" };
        format!("{sign}{}", self.value(d.abs()))
    }

    /// An optional value, `-` when absent.
    pub fn maybe(self, v: Option<f64>) -> String {
        v.map_or_else(|| "-".into(), |v| self.value(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        assert_eq!(thousands(1_234_567u64), "1,234,567");
        assert_eq!(thousands(999u64), "999");
        assert_eq!(rate(12_345.0), "12.3k");
        assert_eq!(duration(65.0), "1m05s");
        assert_eq!(duration(245.4), "4m05s");
        assert_eq!(duration(12.34), "12.3s");
        assert_eq!(duration(0.84), "0.84s");
        assert_eq!(duration(9.996), "10.0s");
        assert_eq!(Format::Metric.delta(-0.00123), "-0.0012");
        assert_eq!(Format::Count.delta(1200.0), "+1,200");
        assert_eq!(Format::Metric.maybe(None), "-");
    }

    #[test]
    fn numbers_fit_a_width_by_rounding() {
        assert_eq!(fit_decimal(0.8106, 4, 6), "0.8106");
        assert_eq!(fit_decimal(0.8106, 4, 5), "0.811", "rounded, not cut to 0.810");
        assert_eq!(fit_decimal(0.8106, 4, 4), "0.81");
        assert_eq!(fit_decimal(0.9996, 4, 5), "1.000");
        assert_eq!(fit_decimal(12.3456, 4, 5), "12.35");
        assert_eq!(fit_decimal(123456.0, 4, 3), "123456", "too long: whole");
        assert_eq!(fit_count(10_041, 6), "10,041");
        assert_eq!(fit_count(10_041, 5), "10041");
        assert_eq!(fit_count(10_041, 4), "10k", "never 10,04");
        assert_eq!(fit_count(123_456, 5), "123k");
        assert_eq!(fit_count(1_260_000, 4), "1.3M");
        assert_eq!(fit_count(1_260_000, 7), "1260000");
    }
}
