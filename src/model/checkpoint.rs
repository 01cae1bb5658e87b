//! Checkpoints: every dense parameter and embedding table of a model as named f32
//! tensors in one safetensors file, with the training step they hold in its metadata,
//! written atomically.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use dfdx::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

use crate::model::Model;

/// The metadata key of the training step a checkpoint holds.
pub const STEP_KEY: &str = "step";

/// The largest safetensors header read back (the format's own limit).
const MAX_HEADER: u64 = 100_000_000;

/// Saves `model`, as it is after training step `step`, to `path`: written to a
/// temporary file beside it (named after this process), synced, then renamed over it, so
/// `path` always holds a whole checkpoint whose step is the one in its metadata. A failed
/// save removes its temporary file and leaves `path` as it was.
pub fn save<D: Device<f32>>(model: &Model<D>, path: &Path, step: usize) -> Result<(), String> {
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
    let metadata = HashMap::from([(STEP_KEY.to_string(), step.to_string())]);
    let bytes = safetensors::serialize(views, &Some(metadata)).map_err(|e| e.to_string())?;
    let temporary = crate::process::temporary_path(path);
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(&bytes).and_then(|()| file.sync_all()))
        .map_err(|e| format!("cannot write {}: {e}", temporary.display()))
        .and_then(|()| {
            crate::fault_point::reached("checkpoint");
            std::fs::rename(&temporary, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Loads the checkpoint at `path` into `model`, built from the same experiment and data:
/// every dense parameter and embedding table is read by name, and a missing tensor, or
/// one of another shape or type, is an error naming it. Returns the step it holds.
pub fn load<D: Device<f32>>(model: &mut Model<D>, path: &Path) -> Result<Option<usize>, String> {
    let step = saved_step(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let tensors = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("{}: not a safetensors file: {e}", path.display()))?;
    let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
        let tensor = tensors.tensor(name).map_err(|_| {
            format!(
                "{}: no tensor `{name}`: the checkpoint is of another model than its run's config.toml",
                path.display()
            )
        })?;
        if tensor.dtype() != Dtype::F32 || tensor.shape() != shape {
            return Err(format!(
                "{}: tensor `{name}` is {:?} {:?}, the model needs F32 {shape:?}: the checkpoint is of another model \
                 or other data than its run's config.toml",
                path.display(),
                tensor.dtype(),
                tensor.shape()
            ));
        }
        Ok(tensor.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    };
    for i in 0..model.params.params.len() {
        let (name, shape) = (model.params.params[i].name.clone(), model.params.params[i].shape.clone());
        let values = read(&name, &shape)?;
        model.params.set(crate::model::params::P(i), &values);
    }
    for table in &mut model.tables {
        table.weights = read(&format!("embedding.{}", table.name), &[table.rows, table.dim])?;
    }
    model.unmerge();
    Ok(step)
}

/// The training step the checkpoint at `path` holds, from its metadata; None for a
/// checkpoint saved without one (by an older apg-bench). Only the header is read.
pub fn saved_step(path: &Path) -> Result<Option<usize>, String> {
    // Checked before opening: opening a FIFO would block.
    let metadata = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut length = [0u8; 8];
    file.read_exact(&mut length).map_err(|_| "not a safetensors file: shorter than its header".to_string())?;
    let length = u64::from_le_bytes(length);
    if length > MAX_HEADER || length > metadata.len() - 8 {
        return Err(format!("not a safetensors file: a header of {length} bytes"));
    }
    let mut header = vec![0u8; length as usize];
    file.read_exact(&mut header).map_err(|e| format!("cannot read its header: {e}"))?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| format!("not a safetensors header: {e}"))?;
    match header.get("__metadata__").and_then(|m| m.get(STEP_KEY)) {
        None => Ok(None),
        Some(step) => step
            .as_str()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("its metadata {STEP_KEY:?} is not a step: {step}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file written by hand: the 8-byte header length, the JSON header and
    /// one f32 tensor.
    fn handmade(header: &str) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&1.5f32.to_le_bytes());
        bytes
    }

    #[test]
    fn the_step_is_read_from_the_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let tensor = r#""w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#;
        std::fs::write(&path, handmade(&format!(r#"{{"__metadata__":{{"step":"880"}},{tensor}}}"#))).unwrap();
        assert_eq!(saved_step(&path), Ok(Some(880)));
        // Saved by an older version: no step.
        std::fs::write(&path, handmade(&format!("{{{tensor}}}"))).unwrap();
        assert_eq!(saved_step(&path), Ok(None));
        std::fs::write(&path, handmade(&format!(r#"{{"__metadata__":{{"step":"x"}},{tensor}}}"#))).unwrap();
        assert!(saved_step(&path).unwrap_err().contains("not a step"));
        // Torn: the header claims more than the file holds.
        std::fs::write(&path, &handmade(&format!("{{{tensor}}}"))[..20]).unwrap();
        assert!(saved_step(&path).is_err());
        std::fs::write(&path, b"abc").unwrap();
        assert!(saved_step(&path).is_err());
    }

    #[test]
    fn a_saved_checkpoint_holds_its_step_and_leaves_no_temporary_file() {
        use crate::config::experiment::LoadedExperiment;
        use crate::data::{self, LoadOptions};

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tiny.toml");
        let descriptor =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/synthetic-multidomain.toml"))
                .unwrap();
        assert!(descriptor.contains("rows = 200000"), "the built-in descriptor changed: update this test");
        std::fs::write(dir.path().join("data.toml"), descriptor.replace("rows = 200000", "rows = 500")).unwrap();
        std::fs::write(&file, "dataset = \"data.toml\"\n[model]\nhidden = [4]\nembedding_dim = 2\n").unwrap();
        let loaded = LoadedExperiment::from_file(&file).unwrap();
        let options = LoadOptions { no_cache: true, ..LoadOptions::default() };
        let (dataset, _) = data::load(&loaded.dataset, &options).unwrap();
        let model = Model::new(&loaded, &dataset, Cpu::default(), 1).unwrap();
        let path = dir.path().join("model.safetensors");
        save(&model, &path, 42).unwrap();
        assert_eq!(saved_step(&path), Ok(Some(42)));
        let bytes = std::fs::read(&path).unwrap();
        let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(tensors.len(), model.params.params.len() + model.tables.len());
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["data.toml", "model.safetensors", "tiny.toml"]);

        // A save that cannot write (the target folder is gone) leaves nothing behind.
        let missing = dir.path().join("gone").join("model.safetensors");
        assert!(save(&model, &missing, 43).unwrap_err().contains("cannot write"));
    }
}
