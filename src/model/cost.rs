//! What the model an experiment describes costs, before it is built: its dense parameters
//! (exactly what [`crate::model::Model::param_counts`] reports once it is built: the tests
//! build models and compare) and the floating-point operations per sample at inference.
//! The Conditions panel's preview shows these numbers for the design and for its static
//! counterpart.

use crate::config::experiment::{
    Aggregation, BaseModel, ConditionMode, InputAggregator, LoadedExperiment, OutputAggregator, Variant,
};

/// The cost of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Learned dense parameters: tower, APG factors, generators, batch-norm scales and
    /// shifts, attention weights, cross layers, output (not the embedding tables, and not
    /// batch norm's running statistics, which are not learned).
    pub dense_params: usize,
    /// Multiply-adds x 2 of one sample at inference (v5 merged), over the tower, the
    /// cross network and the output. Work done once per distinct condition of a batch
    /// (group- and mix-wise generators, v2's rebuilt W_i) is left out: it is shared by the
    /// batch's rows of that condition.
    pub flops_per_sample: usize,
    /// Self-wise conditions: the generators run for every sample (their FLOPs are counted).
    pub generator_per_sample: bool,
}

/// The cost of the model `experiment` describes (its `apg` settings included).
pub fn cost(experiment: &LoadedExperiment) -> Cost {
    let e = &experiment.experiment;
    let apg = &e.apg;
    let condition = &apg.condition;
    let input_width = experiment.input_width();
    let self_wise = condition.mode == ConditionMode::SelfWise;

    // The condition embeddings' widths, one list per generator input: all fields together,
    // or one field per generator under mix-wise output aggregation.
    let groups: Vec<Vec<usize>> = if apg.variant == Variant::Static || self_wise {
        Vec::new()
    } else {
        let widths = condition.fields.iter().map(|f| experiment.condition_width(f));
        if condition.mode == ConditionMode::Mix && condition.aggregation == Aggregation::Output {
            widths.map(|w| vec![w]).collect()
        } else {
            vec![widths.collect()]
        }
    };
    let aggregator = |group: &[usize]| if group.len() > 1 { condition.input_agg } else { InputAggregator::Concat };
    // The width of z after aggregation.
    let z_width = |group: &Vec<usize>| match aggregator(group) {
        InputAggregator::Concat => group.iter().sum(),
        InputAggregator::Mean | InputAggregator::Attention => group.first().copied().unwrap_or(0),
    };

    let mut params = 0;
    let mut flops = 0;
    // Attention over the condition fields: a learned query of one embedding's width.
    for group in &groups {
        if aggregator(group) == InputAggregator::Attention {
            params += group[0];
        }
    }
    let mut n_in = input_width;
    for (layer, &n_out) in e.model.hidden.iter().enumerate() {
        let apg_layer = experiment.is_apg_layer(layer);
        // The condition paths the layer runs under (one generator each).
        let widths: Vec<usize> = match () {
            _ if !apg_layer => Vec::new(),
            _ if self_wise => vec![n_in],
            _ => groups.iter().map(z_width).collect(),
        };
        let paths = if apg_layer && !self_wise { groups.len() } else { 1 };
        if e.model.batch_norm {
            params += 2 * n_out * paths;
        }
        if !apg_layer {
            params += n_in * n_out + n_out;
            flops += 2 * n_in * n_out;
            n_in = n_out;
            continue;
        }
        let (k, p) = (experiment.rank(layer), experiment.overparam(layer));
        params += match apg.variant {
            Variant::V4 => n_in * k + k * n_out,
            Variant::V5 => n_in * p + p * k + k * p + p * n_out,
            _ => 0,
        };
        if !apg.generate_bias {
            params += n_out;
        }
        let generated = match apg.variant {
            Variant::Static => 0,
            Variant::V1 => n_in * n_out,
            Variant::V2 | Variant::V3 => n_in * k + k * k + k * n_out,
            Variant::V4 | Variant::V5 => k * k,
        } + if apg.generate_bias { n_out } else { 0 };
        let mut generator_flops = 0;
        for &width in &widths {
            let mut from = width;
            for &hidden in &apg.generator_hidden {
                params += (from + 1) * hidden;
                generator_flops += 2 * from * hidden;
                from = hidden;
            }
            params += (from + 1) * generated;
            generator_flops += 2 * from * generated;
        }
        if widths.len() > 1 && condition.output_agg == OutputAggregator::Attention {
            params += widths.len();
        }
        let forward = match apg.variant {
            Variant::V1 | Variant::V2 | Variant::Static => 2 * n_in * n_out,
            Variant::V3 | Variant::V4 | Variant::V5 => 2 * (n_in * k + k * k + k * n_out),
        };
        flops += forward * paths;
        if self_wise {
            flops += generator_flops;
            if apg.variant == Variant::V2 {
                // W_i = U_i S_i V_i, rebuilt for every sample.
                flops += 2 * (n_in * k * k + n_in * k * n_out);
            }
        }
        n_in = n_out;
    }
    let cross_columns = match e.model.base {
        BaseModel::Dcn => 1,
        BaseModel::Dcnv2 => input_width,
        _ => 0,
    };
    let mut output_width = n_in;
    if cross_columns > 0 {
        let layers = e.model.cross_layers;
        params += layers * (input_width * cross_columns + input_width);
        flops += layers * 2 * input_width * cross_columns;
        output_width += input_width;
    }
    params += output_width + 1;
    flops += 2 * output_width;
    Cost {
        dense_params: params,
        flops_per_sample: flops,
        generator_per_sample: self_wise && apg.variant != Variant::Static,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-field dataset (16-wide embeddings) and an experiment over it.
    fn experiment(apg: &str) -> LoadedExperiment {
        let dir = tempfile::tempdir().unwrap();
        let data = "name = \"d\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"d.csv\"\n[label]\ncolumn = \"y\"\n\
                    [[fields]]\nname = \"a\"\nkind = \"categorical\"\n[[fields]]\nname = \"b\"\nkind = \"categorical\"\n";
        std::fs::write(dir.path().join("d.toml"), data).unwrap();
        let text = format!("dataset = \"d.toml\"\n[model]\nhidden = [8, 4]\nembedding_dim = 16\n{apg}");
        LoadedExperiment::from_text(&dir.path().join("e.toml"), &text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_static_tower_costs_its_dense_layers() {
        // Input 32 (two 16-wide embeddings) -> 8 -> 4 -> 1.
        let cost = cost(&experiment(""));
        assert_eq!(cost.dense_params, (32 * 8 + 8) + (8 * 4 + 4) + (4 + 1));
        assert_eq!(cost.flops_per_sample, 2 * (32 * 8 + 8 * 4 + 4));
        assert!(!cost.generator_per_sample);
    }

    #[test]
    fn a_v4_group_tower_counts_factors_and_generators_by_hand() {
        let cost = cost(&experiment(
            "[apg]\nvariant = \"v4\"\nrank = [3, 2]\n[apg.condition]\nmode = \"group\"\nfields = [\"a\"]\n",
        ));
        // Layer 0: U 32x3, V 3x8, generator 16 -> (3*3 core + 8 bias) with its bias.
        let layer0 = 32 * 3 + 3 * 8 + (16 + 1) * (9 + 8);
        // Layer 1: U 8x2, V 2x4, generator 16 -> (2*2 + 4).
        let layer1 = 8 * 2 + 2 * 4 + (16 + 1) * (4 + 4);
        assert_eq!(cost.dense_params, layer0 + layer1 + 4 + 1);
        let flops = 2 * (32 * 3 + 3 * 3 + 3 * 8) + 2 * (8 * 2 + 2 * 2 + 2 * 4) + 2 * 4;
        assert_eq!(cost.flops_per_sample, flops);
    }

    #[test]
    fn self_wise_generators_run_per_sample() {
        let cost = cost(&experiment("[apg]\nvariant = \"v4\"\nrank = [3, 2]\n[apg.condition]\nmode = \"self\"\n"));
        assert!(cost.generator_per_sample);
        let generators = 2 * 32 * (9 + 8) + 2 * 8 * (4 + 4);
        let flops = 2 * (32 * 3 + 3 * 3 + 3 * 8) + 2 * (8 * 2 + 2 * 2 + 2 * 4) + 2 * 4 + generators;
        assert_eq!(cost.flops_per_sample, flops);
    }
}
