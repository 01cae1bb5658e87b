//! Evaluation metrics (docs/model.md, "Loss and metrics"): AUC (Mann-Whitney, ties
//! counted 1/2), logloss with clipped probabilities, GAUC over a group field, RelaImpr.
//! A bottom module: training, the data statistics and run comparison all use it.

/// Area under the ROC curve; None when the labels hold only one class, NaN when a score
/// is NaN (a diverged model ranks nothing).
/// Equals P(score of a random positive > score of a random negative) + 1/2 P(tie).
pub fn auc(scores: &[f32], labels: &[u8]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "one score per label");
    if scores.iter().any(|s| s.is_nan()) {
        // A NaN equals nothing, not even itself, so no tie group below could hold it.
        return labels_have_both_classes(labels).then_some(f64::NAN);
    }
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
    let positives = labels.iter().filter(|&&l| l == 1).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Sum of the (average, 1-based) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let score = scores[order[start] as usize];
        let mut end = start;
        while end < order.len() && scores[order[end] as usize] == score {
            end += 1;
        }
        let average_rank = (start + end + 1) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| labels[i as usize] == 1).count();
        rank_sum += average_rank * tied_positives as f64;
        start = end;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

fn labels_have_both_classes(labels: &[u8]) -> bool {
    labels.contains(&1) && labels.iter().any(|&l| l != 1)
}

/// Mean binary cross-entropy of probabilities clipped to [1e-7, 1 - 1e-7].
pub fn logloss(probabilities: &[f32], labels: &[u8]) -> f64 {
    let total: f64 = probabilities
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = (p as f64).clamp(1e-7, 1.0 - 1e-7);
            if y == 1 { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / labels.len().max(1) as f64
}

/// GAUC and what it averaged over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gauc {
    /// None when no group holds both classes.
    pub value: Option<f64>,
    /// Groups holding both classes, and their rows: those the average is over.
    pub groups: usize,
    pub rows: usize,
}

/// Group AUC: sum_g n_g AUC_g / sum_g n_g over groups holding both classes.
pub fn gauc(scores: &[f32], labels: &[u8], groups: &[u32]) -> Gauc {
    let mut by_group: rustc_hash::FxHashMap<u32, Vec<usize>> = Default::default();
    for (row, &g) in groups.iter().enumerate() {
        by_group.entry(g).or_default().push(row);
    }
    let (mut weighted, mut counted) = (0.0, Gauc { value: None, groups: 0, rows: 0 });
    for rows in by_group.values() {
        let s: Vec<f32> = rows.iter().map(|&r| scores[r]).collect();
        let l: Vec<u8> = rows.iter().map(|&r| labels[r]).collect();
        if let Some(a) = auc(&s, &l) {
            weighted += a * rows.len() as f64;
            counted.groups += 1;
            counted.rows += rows.len();
        }
    }
    Gauc { value: (counted.rows > 0).then(|| weighted / counted.rows as f64), ..counted }
}

/// RelaImpr = ((AUC - 0.5) / (AUC_base - 0.5) - 1) x 100 %. None when the baseline is
/// no better than chance (AUC_base <= 0.5): the ratio's sign would then say a worse model
/// improves on it.
pub fn rela_impr(auc: f64, baseline_auc: f64) -> Option<f64> {
    (baseline_auc > 0.5 && auc.is_finite()).then(|| ((auc - 0.5) / (baseline_auc - 0.5) - 1.0) * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        // Pairs (pos, neg): (0.8,0.1) win, (0.8,0.4) win, (0.35,0.1) win, (0.35,0.4) loss.
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]), Some(0.75));
    }

    #[test]
    fn auc_counts_ties_half() {
        assert_eq!(auc(&[0.5, 0.5, 0.5, 0.5], &[0, 1, 0, 1]), Some(0.5));
        // pos 0.5 vs negs {0.5 tie, 0.2 win}: 1.5/2.
        assert_eq!(auc(&[0.5, 0.5, 0.2], &[1, 0, 0]), Some(0.75));
    }

    /// Found by the fuzz harness (`train.eps = 5e-324`, zero in f32, made the model NaN):
    /// a NaN score never closed its tie group and the evaluation looped for ever.
    #[test]
    fn auc_of_nan_scores_is_nan() {
        assert!(auc(&[f32::NAN, 0.2, f32::NAN, 0.7], &[1, 0, 0, 1]).unwrap().is_nan());
        assert_eq!(auc(&[f32::NAN, 0.2], &[1, 1]), None);
        assert!(gauc(&[f32::NAN, 0.2, 0.3], &[1, 0, 1], &[0, 0, 0]).value.unwrap().is_nan());
    }

    #[test]
    fn auc_needs_both_classes() {
        assert_eq!(auc(&[0.1, 0.2], &[1, 1]), None);
    }

    #[test]
    fn logloss_by_hand_and_clipped() {
        let expected = -(0.8f64.ln() + 0.75f64.ln()) / 2.0;
        assert!((logloss(&[0.8, 0.25], &[1, 0]) - expected).abs() < 1e-6);
        assert!((logloss(&[0.0], &[1]) - -(1e-7f64).ln()).abs() < 1e-6);
    }

    #[test]
    fn gauc_skips_single_class_groups() {
        // Group 0: AUC 1.0 over 2 rows; group 1: AUC 0.0 over 2 rows; group 2 one class.
        let scores = [0.9, 0.1, 0.2, 0.8, 0.5];
        let labels = [1, 0, 1, 0, 1];
        let groups = [0, 0, 1, 1, 2];
        assert_eq!(gauc(&scores, &labels, &groups), Gauc { value: Some(0.5), groups: 2, rows: 4 });
        assert_eq!(gauc(&scores[4..], &labels[4..], &groups[4..]), Gauc { value: None, groups: 0, rows: 0 });
    }

    #[test]
    fn rela_impr_by_hand() {
        assert!((rela_impr(0.8, 0.75).unwrap() - 20.0).abs() < 1e-9);
        // A baseline at or below chance has no RelaImpr: (0.45 - 0.5) / (0.48 - 0.5) - 1
        // would be +150 % for a model worse than it.
        assert_eq!(rela_impr(0.45, 0.48), None);
        assert_eq!(rela_impr(0.7, 0.5), None);
    }
}
