//! Repeats: runs of one configuration (one config hash) under different seeds form a
//! group with a mean and a sample standard deviation, and the noise rule says whether a
//! difference between two groups is larger than the seed-to-seed noise.

use serde::Serialize;

use crate::runs::history::{History, Run};
use crate::runs::{RunRow, RunStatus};

/// The noise rule, as `runs compare` states it.
pub const NOISE_RULE: &str = "a difference of means is \"within noise\" when it is no larger than 2 x the pooled \
standard error of the two sides, SE = s_p * sqrt(1/n_a + 1/n_b), where s_p^2 = ((n_a - 1) s_a^2 + (n_b - 1) s_b^2) \
/ (n_a + n_b - 2) pools the sample variances of the seeds; a single run brings no variance of its own, so it needs \
repeats on the other side. With no repeats on either side the noise is unknown: a paired bootstrap over the same \
test rows is not possible because run folders do not store predictions. 2 SE is a rough band, not a significance \
test: with 3 seeds a side a t-test would need about 2.8 SE for 95 %";

/// Mean and spread of one metric over a group's runs (the runs that have it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator); None for a single value.
    pub sd: Option<f64>,
}

impl Stat {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Stat> {
        let values: Vec<f64> = values.into_iter().collect();
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = (n >= 2).then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
        Some(Stat { n, mean, sd })
    }
}

/// Whether a difference stands out of the seed-to-seed noise ([`NOISE_RULE`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Noise {
    /// |difference| <= band = 2 x pooled SE.
    WithinNoise {
        band: f64,
    },
    BeyondNoise {
        band: f64,
    },
    /// No side has two or more runs.
    Unknown,
}

impl Noise {
    /// The verdict on `other.mean - base.mean`.
    pub fn judge(base: &Stat, other: &Stat) -> Noise {
        let freedom = (base.n - 1) + (other.n - 1);
        if freedom == 0 {
            return Noise::Unknown;
        }
        let sum_of_squares = |s: &Stat| (s.n - 1) as f64 * s.sd.unwrap_or(0.0).powi(2);
        let pooled = ((sum_of_squares(base) + sum_of_squares(other)) / freedom as f64).sqrt();
        let band = 2.0 * pooled * (1.0 / base.n as f64 + 1.0 / other.n as f64).sqrt();
        if (other.mean - base.mean).abs() <= band { Noise::WithinNoise { band } } else { Noise::BeyondNoise { band } }
    }

    /// The band the difference was held against; none when the noise is unknown.
    pub fn band(&self) -> Option<f64> {
        match self {
            Noise::WithinNoise { band } | Noise::BeyondNoise { band } => Some(*band),
            Noise::Unknown => None,
        }
    }

    pub fn words(&self) -> &'static str {
        match self {
            Noise::WithinNoise { .. } => "within noise",
            Noise::BeyondNoise { .. } => "beyond noise",
            Noise::Unknown => "noise unknown",
        }
    }
}

/// The runs of one configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub config_hash: String,
    /// `apg-group@aeff91b6`: the experiment and the start of the hash.
    pub label: String,
    /// The experiment names its runs were recorded under (one, unless renamed).
    pub experiments: Vec<String>,
    /// Every run of the configuration, in id order.
    pub runs: Vec<String>,
    /// The runs the statistics are over: the latest finished run of each seed.
    pub members: Vec<String>,
    pub seeds: Vec<u64>,
    /// The other runs, each as `id (why)`.
    pub excluded: Vec<String>,
    pub test_auc: Option<Stat>,
    pub test_logloss: Option<Stat>,
    pub test_gauc: Option<Stat>,
    pub best_valid_auc: Option<Stat>,
}

/// Splits the runs of a group (in id order, i.e. by start) into those its statistics are
/// over and the others, each with why it is left out. Only finished runs count, so that a
/// run cut short does not pass for a seed's result; and one run per seed, the latest, so
/// that a seed run twice is not counted twice.
pub fn split_members<'a>(runs: &[&'a Run]) -> (Vec<&'a Run>, Vec<String>) {
    fn finished(run: &Run) -> bool {
        run.manifest.status == RunStatus::Finished
    }
    let (mut members, mut excluded) = (Vec::new(), Vec::new());
    for (i, run) in runs.iter().enumerate() {
        let later = runs[i + 1..].iter().find(|r| finished(r) && r.manifest.seed == run.manifest.seed);
        match (finished(run), later) {
            (false, _) => excluded.push(format!("{} ({})", run.id(), run.manifest.status.name())),
            (true, Some(later)) => {
                excluded.push(format!("{} (seed {} run again as {})", run.id(), run.manifest.seed, later.id()))
            }
            (true, None) => members.push(*run),
        }
    }
    (members, excluded)
}

/// The label of the group of configuration `hash` first recorded as `experiment`.
pub fn group_label(experiment: &str, hash: &str) -> String {
    format!("{experiment}@{}", &hash[..hash.len().min(8)])
}

impl Group {
    /// The group of `runs`, which share a config hash.
    pub fn of<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Option<Group> {
        let runs: Vec<&Run> = runs.into_iter().collect();
        let first = runs.first()?;
        let (members, excluded) = split_members(&runs);
        let members: Vec<&RunRow> = members.iter().map(|r| &r.row).collect();
        let stat = |read: fn(&RunRow) -> Option<f64>| Stat::of(members.iter().filter_map(|r| read(r)));
        let mut experiments: Vec<String> = Vec::new();
        for run in &runs {
            if !experiments.contains(&run.manifest.experiment) {
                experiments.push(run.manifest.experiment.clone());
            }
        }
        Some(Group {
            config_hash: first.manifest.config_hash.clone(),
            label: group_label(&first.manifest.experiment, &first.manifest.config_hash),
            experiments,
            runs: runs.iter().map(|r| r.id().to_string()).collect(),
            members: members.iter().map(|r| r.id.clone()).collect(),
            seeds: members.iter().map(|r| r.seed).collect(),
            excluded,
            test_auc: stat(|r| r.test_auc),
            test_logloss: stat(|r| r.test_logloss),
            test_gauc: stat(|r| r.test_gauc),
            best_valid_auc: stat(|r| r.best_valid_auc),
        })
    }
}

/// The groups of a history, in the order of their first run.
pub fn groups(history: &History) -> Vec<Group> {
    let mut hashes: Vec<&str> = Vec::new();
    for run in &history.runs {
        if !hashes.contains(&run.manifest.config_hash.as_str()) {
            hashes.push(&run.manifest.config_hash);
        }
    }
    hashes
        .into_iter()
        .filter_map(|hash| Group::of(history.runs.iter().filter(|r| r.manifest.config_hash == hash)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_standard_deviation_by_hand() {
        let s = Stat::of([1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!((s.n, s.mean), (4, 2.5));
        assert!((s.sd.unwrap() - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(Stat::of([0.7]).unwrap().sd, None);
        assert_eq!(Stat::of([]), None);
    }

    fn verdict(base: &Stat, other: &Stat) -> (&'static str, f64) {
        match Noise::judge(base, other) {
            noise @ (Noise::WithinNoise { band } | Noise::BeyondNoise { band }) => (noise.words(), band),
            Noise::Unknown => ("noise unknown", f64::NAN),
        }
    }

    #[test]
    fn the_noise_band_is_two_pooled_standard_errors() {
        // s_a = s_b = 0.01, n = 3 each: SE = 0.01 sqrt(2/3), band = 0.01633.
        let a = Stat { n: 3, mean: 0.80, sd: Some(0.01) };
        let band = 2.0 * 0.01 * (2.0f64 / 3.0).sqrt();
        let (words, got) = verdict(&a, &Stat { mean: 0.815, ..a });
        assert_eq!(words, "within noise");
        assert!((got - band).abs() < 1e-12, "{got} {band}");
        assert_eq!(verdict(&a, &Stat { mean: 0.82, ..a }).0, "beyond noise");
        assert_eq!(verdict(&a, &Stat { mean: 0.78, ..a }).0, "beyond noise");
        // A single run borrows the group's variance: SE = 0.01 sqrt(1/3 + 1), band 0.0231.
        let single = Stat { n: 1, mean: 0.82, sd: None };
        let (words, got) = verdict(&a, &single);
        assert_eq!(words, "within noise");
        assert!((got - 2.0 * 0.01 * (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(verdict(&single, &single).0, "noise unknown");
        // Seeds that agree exactly: no difference is within noise, any other is beyond it.
        let exact = Stat { n: 3, mean: 0.8, sd: Some(0.0) };
        assert_eq!(verdict(&exact, &exact), ("within noise", 0.0));
        assert_eq!(verdict(&exact, &Stat { mean: 0.8001, ..exact }).0, "beyond noise");
    }
}
