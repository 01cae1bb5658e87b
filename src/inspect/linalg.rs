//! The little linear algebra the inspector needs, on row-major f32 data in f64
//! arithmetic: norms, cosines, the mean, the share of variance a grouping explains, and
//! the first two principal components by block power iteration (the vectors have up to
//! N_in x N_out entries, so the covariance matrix is never formed).

/// The Frobenius (Euclidean) norm of `a - b`.
pub fn distance(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(&x, &m)| (x as f64 - m).powi(2)).sum::<f64>().sqrt()
}

/// The Euclidean norm.
pub fn norm(a: &[f32]) -> f64 {
    a.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt()
}

/// The cosine of the angle between `a` and `b`; None when either is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> Option<f64> {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
    let (na, nb) = (norm(a), norm(b));
    (na > 0.0 && nb > 0.0).then(|| (dot / (na * nb)).clamp(-1.0, 1.0))
}

/// The mean of `n` rows of width `d`.
pub fn mean_row(rows: &[f32], d: usize) -> Vec<f64> {
    let n = rows.len() / d.max(1);
    let mut mean = vec![0f64; d];
    for row in rows.chunks_exact(d) {
        mean.iter_mut().zip(row).for_each(|(m, &x)| *m += x as f64);
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    mean
}

/// How much of the rows' variance a grouping explains.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Share {
    /// Between-group sum of squares over total sum of squares (eta squared, in [0, 1]).
    pub eta2: f64,
    /// The same with what chance alone explains taken off (epsilon squared:
    /// (SS_between - (G - 1) SS_within / (n - G)) / SS_total, at least 0): a field with
    /// many values explains much of a few rows by chance. None when n = G.
    pub beyond_chance: Option<f64>,
}

/// The share of the rows' (width `d`) variance that their grouping by `labels`
/// explains. None when the rows do not vary.
pub fn explained_share(rows: &[f32], d: usize, labels: &[u32]) -> Option<Share> {
    let mean = mean_row(rows, d);
    let total: f64 = rows.chunks_exact(d).map(|r| distance(r, &mean).powi(2)).sum();
    if total <= 0.0 {
        return None;
    }
    let mut sums: std::collections::BTreeMap<u32, (Vec<f64>, usize)> = Default::default();
    for (row, &label) in rows.chunks_exact(d).zip(labels) {
        let (sum, count) = sums.entry(label).or_insert_with(|| (vec![0.0; d], 0));
        sum.iter_mut().zip(row).for_each(|(s, &x)| *s += x as f64);
        *count += 1;
    }
    let between: f64 = sums
        .values()
        .map(|(sum, count)| {
            let n = *count as f64;
            sum.iter().zip(&mean).map(|(s, m)| (s / n - m).powi(2)).sum::<f64>() * n
        })
        .sum();
    let (n, groups) = ((rows.len() / d) as f64, sums.len() as f64);
    let within = (total - between).max(0.0);
    let beyond_chance =
        (n > groups).then(|| ((between - (groups - 1.0) * within / (n - groups)) / total).clamp(0.0, 1.0));
    Some(Share { eta2: (between / total).clamp(0.0, 1.0), beyond_chance })
}

/// The first two principal components of `n` rows of width `d`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Each row's coordinates on the two components (centred).
    pub points: Vec<[f64; 2]>,
    /// The components' variances (the covariance's two largest eigenvalues, 1/n).
    pub variances: [f64; 2],
    /// The total variance (the covariance's trace).
    pub total: f64,
    /// The components, unit vectors of width d (sign: largest entry positive).
    pub components: [Vec<f64>; 2],
}

/// Block power (subspace) iteration on the covariance C = X_c^T X_c / n, applied as
/// X_c^T (X_c v) / n: two vectors, orthonormalised after each product, until the
/// subspace stops turning (or 1000 products).
pub fn pca2(rows: &[f32], d: usize) -> Pca {
    let n = rows.len() / d.max(1);
    let mean = mean_row(rows, d);
    let centred: Vec<f64> =
        rows.chunks_exact(d).flat_map(|r| r.iter().zip(&mean).map(|(&x, m)| x as f64 - m)).collect();
    let total: f64 = centred.iter().map(|x| x * x).sum::<f64>() / n.max(1) as f64;
    let apply = |v: &[f64]| -> Vec<f64> {
        let mut out = vec![0f64; d];
        for row in centred.chunks_exact(d) {
            let dot: f64 = row.iter().zip(v).map(|(a, b)| a * b).sum();
            out.iter_mut().zip(row).for_each(|(o, a)| *o += dot * a);
        }
        out.iter_mut().for_each(|o| *o /= n.max(1) as f64);
        out
    };
    // A fixed start that is not orthogonal to any direction in practice.
    let mut a: Vec<f64> = (0..d).map(|i| 1.0 + (i as f64 * 0.618_033_988_75).fract()).collect();
    let mut b: Vec<f64> = (0..d).map(|i| if i % 2 == 0 { 1.0 } else { -0.5 - (i as f64 * 0.414).fract() }).collect();
    orthonormalise(&mut a, &mut b);
    let mut variances = [0.0, 0.0];
    if total > 0.0 && d > 0 {
        for _ in 0..1000 {
            let (mut na, mut nb) = (apply(&a), apply(&b));
            orthonormalise(&mut na, &mut nb);
            let turned = 1.0 - dot(&na, &a).abs().min(1.0) + 1.0 - dot(&nb, &b).abs().min(1.0);
            a = na;
            b = nb;
            if turned < 1e-13 {
                break;
            }
        }
        // Rayleigh quotients of the final vectors, the larger first.
        variances = [dot(&apply(&a), &a), dot(&apply(&b), &b)];
        if variances[1] > variances[0] {
            std::mem::swap(&mut a, &mut b);
            variances.swap(0, 1);
        }
    }
    for v in [&mut a, &mut b] {
        let largest = v.iter().copied().fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if largest < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
    }
    let points = centred.chunks_exact(d).map(|r| [dot(r, &a), dot(r, &b)]).collect();
    Pca { points, variances: variances.map(|v| v.max(0.0)), total, components: [a, b] }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Gram-Schmidt on two vectors; a vector that vanishes is replaced by a unit vector
/// orthogonal to the other.
fn orthonormalise(a: &mut [f64], b: &mut [f64]) {
    let unit = |v: &mut [f64]| {
        let n = dot(v, v).sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
        n > 0.0
    };
    if !unit(a) {
        a.iter_mut().enumerate().for_each(|(i, x)| *x = if i == 0 { 1.0 } else { 0.0 });
    }
    let along = dot(a, b);
    b.iter_mut().zip(a.iter()).for_each(|(x, y)| *x -= along * y);
    if !unit(b) && b.len() > 1 {
        // Any direction orthogonal to a.
        b.iter_mut().enumerate().for_each(|(i, x)| *x = if i == 1 { 1.0 } else { 0.0 });
        let along = dot(a, b);
        b.iter_mut().zip(a.iter()).for_each(|(x, y)| *x -= along * y);
        unit(b);
    }
}

/// Values at fractions `qs` of the sorted values (linear between neighbours).
pub fn quantiles(values: &[f64], qs: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    qs.iter()
        .map(|&q| {
            if sorted.is_empty() {
                return f64::NAN;
            }
            let at = q * (sorted.len() - 1) as f64;
            let (low, high) = (at.floor() as usize, at.ceil() as usize);
            sorted[low] + (sorted[high] - sorted[low]) * (at - low as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosines_and_distances_of_small_vectors() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 2.0]), Some(0.0));
        assert!((cosine(&[1.0, 1.0], &[1.0, 0.0]).unwrap() - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), None);
        assert!((distance(&[3.0, 4.0], &[0.0, 0.0]) - 5.0).abs() < 1e-12);
    }

    #[test]
    fn the_share_explained_by_a_grouping_is_eta_squared() {
        // Rows 0, 2 | 10, 12: mean 6, total SS 36+16+16+36 = 104; group means 1 and 11,
        // between SS 2*25 + 2*25 = 100.
        let rows = [0.0, 2.0, 10.0, 12.0];
        let share = explained_share(&rows, 1, &[0, 0, 1, 1]).unwrap();
        assert!((share.eta2 - 100.0 / 104.0).abs() < 1e-12);
        // Within SS 4 over n - G = 2 rows: (100 - 1 * 4 / 2) / 104.
        assert!((share.beyond_chance.unwrap() - 98.0 / 104.0).abs() < 1e-12);
        assert_eq!(explained_share(&[1.0, 1.0], 1, &[0, 1]), None);
    }

    #[test]
    fn pca_of_points_on_known_axes() {
        // Four points (±3, 0) and (0, ±1) rotated by 45 degrees: variances 4.5 and 0.5.
        let r = std::f64::consts::FRAC_1_SQRT_2;
        let base = [(3.0, 0.0), (-3.0, 0.0), (0.0, 1.0), (0.0, -1.0)];
        let rows: Vec<f32> =
            base.iter().flat_map(|&(x, y)| [(r * (x - y)) as f32, (r * (x + y)) as f32, 5.0]).collect();
        let pca = pca2(&rows, 3);
        assert!((pca.variances[0] - 4.5).abs() < 1e-6, "{:?}", pca.variances);
        assert!((pca.variances[1] - 0.5).abs() < 1e-6, "{:?}", pca.variances);
        assert!((pca.total - 5.0).abs() < 1e-6);
        assert!((pca.components[0][0] - r).abs() < 1e-6 && (pca.components[0][1] - r).abs() < 1e-6);
        assert!(pca.components[0][2].abs() < 1e-9);
        assert!((pca.points[0][0] - 3.0).abs() < 1e-6 && pca.points[0][1].abs() < 1e-6);
        assert!((pca.points[2][1].abs() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantiles(&[4.0, 1.0, 2.0, 3.0], &[0.0, 0.5, 1.0]), vec![1.0, 2.5, 4.0]);
    }
}
