//! Whether a dataset's splits can train, validate and test a model: refused before the
//! first step otherwise. An empty or one-class validation split would never move the
//! best step (its AUC is undefined, its logloss of no rows is 0), and an empty test
//! split would end the run without test metrics, both reported as a finished run.

use crate::config::ConfigError;
use crate::data::descriptor::SplitKind;
use crate::data::{EncodedDataset, LoadedDescriptor};

/// Ok when the training and validation splits hold both classes and the test split
/// holds rows; else a message naming the descriptor's file, line and key to change, and
/// how many rows of each class the split holds.
pub fn check(dataset: &EncodedDataset, descriptor: &LoadedDescriptor) -> Result<(), String> {
    let d = &descriptor.descriptor;
    let error = |key: &str, message: String| ConfigError::at_key(&descriptor.file, &descriptor.text, key, message);
    let all_positives = dataset.labels.iter().filter(|&&l| l == 1).count();
    let dataset_has_both = all_positives > 0 && all_positives < dataset.rows();
    for (part, rows) in dataset.split.parts() {
        let positives = rows.iter().filter(|&&r| dataset.labels[r as usize] == 1).count();
        let negatives = rows.len() - positives;
        let (name, purpose) = match part {
            "train" => ("training", "the model learns nothing from one class"),
            "valid" => ("validation", "AUC, early stopping and the choice of the best model need both classes"),
            _ => ("test", "the run would end without test metrics"),
        };
        let share_key = match (d.split.kind, part) {
            (SplitKind::Files, "train") => "split.train",
            (SplitKind::Files, "valid") if d.split.valid.is_some() => "split.valid",
            (SplitKind::Files, "test") => "split.test",
            _ => "split.ratios",
        };
        let counts = format!("{} rows: {positives} positive, {negatives} negative", rows.len());
        if rows.is_empty() {
            let change = if share_key == "split.ratios" {
                format!("give it a share in split.ratios (now {:?})", d.split.ratios)
            } else {
                format!("give it rows in {share_key}")
            };
            return Err(error(share_key, format!("the {name} split holds no rows ({purpose}): {change}")).to_string());
        }
        if part != "test" && (positives == 0 || negatives == 0) {
            let message = format!("the {name} split holds one class only ({counts}); {purpose}");
            let located = match d.label.threshold {
                Some(threshold) if !dataset_has_both => error(
                    "label.threshold",
                    format!(
                        "{message}. Every label of the dataset is {} with label.threshold = {threshold}: change it",
                        dataset.labels[0]
                    ),
                ),
                None if !dataset_has_both => error(
                    "label.column",
                    format!("{message}. Every label of column `{}` is {}", d.label.column, dataset.labels[0]),
                ),
                _ => error(
                    share_key,
                    format!(
                        "{message}. Change {share_key}{} so that it holds both{}",
                        if share_key == "split.ratios" {
                            format!(" (now {:?})", d.split.ratios)
                        } else {
                            String::new()
                        },
                        if d.label.threshold.is_some() { " (or label.threshold)" } else { "" }
                    ),
                ),
            };
            return Err(located.to_string());
        }
    }
    Ok(())
}
