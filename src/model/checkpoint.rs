//! Checkpoints: every dense parameter and embedding table of a model as named f32
//! tensors in one safetensors file, written atomically.

use std::path::Path;

use dfdx::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

use crate::model::Model;

pub fn save<D: Device<f32>>(model: &Model<D>, path: &Path) -> Result<(), String> {
    let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for param in &model.params.params {
        let bytes = param.tensor.as_vec().iter().flat_map(|v| v.to_le_bytes()).collect();
        named.push((param.name.clone(), param.shape.clone(), bytes));
    }
    for table in &model.tables {
        let bytes = table.weights.iter().flat_map(|v| v.to_le_bytes()).collect();
        named.push((format!("embedding.{}", table.name), vec![table.rows, table.dim], bytes));
    }
    let views: Vec<(String, TensorView<'_>)> = named
        .iter()
        .map(|(name, shape, bytes)| {
            Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).map_err(|e| e.to_string())?))
        })
        .collect::<Result<_, String>>()?;
    let temporary = path.with_extension("safetensors.tmp");
    safetensors::serialize_to_file(views, &None, &temporary).map_err(|e| e.to_string())?;
    std::fs::rename(&temporary, path).map_err(|e| e.to_string())
}
