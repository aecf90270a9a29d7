//! A link of a real model's top tokens with `vocab=`: with the kept file the scene runs on every
//! token (the link's corners and starts meaning the same tokens), without it on the link's own,
//! and each time the notes say which.

use td_core::explorer::Explorer;
use td_core::vocabulary::{id_of, Vocabulary};
use td_next_token::explorer::NextToken;
use td_next_token::whole::Whole;

/// A 300-token distribution (log-probabilities of generated logits) with labels.
fn vocabulary() -> Vocabulary {
    let s = td_flows::logits::generate(td_flows::logits::Generator::Zipf, 300, 5);
    let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let log_z = max + s.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
    Vocabulary {
        log_probs: s.iter().map(|x| x - log_z).collect(),
        labels: (0..300).map(|i| format!("w{i}")).collect(),
    }
}

/// The lab's link of `v` (64 most probable, the rest lumped), with `extra` keys.
fn link(v: &Vocabulary, extra: &str) -> String {
    let order = td_flows::truncation::order_desc(&v.log_probs);
    let mut scores: Vec<f64> = order[..64].iter().map(|&i| v.log_probs[i]).collect();
    let rest: f64 = order[64..].iter().map(|&i| v.log_probs[i].exp()).sum();
    scores.push(rest.ln());
    let mut labels: Vec<String> = order[..64].iter().map(|&i| v.labels[i].clone()).collect();
    labels.push("other (236 tokens)".into());
    let base = td_core::export::scores_link(&scores, &labels, "a test");
    let hash = base.strip_prefix("index.html").unwrap();
    format!("{hash}&vocab={}{extra}", id_of(&v.encode()))
}

#[test]
fn with_the_kept_file_every_token_flows_and_the_links_tokens_keep_their_meaning() {
    let v = vocabulary();
    let bytes = v.encode();
    let order = td_flows::truncation::order_desc(&v.log_probs);
    // Corners: the link's tokens 1, 0 and 2; a start: half on the link's token 1, the rest
    // lumped (token 64).
    let mut p0 = vec!["0".to_string(); 65];
    p0[1] = "0.5".into();
    p0[64] = "0.5".into();
    let hash = link(&v, &format!("&corners=1,0,2&p0={}", p0.join(",")));
    let (st, msgs) = NextToken::from_hash(&hash);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(st.s.len(), 65);
    let whole = Whole::from_file(&st.vocab, &bytes);
    let mut scene = NextToken::new_scene(&st, &whole);
    while !scene.advance(10_000) {}
    assert_eq!(scene.v, 300);
    assert_eq!(scene.s, v.log_probs);
    assert_eq!(scene.corners, [order[1], order[0], order[2]]);
    assert_eq!(
        scene.corner_labels,
        [order[1], order[0], order[2]].map(|i| format!("w{i}"))
    );
    // The start: 0.5 on the link's token 1, 0.5 / 236 on each lumped one, nothing elsewhere.
    let first = &scene.panels[0].runs.last().unwrap().run.samples()[0];
    for (got, want) in first.lumped.iter().zip([0.5, 0.0, 0.0, 0.5]) {
        assert!((got - want).abs() < 1e-12, "{:?}", first.lumped);
    }
    let entropy = -(0.5f64 * 0.5f64.ln() + 0.5 * (0.5f64 / 236.0).ln());
    assert!(
        (first.diag.entropy - entropy).abs() < 1e-12,
        "{}",
        first.diag.entropy
    );
    assert!(scene.notes[0..].iter().any(|n| n.starts_with(&format!(
        "All 300 tokens of a real model's next-token distribution, kept in this browser by the energy lab (vocab={})",
        st.vocab
    ))));
    // The target at T = 1 is the model's own distribution.
    for (t, lp) in scene.target.iter().zip(&v.log_probs) {
        assert!((t - lp.exp()).abs() < 1e-15);
    }
}

#[test]
fn without_it_or_with_another_the_link_flows_on_its_own_tokens_and_says_why() {
    let v = vocabulary();
    let hash = link(&v, "");
    let (st, _) = NextToken::from_hash(&hash);
    let cases = [
        (Whole::None, "it is not in this browser's storage"),
        (
            Whole::Loading(st.vocab.clone()),
            "it is being read from this browser's storage",
        ),
        (
            Whole::from_file(&st.vocab, b"TDVOCAB1"),
            "the stored copy is damaged",
        ),
    ];
    for (whole, why) in cases {
        let mut scene = NextToken::new_scene(&st, &whole);
        while !scene.advance(10_000) {}
        assert_eq!(scene.v, 65);
        assert!(
            scene.notes.iter().any(|n| n.starts_with(&format!(
                "This link names a real model's whole distribution (vocab={}), but {why}",
                st.vocab
            ))),
            "{why}: {:?}",
            scene.notes
        );
    }
    // Another distribution kept under the id the link names cannot match its logits.
    let mut other = v.clone();
    other.log_probs.reverse();
    let other_bytes = other.encode();
    let (st2, _) = NextToken::from_hash(&link(&v, "").replace(
        &format!("vocab={}", id_of(&v.encode())),
        &format!("vocab={}", id_of(&other_bytes)),
    ));
    let scene = NextToken::new_scene(&st2, &Whole::from_file(&st2.vocab, &other_bytes));
    assert_eq!(scene.v, 65);
    assert!(scene
        .notes
        .iter()
        .any(|n| n.contains("is not the one behind this link's logits")));
    // A link whose logits were edited by hand no longer matches the kept file.
    let (edited, _) = NextToken::from_hash(&hash.replace("s=", "s=9,"));
    let kept = Whole::from_file(&edited.vocab, &v.encode());
    let scene = NextToken::new_scene(&edited, &kept);
    assert_eq!(scene.v, 66);
    assert!(scene
        .notes
        .iter()
        .any(|n| n.contains("is not the one behind this link's logits (token 0")));
    // A malformed id: a message, and the link's other settings kept.
    let (bad, msgs) = NextToken::from_hash(&format!("{hash}&vocab=<b>&T=2"));
    assert!(bad.vocab.is_empty() && bad.temp == 2.0);
    assert!(msgs.iter().any(|m| m.text.contains("vocab: not the id")));
}

#[test]
fn top_k_reaches_past_the_links_tokens_when_the_whole_vocabulary_is_named() {
    let v = vocabulary();
    let bytes = v.encode();
    let hash = link(&v, "&trunc=top-k&k=200");
    let (st, msgs) = NextToken::from_hash(&hash);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(st.k, 200, "not cut to the link's 65 tokens");
    // With the file: the 200 most probable of the 300 tokens.
    let mut scene = NextToken::new_scene(&st, &Whole::from_file(&st.vocab, &bytes));
    while !scene.advance(10_000) {}
    assert_eq!(scene.v, 300);
    assert_eq!(scene.support.len(), 200);
    let order = td_flows::truncation::order_desc(&v.log_probs);
    let mut support = scene.support.clone();
    support.sort_unstable();
    let mut top: Vec<usize> = order[..200].to_vec();
    top.sort_unstable();
    assert_eq!(support, top);
    assert!(scene
        .notes
        .iter()
        .any(|n| n.starts_with("top-k keeps the same 200 tokens at")));
    // Without it: all of the link's 65, and the note says k is more than that.
    let mut scene = NextToken::new_scene(&st, &Whole::None);
    while !scene.advance(10_000) {}
    assert_eq!(scene.support.len(), 65);
    assert!(
        scene.notes.iter().any(|n| n.starts_with(
            "top-k keeps the same 65 tokens (k = 200 is more than the 65 tokens here: all of them)"
        )),
        "{:?}",
        scene.notes
    );
    // A link without vocab= still has k cut to its V, with a message.
    let plain = hash.replace(&format!("&vocab={}", st.vocab), "");
    let (st, msgs) = NextToken::from_hash(&plain);
    assert_eq!(st.k, 65);
    assert!(msgs
        .iter()
        .any(|m| m.text.contains("k=200 is larger than V=65")));
}
