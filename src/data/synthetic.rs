//! The built-in synthetic multi-domain CTR generator: deterministic for a seed, with
//! user domains whose click rules really differ (domain-specific feature interactions),
//! long-tailed domain sizes, Zipf item popularity and user activity, and cold users who
//! behave differently from active ones. Every row keeps its true click probability,
//! so the Bayes-optimal AUC (the headroom) can be reported.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use crate::data::DataError;
use crate::data::raw::RawTable;

/// Bump whenever the generated data changes for a given spec: caches key on it.
pub const GENERATOR_VERSION: u32 = 4;

/// Columns the generator produces, in order.
pub const COLUMNS: [&str; 8] = ["user", "item", "item_category", "domain", "device", "hour", "price", "click"];

const DEVICES: [&str; 4] = ["phone", "tablet", "desktop", "tv"];
/// Dimension of the hidden user taste and category style vectors.
const TASTE_DIM: usize = 4;
/// Dimension of the shared context features.
const CONTEXT_DIM: usize = 6;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticSpec {
    pub rows: usize,
    pub seed: u64,
    pub domains: usize,
    pub users: usize,
    pub items: usize,
    pub categories: usize,
    /// Zipf exponent of domain sizes (larger: a longer tail of small domains).
    pub domain_skew: f64,
    /// Zipf exponent of item popularity and of user activity.
    pub item_skew: f64,
    pub user_skew: f64,
    /// Scale of the domain-specific interactions; 0 makes every domain follow one rule.
    pub domain_strength: f64,
    /// Scale of each domain's own effect tables over item (by item id mod 50), category,
    /// hour and device, which no two domains share (like the effects in real domains
    /// that follow different rules); 0 turns them off.
    pub domain_rules: f64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            rows: 200_000,
            seed: 7,
            domains: 6,
            users: 5_000,
            items: 3_000,
            categories: 24,
            domain_skew: 1.2,
            item_skew: 1.1,
            user_skew: 1.0,
            domain_strength: 1.0,
            domain_rules: 0.5,
        }
    }
}

/// Sampling from fixed weights by binary search over the cumulative sums.
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    /// Zipf-like weights (rank + offset)^-skew, assigned to ids in a shuffled order so
    /// that popularity is not tied to the id.
    fn zipf(n: usize, skew: f64, offset: f64, rng: &mut Pcg64) -> Self {
        let mut weights: Vec<f64> = (0..n).map(|rank| (rank as f64 + offset).powf(-skew)).collect();
        for i in (1..n).rev() {
            weights.swap(i, rng.gen_range(0..=i));
        }
        Self::new(&weights)
    }

    fn new(weights: &[f64]) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    fn share(&self, id: usize) -> f64 {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let before = if id == 0 { 0.0 } else { self.cumulative[id - 1] };
        (self.cumulative[id] - before) / total
    }

    fn sample(&self, rng: &mut Pcg64) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let x = rng.r#gen::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len() - 1)
    }
}

fn normal(rng: &mut Pcg64) -> f64 {
    rng.sample(StandardNormal)
}

fn normals(n: usize, rng: &mut Pcg64) -> Vec<f64> {
    (0..n).map(|_| normal(rng)).collect()
}

/// The hidden world the clicks come from.
struct World {
    user_domain: Vec<usize>,
    /// Active users (the most active 30 % by expected rows) follow their taste; cold
    /// users follow item popularity more.
    user_active: Vec<bool>,
    user_bias: Vec<f64>,
    user_taste: Vec<f64>,
    item_category: Vec<usize>,
    item_bias: Vec<f64>,
    /// Hidden style of each item category (TASTE_DIM each).
    category_style: Vec<f64>,
    item_price: Vec<f64>,
    /// Per domain: base rate, taste matrix (TASTE_DIM^2), category x device table,
    /// price slope, device mix.
    domain_base: Vec<f64>,
    domain_taste: Vec<Vec<f64>>,
    /// Shared context features phi(category, device, hour) = tanh(sum of per-value
    /// vectors), CONTEXT_DIM wide, read out by a weight vector per domain.
    category_context: Vec<f64>,
    device_context: Vec<f64>,
    hour_context: Vec<f64>,
    domain_readout: Vec<Vec<f64>>,
    domain_price: Vec<f64>,
    domain_devices: Vec<Weighted>,
    /// Per domain, independent effects of item bucket, category, hour and device.
    domain_item: Vec<Vec<f64>>,
    domain_category: Vec<Vec<f64>>,
    domain_hour: Vec<Vec<f64>>,
    domain_device: Vec<Vec<f64>>,
}

/// Items share their domain-specific effect by id modulo this (as hashed ids do).
const ITEM_BUCKETS: usize = 50;

impl World {
    fn new(spec: &SyntheticSpec, users: &Weighted, rng: &mut Pcg64) -> Self {
        let strength = spec.domain_strength;
        let domains = Weighted::zipf(spec.domains, spec.domain_skew, 1.0, rng);
        let user_domain: Vec<usize> = (0..spec.users).map(|_| domains.sample(rng)).collect();
        let mut shares: Vec<f64> = (0..spec.users).map(|u| users.share(u)).collect();
        shares.sort_by(|a, b| b.total_cmp(a));
        let active_cut = shares[(spec.users * 3 / 10).min(spec.users - 1)];
        let user_active = (0..spec.users).map(|u| users.share(u) > active_cut).collect();
        let shared_taste = normals(TASTE_DIM * TASTE_DIM, rng);
        let shared_readout = normals(CONTEXT_DIM, rng);
        let mix = |shared: &[f64], rng: &mut Pcg64| -> Vec<f64> {
            shared.iter().map(|s| 0.4 * s + strength * normal(rng)).collect()
        };
        // The domain rules come from their own stream, so the rest of the world (and every
        // row's features) stays what it was without them.
        let mut rules_rng = Pcg64::seed_from_u64(spec.seed ^ 0x5eed_d0a1);
        let mut tables = |size: usize| -> Vec<Vec<f64>> {
            (0..spec.domains).map(|_| normals(size, &mut rules_rng).iter().map(|v| spec.domain_rules * v).collect()).collect()
        };
        let (domain_item, domain_category, domain_hour, domain_device) =
            (tables(ITEM_BUCKETS), tables(spec.categories), tables(24), tables(DEVICES.len()));
        World {
            domain_item,
            domain_category,
            domain_hour,
            domain_device,
            user_domain,
            user_active,
            user_bias: normals(spec.users, rng),
            user_taste: normals(spec.users * TASTE_DIM, rng),
            item_category: (0..spec.items).map(|_| rng.gen_range(0..spec.categories)).collect(),
            item_bias: normals(spec.items, rng),
            category_style: normals(spec.categories * TASTE_DIM, rng),
            item_price: (0..spec.items).map(|_| (1.5 + 0.8 * normal(rng)).exp()).collect(),
            domain_base: (0..spec.domains).map(|_| -1.0 + 0.4 * normal(rng)).collect(),
            domain_taste: (0..spec.domains).map(|_| mix(&shared_taste, rng)).collect(),
            category_context: normals(spec.categories * CONTEXT_DIM, rng),
            device_context: normals(DEVICES.len() * CONTEXT_DIM, rng),
            hour_context: normals(24 * CONTEXT_DIM, rng).iter().map(|v| 0.5 * v).collect(),
            domain_readout: (0..spec.domains)
                .map(|_| mix(&shared_readout, rng).iter().map(|v| 0.8 * v).collect())
                .collect(),
            domain_price: (0..spec.domains).map(|_| strength * 0.8 * normal(rng)).collect(),
            domain_devices: (0..spec.domains)
                .map(|_| Weighted::new(&(0..DEVICES.len()).map(|_| rng.r#gen::<f64>() + 0.1).collect::<Vec<_>>()))
                .collect(),
        }
    }

    /// The click logit of a row: the rule of the row's domain.
    fn logit(&self, user: usize, item: usize, domain: usize, device: usize, hour: usize) -> f64 {
        let category = self.item_category[item];
        let taste: f64 = (0..TASTE_DIM)
            .flat_map(|a| (0..TASTE_DIM).map(move |b| (a, b)))
            .map(|(a, b)| {
                self.user_taste[user * TASTE_DIM + a]
                    * self.domain_taste[domain][a * TASTE_DIM + b]
                    * self.category_style[category * TASTE_DIM + b]
            })
            .sum::<f64>()
            / TASTE_DIM as f64;
        // The same context features everywhere, weighted differently in each domain.
        let context: f64 = (0..CONTEXT_DIM)
            .map(|j| {
                let phi = (self.category_context[category * CONTEXT_DIM + j]
                    + self.device_context[device * CONTEXT_DIM + j]
                    + self.hour_context[hour * CONTEXT_DIM + j])
                    .tanh();
                self.domain_readout[domain][j] * phi
            })
            .sum();
        let price = self.domain_price[domain] * (self.item_price[item].ln() - 1.5);
        let (taste_weight, popularity_weight) = if self.user_active[user] { (1.0, 0.2) } else { (0.3, 0.6) };
        let rules = self.domain_item[domain][item % ITEM_BUCKETS]
            + self.domain_category[domain][category]
            + self.domain_hour[domain][hour]
            + self.domain_device[domain][device];
        self.domain_base[domain]
            + rules
            + 0.3 * self.user_bias[user]
            + popularity_weight * self.item_bias[item]
            + taste_weight * taste
            + context
            + price
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Checks the spec and fills `table` with `spec.rows` generated rows.
pub fn generate(spec: &SyntheticSpec, table: &mut RawTable) -> Result<(), DataError> {
    let invalid = |message: String| DataError::Invalid { dataset: "synthetic".into(), message };
    if spec.rows < 10 || spec.domains == 0 || spec.users == 0 || spec.items == 0 || spec.categories == 0 {
        return Err(invalid("synthetic: rows must be >= 10 and domains, users, items, categories >= 1".into()));
    }
    if ![spec.domain_rules, spec.domain_strength].iter().all(|v| (0.0..=100.0).contains(v)) {
        return Err(invalid("synthetic: domain_strength and domain_rules must be between 0 and 100".into()));
    }
    let mut rng = Pcg64::seed_from_u64(spec.seed);
    let users = Weighted::zipf(spec.users, spec.user_skew, 5.0, &mut rng);
    let items = Weighted::zipf(spec.items, spec.item_skew, 10.0, &mut rng);
    let world = World::new(spec, &users, &mut rng);

    let names = |prefix: &str, n: usize| -> Vec<String> { (0..n).map(|i| format!("{prefix}{i}")).collect() };
    let (user_names, item_names) = (names("u", spec.users), names("i", spec.items));
    let (category_names, domain_names, hour_names) =
        (names("c", spec.categories), names("d", spec.domains), names("", 24));
    let prices: Vec<String> = world.item_price.iter().map(|p| format!("{p:.2}")).collect();

    let header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    let origin = Path::new("<synthetic>");
    let binding = table.bind(&header, origin)?;
    let mut oracle = Vec::with_capacity(spec.rows);
    for row in 0..spec.rows {
        let user = users.sample(&mut rng);
        let domain = if rng.r#gen::<f64>() < 0.9 { world.user_domain[user] } else { rng.gen_range(0..spec.domains) };
        let item = items.sample(&mut rng);
        let device = world.domain_devices[domain].sample(&mut rng);
        let hour = rng.gen_range(0..24);
        let p = sigmoid(world.logit(user, item, domain, device, hour));
        let click = rng.r#gen::<f64>() < p;
        oracle.push(p as f32);
        let cells: [&[u8]; 8] = [
            user_names[user].as_bytes(),
            item_names[item].as_bytes(),
            category_names[world.item_category[item]].as_bytes(),
            domain_names[domain].as_bytes(),
            DEVICES[device].as_bytes(),
            hour_names[hour].as_bytes(),
            prices[item].as_bytes(),
            if click { b"1" } else { b"0" },
        ];
        table.push(&binding, &cells[..], origin, row as u64 + 1)?;
    }
    table.oracle = Some(oracle);
    Ok(())
}
