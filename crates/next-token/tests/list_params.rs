//! The logits and labels lists of a link: a label may hold a comma, a bad logit keeps its place,
//! labels beyond the vocabulary are reported.

use proptest::prelude::*;
use td_core::explorer::Explorer;
use td_next_token::explorer::NextToken;
use td_next_token::params::{join_labels, split_labels};

#[test]
fn a_quoted_label_keeps_its_comma_through_the_link() {
    let (st, msgs) =
        NextToken::from_hash("#next-token?v=1&labels=Paris,%22Washington,%20D.C.%22,Nice");
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(st.labels, ["Paris", "Washington, D.C.", "Nice"]);
    let hash = NextToken::to_hash(&st);
    let (again, _) = NextToken::from_hash(&hash);
    assert_eq!(again.labels, st.labels, "{hash}");
}

#[test]
fn a_logit_that_is_not_a_number_takes_its_label_with_it() {
    // Left out, as links of format 1 always were (the link corpus keeps that), but its label goes
    // too: b and c stay with their logits 1 and 2.
    let (st, msgs) = NextToken::from_hash("#next-token?v=1&s=NaN,1,2&labels=a,b,c");
    assert_eq!(st.s, [1.0, 2.0]);
    assert_eq!(st.labels, ["b", "c"]);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].text.contains("not a finite number"), "{msgs:?}");
    // The order of the keys does not matter, and the link written back is clean.
    let (other, _) = NextToken::from_hash("#next-token?v=1&labels=a,b,c&s=1,zzz,2");
    assert_eq!(other.labels, ["a", "c"]);
    let (again, msgs) = NextToken::from_hash(&NextToken::to_hash(&other));
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(again, other);
}

#[test]
fn labels_beyond_the_vocabulary_are_reported_not_dropped_silently() {
    let (st, msgs) = NextToken::from_hash("#next-token?v=1&s=0,1,2&labels=a,b,c,d,e");
    assert_eq!(st.labels, ["a", "b", "c"]);
    assert!(
        msgs.iter()
            .any(|m| m.text == "labels: 5 labels for 3 tokens; the last 2 were dropped"),
        "{msgs:?}"
    );
}

proptest! {
    #[test]
    fn labels_survive_joining_and_splitting(labels in proptest::collection::vec("[a-z ,\"]{0,8}", 1..6)) {
        prop_assert_eq!(split_labels(&join_labels(&labels)), labels);
    }
}
