//! The checkpoint's `tokenizer.json`, through Hugging Face's `tokenizers` (the same ids as
//! Python's `tokenizers`): text -> token ids and the piece of the text each token covers.

use tokenizers::Tokenizer;

/// A checkpoint's tokenizer.
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextTokenizer {{ ids: {} }}", self.id_limit())
    }
}

/// A text as tokens: ids, and for each the byte range of the text it covers (a byte-level BPE
/// token may cover part of a character: its range is then that of the whole character, shared
/// with its neighbours).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    pub ids: Vec<u32>,
    pub offsets: Vec<(usize, usize)>,
}

impl TextTokenizer {
    /// Reads `tokenizer.json`.
    pub fn from_json(bytes: &[u8]) -> Result<TextTokenizer, String> {
        let inner = Tokenizer::from_bytes(bytes)
            .map_err(|e| format!("tokenizer.json cannot be read: {e}"))?;
        Ok(TextTokenizer { inner })
    }

    /// Wraps a tokenizer built in code (tests build GPT-2's from its vocabulary files).
    pub fn from_tokenizer(inner: Tokenizer) -> TextTokenizer {
        TextTokenizer { inner }
    }

    /// The ids of `text`, without special tokens added (as `tokenizer(text,
    /// add_special_tokens=False)`).
    pub fn encode(&self, text: &str) -> Result<Tokens, String> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| format!("the text cannot be tokenised: {e}"))?;
        Ok(Tokens {
            ids: encoding.get_ids().to_vec(),
            offsets: encoding.get_offsets().to_vec(),
        })
    }

    /// The text of `ids` (special tokens kept).
    pub fn decode(&self, ids: &[u32]) -> Result<String, String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| format!("the ids cannot be decoded: {e}"))
    }

    /// The number of ids the tokenizer can produce (its vocabulary and added tokens): the
    /// largest id plus one.
    pub fn id_limit(&self) -> usize {
        let vocab = self.inner.get_vocab(true);
        vocab.values().map(|&id| id as usize + 1).max().unwrap_or(0)
    }

    /// Checks that every id fits a model whose embedding has `rows` rows.
    pub fn check_fits(&self, rows: usize) -> Result<(), String> {
        let limit = self.id_limit();
        if limit > rows {
            return Err(format!(
                "the tokenizer has ids up to {} but the model's embedding has {rows} rows: \
                 tokenizer.json and the weights do not belong together",
                limit - 1
            ));
        }
        Ok(())
    }
}
