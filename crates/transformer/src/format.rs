//! Weight file format `TDGPT1`:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `TDGPT1\0\0` |
//! | 4 | header length L, u32 little-endian (at most [`MAX_HEADER`]) |
//! | L | UTF-8 header: `key=value` lines separated by `\n` |
//! | 4·P | every tensor as f32 little-endian, in the order of `weights.rs` (P = `Config::n_params`) |
//!
//! Required header keys (decimal integers, each once): `vocab`, `d_model`, `n_layer`, `n_head`,
//! `context`, `mlp`. Free-form keys (`source=`, `recipe=`, anything else) are kept as text; a value
//! runs to the end of its line (newlines in written values become spaces). Empty lines are
//! ignored. Reading checks the sizes (`Config::validate`), that the file holds exactly the
//! expected number of bytes and that every value is finite; it returns an error, never panics.

use super::config::Config;
use super::weights::{tensor_specs, Weights};

pub const MAGIC: &[u8; 8] = b"TDGPT1\0\0";
/// Largest accepted header, bytes.
pub const MAX_HEADER: usize = 1 << 16;

/// The header of a weight file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub config: Config,
    /// Every `key=value` line that is not a size, in file order (e.g. `source`, `recipe`).
    pub extra: Vec<(String, String)>,
}

impl Header {
    /// Value of the first free-form line with this key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

const SIZE_KEYS: [&str; 6] = ["vocab", "d_model", "n_layer", "n_head", "context", "mlp"];

fn clean(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Serialises weights with free-form `extra` lines (keys must not contain `=` or a newline; such
/// characters are replaced by `_` / a space, and size keys among them are skipped).
pub fn write_weights(w: &Weights, extra: &[(&str, &str)]) -> Vec<u8> {
    let c = &w.config;
    let mut header = format!(
        "vocab={}\nd_model={}\nn_layer={}\nn_head={}\ncontext={}\nmlp={}\n",
        c.vocab, c.d_model, c.n_layer, c.n_head, c.context, c.mlp
    );
    for (k, v) in extra {
        let k = clean(k).replace('=', "_");
        if SIZE_KEYS.contains(&k.as_str()) {
            continue;
        }
        header.push_str(&format!("{k}={}\n", clean(v)));
    }
    let mut out = Vec::with_capacity(12 + header.len() + 4 * c.n_params());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for t in w.tensors() {
        for v in t.iter() {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Parses the magic and header only.
pub fn read_header(bytes: &[u8]) -> Result<(Header, usize), String> {
    if bytes.len() < 12 {
        return Err("file too short for the TDGPT1 magic and header length".into());
    }
    if &bytes[..8] != MAGIC {
        return Err("not a TDGPT1 weight file (bad magic)".into());
    }
    let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    if len > MAX_HEADER {
        return Err(format!("header length {len} exceeds {MAX_HEADER}"));
    }
    let end = 12 + len;
    let text = bytes
        .get(12..end)
        .ok_or("file truncated inside the header")?;
    let text = std::str::from_utf8(text).map_err(|_| "header is not UTF-8".to_string())?;
    let mut sizes: [Option<usize>; 6] = [None; 6];
    let mut extra = Vec::new();
    for line in text.split('\n') {
        if line.trim().is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("header line without '=': {line:?}"))?;
        if let Some(i) = SIZE_KEYS.iter().position(|&s| s == k) {
            if sizes[i].is_some() {
                return Err(format!("header key {k} appears twice"));
            }
            let n: usize = v
                .trim()
                .parse()
                .map_err(|_| format!("header {k}={v:?} is not a non-negative integer"))?;
            sizes[i] = Some(n);
        } else {
            extra.push((k.to_string(), v.to_string()));
        }
    }
    let mut vals = [0usize; 6];
    for (i, s) in sizes.iter().enumerate() {
        vals[i] = s.ok_or_else(|| format!("header lacks {}", SIZE_KEYS[i]))?;
    }
    let config = Config {
        vocab: vals[0],
        d_model: vals[1],
        n_layer: vals[2],
        n_head: vals[3],
        context: vals[4],
        mlp: vals[5],
    };
    config.validate()?;
    Ok((Header { config, extra }, end))
}

/// Parses a whole weight file.
pub fn read_weights(bytes: &[u8]) -> Result<(Weights, Header), String> {
    let (header, start) = read_header(bytes)?;
    let config = header.config;
    let expected = config.n_params().checked_mul(4).ok_or("size overflow")?;
    let body = &bytes[start..];
    if body.len() != expected {
        return Err(format!(
            "tensor data is {} bytes, expected {expected} ({})",
            body.len(),
            if body.len() < expected {
                "truncated"
            } else {
                "trailing bytes"
            }
        ));
    }
    let mut tensors = Vec::new();
    let mut at = 0;
    for (name, shape, _) in tensor_specs(&config) {
        let len: usize = shape.iter().product();
        let raw = &body[at..at + 4 * len];
        at += 4 * len;
        let t: Vec<f32> = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if t.iter().any(|v| !v.is_finite()) {
            return Err(format!("tensor {name} contains a non-finite value"));
        }
        tensors.push(t);
    }
    let w = Weights::from_tensors(config, tensors)?;
    Ok((w, header))
}
