//! The safetensors files of a checkpoint, single (`model.safetensors`) or sharded
//! (`model.safetensors.index.json` naming each tensor's shard), read through Hugging Face's
//! `safetensors` crate, and their tensors read in their stored precision (f32, bf16 or f16).

use std::collections::{BTreeMap, BTreeSet};

use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use td_transformer::matrix::{self, Bf16, Matrix, F16};

use crate::Files;

/// Every tensor of a checkpoint, by name, over its (parsed) files.
pub struct TensorStore<'a> {
    /// The parsed files, by file name.
    files: BTreeMap<&'a str, SafeTensors<'a>>,
    /// Tensor name -> file name.
    owner: BTreeMap<String, &'a str>,
    /// Bytes of the files (headers included).
    file_bytes: usize,
}

/// The single-file name and the shard index's name.
pub const SINGLE: &str = "model.safetensors";
pub const INDEX: &str = "model.safetensors.index.json";

fn dtype_name(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::F32 => "f32",
        Dtype::F16 => "f16",
        Dtype::BF16 => "bf16",
        Dtype::F64 => "f64",
        Dtype::I64 => "i64",
        Dtype::I32 => "i32",
        Dtype::I16 => "i16",
        Dtype::I8 => "i8",
        Dtype::U8 => "u8",
        Dtype::BOOL => "bool",
        _ => "another dtype",
    }
}

impl<'a> TensorStore<'a> {
    /// Parses the checkpoint's safetensors files: the shards of `model.safetensors.index.json` if
    /// there is one, else `model.safetensors`.
    pub fn open(files: &'a Files) -> Result<TensorStore<'a>, String> {
        let names: Vec<String> = if let Some(index) = files.get(INDEX) {
            shard_names(index)?
        } else if files.contains_key(SINGLE) {
            vec![SINGLE.to_string()]
        } else {
            return Err(format!(
                "the checkpoint has neither {SINGLE} nor {INDEX} (a .bin or .pt checkpoint is not \
                 read: convert it to safetensors)"
            ));
        };
        let mut store = TensorStore {
            files: BTreeMap::new(),
            owner: BTreeMap::new(),
            file_bytes: 0,
        };
        for name in names {
            let (key, bytes) = files
                .get_key_value(&name)
                .ok_or_else(|| format!("{INDEX} names {name}, which is missing"))?;
            let parsed = SafeTensors::deserialize(bytes).map_err(|e| {
                format!("{name} is not a readable safetensors file (truncated or corrupt?): {e}")
            })?;
            for tensor in parsed.names() {
                if let Some(other) = store.owner.insert(tensor.to_string(), key.as_str()) {
                    return Err(format!("tensor {tensor} is in both {other} and {name}"));
                }
            }
            store.files.insert(key.as_str(), parsed);
            store.file_bytes += bytes.len();
        }
        Ok(store)
    }

    /// Whether a tensor of this name exists.
    pub fn has(&self, name: &str) -> bool {
        self.owner.contains_key(name)
    }

    /// Every tensor name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.owner.keys().map(String::as_str)
    }

    /// Errs naming the tensors (up to 3, and how many) that are neither in `expected` nor
    /// accepted by `ignored`: a tensor the architecture does not have means a computation this
    /// build does not do.
    pub fn check_no_others(
        &self,
        expected: &[String],
        ignored: impl Fn(&str) -> bool,
        architecture: &str,
    ) -> Result<(), String> {
        let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        let others: Vec<&str> = self
            .names()
            .filter(|n| !expected.contains(n) && !ignored(n))
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = others.iter().copied().take(3).collect();
        Err(format!(
            "{} tensor(s) a {architecture} model does not have: {}{}",
            others.len(),
            shown.join(", "),
            if others.len() > 3 { ", …" } else { "" }
        ))
    }

    /// The dtypes stored, by name (`"bf16"`, …), each once.
    pub fn dtypes(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .files
            .values()
            .flat_map(|f| f.tensors().into_iter().map(|(_, v)| dtype_name(v.dtype())))
            .collect();
        set.into_iter().map(str::to_string).collect()
    }

    /// The shape of tensor `name`.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        let file = self.files.get(self.owner.get(name)?)?;
        file.tensor(name).ok().map(|v| v.shape().to_vec())
    }

    /// Bytes of the safetensors files read (headers included).
    pub fn file_bytes(&self) -> usize {
        self.file_bytes
    }

    /// The precision of the checkpoint's matrices (its tensors of two or more dimensions): the
    /// widest one if they differ, f32 if any is neither f16 nor bf16 (such a tensor is refused
    /// when read).
    pub fn matrix_dtype(&self) -> matrix::Dtype {
        let dtypes = self.files.values().flat_map(|f| {
            f.tensors()
                .into_iter()
                .filter(|(_, v)| v.shape().len() >= 2)
                .map(|(_, v)| v.dtype())
                .collect::<Vec<_>>()
        });
        let stored = |d: Dtype| match d {
            Dtype::BF16 => matrix::Dtype::Bf16,
            Dtype::F16 => matrix::Dtype::F16,
            _ => matrix::Dtype::F32,
        };
        dtypes
            .map(stored)
            .max_by_key(|d| d.size())
            .unwrap_or(matrix::Dtype::F32)
    }

    /// Tensor `name` in its stored precision (f32, f16 or bf16), checked to have `shape` and
    /// finite values.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Matrix, String> {
        let file = self
            .owner
            .get(name)
            .and_then(|f| self.files.get(f))
            .ok_or_else(|| format!("tensor {name} is missing"))?;
        let view = file
            .tensor(name)
            .map_err(|e| format!("tensor {name}: {e}"))?;
        if view.shape() != shape {
            return Err(format!(
                "tensor {name} has shape {:?}; the config implies {shape:?}",
                view.shape()
            ));
        }
        let bytes = view.data();
        let halves = || {
            bytes
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        let values = match view.dtype() {
            Dtype::F32 => Matrix::F32(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Dtype::F16 => Matrix::F16(halves().map(F16).collect()),
            Dtype::BF16 => Matrix::Bf16(halves().map(Bf16).collect()),
            other => {
                return Err(format!(
                    "tensor {name} is stored as {}; weights must be f32, f16 or bf16",
                    dtype_name(other)
                ))
            }
        };
        if let Some(i) = values.first_non_finite() {
            return Err(format!(
                "tensor {name} holds a non-finite value at element {i} (a corrupt or diverged \
                 checkpoint)"
            ));
        }
        Ok(values)
    }
}

/// Whether two tensors hold the same values (bit for bit when stored alike, as f32 otherwise).
pub fn same_values(a: &Matrix, b: &Matrix) -> bool {
    if a.dtype() == b.dtype() {
        a == b
    } else {
        a.to_f32() == b.to_f32()
    }
}

/// The shard file names of `model.safetensors.index.json` (its `weight_map` values), each once.
fn shard_names(index: &[u8]) -> Result<Vec<String>, String> {
    let value: Value =
        serde_json::from_slice(index).map_err(|e| format!("{INDEX} is not valid JSON: {e}"))?;
    let map = value
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{INDEX} has no weight_map"))?;
    let mut names = BTreeSet::new();
    for (tensor, file) in map {
        let file = file
            .as_str()
            .ok_or_else(|| format!("{INDEX}: the file of {tensor} is not a string"))?;
        names.insert(file.to_string());
    }
    if names.is_empty() {
        return Err(format!("{INDEX} names no files"));
    }
    Ok(names.into_iter().collect())
}
