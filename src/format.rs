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
}
