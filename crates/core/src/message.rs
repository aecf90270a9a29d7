//! What the reader should know about their link or input.

/// Something the reader should know about their link or input: which key, and what was done.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub key: String,
    pub text: String,
}

impl Message {
    pub fn new(key: &str, text: impl Into<String>) -> Self {
        Message {
            key: key.to_string(),
            text: text.into(),
        }
    }
}
