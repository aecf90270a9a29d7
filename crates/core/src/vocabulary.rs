//! A real model's whole next-token distribution, as the energy lab hands it to the next-token
//! explorer through the browser's storage.
//!
//! A link cannot carry 50,257 logits (about 400 kB of text), so the lab's link carries the 64 most
//! probable tokens with the rest lumped as one, plus `vocab=<id>`: the id of this file, which the
//! lab keeps in the browser's Cache Storage. The next-token page opened in the same browser finds
//! it there and shows all V tokens; elsewhere it says so and shows what the link carries. The
//! link's token i is the file's i-th most probable token, ties by lower index (the order of
//! `td_flows::truncation::order_desc`, which the next-token page uses to map them).
//!
//! File: `TDVOCAB1`, V (u32 LE), V log-probabilities (f64 LE), then V labels, each a u32 LE byte
//! length and UTF-8. The id is the FNV-1a 64 hash of the whole file, in 16 hex digits: it names
//! the content (the same distribution gets the same id) and catches a damaged copy; it is not a
//! security measure (anyone can make a file with any id, and the page treats it as data only).

/// The file's first bytes.
const MAGIC: &[u8; 8] = b"TDVOCAB1";
/// The largest vocabulary accepted (Llama 3's is 128,256; 2^20 leaves room).
pub const MAX_TOKENS: usize = 1 << 20;
/// The longest label kept, in bytes.
const MAX_LABEL_BYTES: usize = 1024;

/// A whole next-token distribution and the tokens' labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Vocabulary {
    /// Log-probabilities (or logits: any finite scores) of every token.
    pub log_probs: Vec<f64>,
    /// The tokens' labels, one per score.
    pub labels: Vec<String>,
}

impl Vocabulary {
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + 8 * self.log_probs.len() + 8 * self.labels.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.log_probs.len() as u32).to_le_bytes());
        for v in &self.log_probs {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for label in &self.labels {
            let bytes = truncate_utf8(label, MAX_LABEL_BYTES);
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes.as_bytes());
        }
        out
    }

    /// Reads a file made by [`Vocabulary::encode`]; an error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Vocabulary, String> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let end = at
                .checked_add(n)
                .filter(|&e| e <= bytes.len())
                .ok_or("the file ends early")?;
            let piece = &bytes[at..end];
            at = end;
            Ok(piece)
        };
        if take(8)? != MAGIC {
            return Err("not a token-dynamics vocabulary file".into());
        }
        let v = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        if !(2..=MAX_TOKENS).contains(&v) {
            return Err(format!("{v} tokens (2 to {MAX_TOKENS} are read)"));
        }
        let mut log_probs = Vec::with_capacity(v);
        for _ in 0..v {
            let x = f64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
            if !x.is_finite() {
                return Err("a score is not a finite number".into());
            }
            log_probs.push(x);
        }
        let mut labels = Vec::with_capacity(v);
        for _ in 0..v {
            let n = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
            if n > MAX_LABEL_BYTES {
                return Err("a label is too long".into());
            }
            let text = std::str::from_utf8(take(n)?).map_err(|_| "a label is not UTF-8")?;
            // Shown only as text; control characters dropped as in every label.
            labels.push(text.chars().filter(|c| !c.is_control()).collect());
        }
        if take(1).is_ok() {
            return Err("bytes after the last label".into());
        }
        Ok(Vocabulary { log_probs, labels })
    }
}

/// The id of a vocabulary file: FNV-1a 64 of its bytes, 16 lower-case hex digits.
pub fn id_of(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Whether `text` has the form of an id ([`id_of`]).
pub fn is_id(text: &str) -> bool {
    text.len() == 16
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vocabulary {
        Vocabulary {
            log_probs: vec![-0.5, -2.0, -0.5, -7.25],
            labels: vec!["·the".into(), "é😀".into(), "".into(), "a,\"b\"".into()],
        }
    }

    #[test]
    fn a_file_reads_back_and_its_id_names_its_content() {
        let v = sample();
        let bytes = v.encode();
        assert_eq!(Vocabulary::decode(&bytes).unwrap(), v);
        let id = id_of(&bytes);
        assert!(is_id(&id), "{id}");
        assert_eq!(id, id_of(&v.clone().encode()));
        let mut other = v.clone();
        other.log_probs[3] = -7.0;
        assert_ne!(id, id_of(&other.encode()));
        // FNV-1a 64 of nothing is its offset basis (the published constant).
        assert_eq!(id_of(b""), "cbf29ce484222325");
        assert_eq!(id_of(b"a"), "af63dc4c8601ec8c");
    }

    #[test]
    fn damaged_files_are_refused_with_a_reason() {
        let bytes = sample().encode();
        for cut in [0, 5, 8, 11, 12, 40, bytes.len() - 1] {
            let e = Vocabulary::decode(&bytes[..cut]).unwrap_err();
            assert!(!e.is_empty(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Vocabulary::decode(&longer).unwrap_err(),
            "bytes after the last label"
        );
        let mut nan = bytes.clone();
        nan[12..20].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(
            Vocabulary::decode(&nan).unwrap_err(),
            "a score is not a finite number"
        );
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert!(Vocabulary::decode(&magic).unwrap_err().contains("not a"));
        let mut huge = bytes;
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Vocabulary::decode(&huge).unwrap_err().contains("tokens"));
        assert!(!is_id("CBF29CE484222325") && !is_id("cbf29ce48422232") && !is_id("<b>"));
    }

    proptest! {
        #[test]
        fn any_vocabulary_reads_back(
            log_probs in prop::collection::vec(-1e6f64..1e6, 2..40),
            seed_labels in prop::collection::vec("[^\\p{Cc}]{0,12}", 40),
        ) {
            let labels: Vec<String> = seed_labels[..log_probs.len()].to_vec();
            let v = Vocabulary { log_probs, labels };
            prop_assert_eq!(Vocabulary::decode(&v.encode()).unwrap(), v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = Vocabulary::decode(&bytes);
        }
    }
}
