//! A real model's whole vocabulary behind a link's top tokens (`vocab=<id>`).
//!
//! The energy lab's link to this explorer carries a real model's 64 most probable tokens and one
//! token lumping the rest; the lab also keeps the whole distribution in the browser's storage
//! ([`td_core::vocabulary`]) and names it by `vocab=`. These are the explorer's "models": the page
//! fetches the file from storage, and a scene whose link names it, and whose logits it matches,
//! runs on all V tokens. The link's token i is the file's i-th most probable token, so the corner,
//! start and truncation settings of the link mean the same tokens either way.

use std::rc::Rc;

use td_core::vocabulary::Vocabulary;

use crate::params::{GenMode, State};

/// The whole vocabulary a page has for its link (the explorer's `Models`).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Whole {
    /// The link names none.
    #[default]
    None,
    /// Being read from the browser's storage.
    Loading(String),
    /// Named but not usable here; the reason is shown.
    Missing { id: String, reason: String },
    /// Read, with its order (most probable first).
    Ready {
        id: String,
        vocabulary: Rc<Vocabulary>,
        order: Rc<Vec<usize>>,
    },
}

impl Whole {
    /// A vocabulary read from its file, checked against the id it was asked for.
    pub fn from_file(id: &str, bytes: &[u8]) -> Whole {
        let found = td_core::vocabulary::id_of(bytes);
        if found != id {
            return Whole::Missing {
                id: id.to_string(),
                reason: format!("the stored copy is damaged (its content has id {found})"),
            };
        }
        match Vocabulary::decode(bytes) {
            Ok(vocabulary) => Whole::Ready {
                id: id.to_string(),
                // The link's order (td_core::vocabulary), by the sort the page already has.
                order: Rc::new(td_flows::truncation::order_desc(&vocabulary.log_probs)),
                vocabulary: Rc::new(vocabulary),
            },
            Err(reason) => Whole::Missing {
                id: id.to_string(),
                reason: format!("the stored copy cannot be read: {reason}"),
            },
        }
    }

    /// The id this is about (empty for [`Whole::None`]).
    pub fn id(&self) -> &str {
        match self {
            Whole::None => "",
            Whole::Loading(id) | Whole::Missing { id, .. } | Whole::Ready { id, .. } => id,
        }
    }
}

/// The id of the whole vocabulary a state asks for ("" when none: typed logits only).
pub fn wanted(st: &State) -> &str {
    if st.gen == GenMode::None {
        &st.vocab
    } else {
        ""
    }
}

/// How many of a link's tokens name one token of the whole vocabulary: all but the last when
/// the link lumps the rest into one.
pub fn named_tokens(link_v: usize, whole_v: usize) -> usize {
    if link_v < whole_v {
        link_v.saturating_sub(1)
    } else {
        link_v
    }
}

/// The vocabulary a scene of `st` runs on, or why it runs on the link's tokens (None: the link
/// names no vocabulary).
pub fn for_state(st: &State, whole: &Whole) -> Option<Result<Used, String>> {
    if wanted(st).is_empty() {
        return None;
    }
    Some(match whole {
        Whole::Ready {
            id,
            vocabulary,
            order,
        } if *id == st.vocab => matches_link(st, vocabulary, order).map(|()| Used {
            vocabulary: vocabulary.clone(),
            order: order.clone(),
        }),
        Whole::Missing { id, reason } if *id == st.vocab => Err(reason.clone()),
        Whole::Loading(id) if *id == st.vocab => {
            Err("it is being read from this browser's storage".into())
        }
        _ => Err("it is not in this browser's storage".into()),
    })
}

/// A whole vocabulary in use, and its order.
#[derive(Clone, Debug)]
pub struct Used {
    pub vocabulary: Rc<Vocabulary>,
    pub order: Rc<Vec<usize>>,
}

impl Used {
    /// Token `i` of the link as a token of the whole vocabulary (None: the lumped token).
    pub fn token_of_link(&self, i: usize, link_v: usize) -> Option<usize> {
        (i < named_tokens(link_v, self.order.len())).then(|| self.order[i])
    }

    /// A link's full start distribution over its tokens, over the whole vocabulary: each named
    /// token keeps its mass, and the lumped token's is spread evenly over the tokens it lumps.
    pub fn spread(&self, p: &[f64]) -> Vec<f64> {
        let v = self.order.len();
        let named = named_tokens(p.len(), v);
        let total: f64 = p.iter().sum();
        let mut out = vec![0.0; v];
        for (i, &mass) in p.iter().take(named).enumerate() {
            out[self.order[i]] = mass / total;
        }
        if named < v && p.len() > named {
            let each = p[named] / total / (v - named) as f64;
            for &token in &self.order[named..] {
                out[token] = each;
            }
        }
        out
    }
}

/// The link's scores are rounded to 4 decimals and floored at -10,000 (td_core::export::
/// scores_link); a kept vocabulary belongs to the link when its most probable tokens' scores are
/// the link's to within this.
const LINK_TOLERANCE: f64 = 2e-4;

/// Whether the kept vocabulary is the one behind the link's logits: same count of named tokens,
/// and their scores equal the link's (rounded) ones.
fn matches_link(st: &State, vocabulary: &Vocabulary, order: &[usize]) -> Result<(), String> {
    let v = vocabulary.log_probs.len();
    let link_v = st.s.len();
    if link_v > v || (link_v < v && link_v < 2) {
        return Err(format!(
            "the stored distribution has {v} tokens, which does not fit this link's {link_v}"
        ));
    }
    let named = named_tokens(link_v, v);
    for (i, &token) in order.iter().take(named).enumerate() {
        let full = vocabulary.log_probs[token].max(-1e4);
        if (full - st.s[i]).abs() > LINK_TOLERANCE {
            return Err(format!(
                "the stored distribution is not the one behind this link's logits (token {i}: {} here, {} in the link)",
                td_core::url::format_number((full * 1e4).round() / 1e4),
                td_core::url::format_number(st.s[i])
            ));
        }
        let label = &vocabulary.labels[token];
        let linked = st.labels.get(i).map_or("", String::as_str);
        let shortened = label.chars().count() > crate::params::MAX_LABEL_CHARS
            && linked
                .strip_suffix('…')
                .is_some_and(|l| label.starts_with(l));
        if linked != label && !shortened {
            return Err(format!(
                "the stored distribution is not the one behind this link's logits (token {i} is {label:?} here, {linked:?} in the link)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Vocabulary {
        // Five tokens; order by probability: 3, 0, 4, 1, 2.
        let p = [0.3f64, 0.1, 0.05, 0.4, 0.15];
        Vocabulary {
            log_probs: p.iter().map(|x| x.ln()).collect(),
            labels: ["a", "b", "c", "d", "e"].map(String::from).to_vec(),
        }
    }

    fn link_state(named: usize) -> State {
        let v = vocabulary();
        let order = td_flows::truncation::order_desc(&v.log_probs);
        let mut s: Vec<f64> = order[..named]
            .iter()
            .map(|&i| (v.log_probs[i] * 1e4).round() / 1e4)
            .collect();
        let rest: f64 = order[named..].iter().map(|&i| v.log_probs[i].exp()).sum();
        s.push((rest.ln() * 1e4).round() / 1e4);
        let mut labels: Vec<String> = order[..named]
            .iter()
            .map(|&i| v.labels[i].clone())
            .collect();
        labels.push("other".into());
        State {
            s,
            labels,
            vocab: td_core::vocabulary::id_of(&v.encode()),
            ..State::default()
        }
    }

    #[test]
    fn a_matching_file_is_used_and_the_link_tokens_map_to_its_order() {
        let v = vocabulary();
        let bytes = v.encode();
        let st = link_state(2);
        let whole = Whole::from_file(&st.vocab, &bytes);
        let used = for_state(&st, &whole).unwrap().unwrap();
        assert_eq!(*used.order, vec![3, 0, 4, 1, 2]);
        assert_eq!(used.token_of_link(0, 3), Some(3));
        assert_eq!(used.token_of_link(1, 3), Some(0));
        assert_eq!(used.token_of_link(2, 3), None, "the lumped token");
        // A start of the link's three tokens: the lumped mass spread over the three it lumps.
        let p = used.spread(&[0.5, 0.2, 0.3]);
        for (got, want) in p.iter().zip([0.2, 0.1, 0.1, 0.5, 0.1]) {
            assert!((got - want).abs() < 1e-15, "{p:?}");
        }
    }

    #[test]
    fn a_damaged_other_or_absent_file_is_not_used_and_says_why() {
        let v = vocabulary();
        let mut bytes = v.encode();
        let st = link_state(2);
        bytes[20] ^= 1;
        let why = for_state(&st, &Whole::from_file(&st.vocab, &bytes))
            .unwrap()
            .unwrap_err();
        assert!(why.contains("damaged"), "{why}");
        // Another distribution under its own (correct) id, named by a link whose logits differ.
        let mut other = v.clone();
        other.log_probs[3] = 0.2f64.ln();
        let other_bytes = other.encode();
        let st_other = State {
            vocab: td_core::vocabulary::id_of(&other_bytes),
            ..st.clone()
        };
        let why = for_state(&st_other, &Whole::from_file(&st_other.vocab, &other_bytes))
            .unwrap()
            .unwrap_err();
        assert!(why.contains("not the one behind"), "{why}");
        let why = for_state(&st, &Whole::None).unwrap().unwrap_err();
        assert!(why.contains("not in this browser"), "{why}");
        assert!(for_state(&State::default(), &Whole::None).is_none());
        let generated = State {
            gen: GenMode::Zipf,
            ..st
        };
        assert!(for_state(&generated, &Whole::None).is_none());
    }
}
