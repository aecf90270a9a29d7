//! Links: print/parse round trip for random states, and no panic (with bounded work) for any input.

use proptest::prelude::*;
use td_core::explorer::Explorer;
use td_flows::flows::Kappa;
use td_flows::truncation::TruncOrder;
use td_next_token::explorer::NextToken;
use td_next_token::params::{
    AdjustMode, FlowChoice, GenMode, OverlayParam, Start, State, TruncMode, XAxis,
};

fn finite(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    lo..=hi
}

prop_compose! {
    fn any_state()(
        v in 2usize..9,
        seed_s in proptest::collection::vec(-50.0f64..50.0, 8),
        labels in proptest::collection::vec("[a-zA-Z0-9 <>&\"'🙂א-ת%#?=;:.,-]{0,12}", 8),
        from in "[a-zA-Z0-9 <>&\"'🙂א-ת%#?=;:.,-]{0,60}",
        vocab_id in proptest::option::of("[0-9a-f]{16}"),
        temp in finite(1e-3, 1e3),
        flow in 0usize..5,
        eta in finite(1e-3, 10.0),
        kappa in any::<bool>(),
        horizon in finite(0.01, 1000.0),
        starts in proptest::collection::vec((0usize..3, proptest::collection::vec(0.001f64..1.0, 8)), 1..5),
        trunc in 0usize..4,
        k in 1usize..9,
        top_p in finite(1e-3, 1.0),
        min_p in finite(0.0, 1.0),
        order in any::<bool>(),
        adjust in 0usize..3,
        w in proptest::collection::vec(-3.0f64..3.0, 64),
        gamma in finite(-20.0, 20.0),
        mu in finite(0.0, 10.0),
        gen in 0usize..3,
        big_v in 2usize..50_258,
        seed in 0u64..(1u64 << 53),
        overlay in proptest::option::of((any::<bool>(), proptest::collection::vec(0.01f64..5.0, 1..6))),
        x_t in any::<bool>(),
        at in finite(0.0, 1.0),
        speed in finite(0.1, 10.0),
        field in any::<bool>(),
    ) -> State {
        let gen = [GenMode::None, GenMode::Zipf, GenMode::Gauss][gen];
        let vocab = if gen == GenMode::None { v } else { big_v };
        let starts = starts
            .into_iter()
            .map(|(kind, p)| match kind {
                0 => Start::Uniform,
                1 => Start::Corners([p[0], p[1], p[2]]),
                _ if gen == GenMode::None && v != 3 => Start::Full(p[..v].to_vec()),
                _ => Start::Corners([p[3], p[4], p[5]]),
            })
            .collect();
        let adjust = [AdjustMode::None, AdjustMode::Matrix, AdjustMode::Memory][adjust];
        let adjust = if adjust == AdjustMode::Matrix && vocab > 16 { AdjustMode::None } else { adjust };
        let defaults = State::default();
        // Generated logits travel as (gen, V, seed); the typed list is not part of such a link.
        let (s, labels) = if gen == GenMode::None {
            (seed_s[..v].to_vec(), labels[..v].iter().map(|l| l.trim().to_string()).collect())
        } else {
            (defaults.s.clone(), defaults.labels.clone())
        };
        let from = if gen == GenMode::None { from.trim().to_string() } else { String::new() };
        let vocab_id = if gen == GenMode::None { vocab_id.unwrap_or_default() } else { String::new() };
        State {
            s,
            labels,
            from,
            vocab: vocab_id,
            temp,
            flow: [FlowChoice::Replicator, FlowChoice::Mw, FlowChoice::Entropic, FlowChoice::EntropicMw, FlowChoice::Compare][flow],
            eta,
            kappa: if kappa { Kappa::One } else { Kappa::InvT },
            horizon,
            starts,
            trunc: [TruncMode::None, TruncMode::TopK, TruncMode::TopP, TruncMode::MinP][trunc],
            k: k.min(vocab),
            top_p,
            min_p,
            order: if order { TruncOrder::TemperatureFirst } else { TruncOrder::TruncationFirst },
            adjust,
            w: if adjust == AdjustMode::Matrix { w[..vocab * vocab].to_vec() } else { td_flows::scores::rps_matrix() },
            gamma,
            mu,
            v: if gen == GenMode::None { 3 } else { big_v },
            gen,
            seed: if gen == GenMode::None { 1 } else { seed },
            corners: None,
            overlay: overlay.map(|(is_t, values)| (if is_t { OverlayParam::Temperature } else { OverlayParam::Eta }, values)),
            x_axis: if x_t { XAxis::TimeOverT } else { XAxis::Time },
            at,
            speed,
            field,
            dropped_logits: Vec::new(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn print_then_parse_is_the_identity(state in any_state()) {
        // Labels that are empty after trimming print as empty and come back equal.
        let hash = NextToken::to_hash(&state);
        let (parsed, messages) = NextToken::from_hash(&hash);
        prop_assert!(messages.is_empty(), "{hash}: {messages:?}");
        prop_assert_eq!(&parsed, &state, "{}", hash);
        prop_assert_eq!(NextToken::to_hash(&parsed), hash);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let (state, _) = NextToken::from_hash(&text);
        let _ = NextToken::to_hash(&state);
        let (state, _) = NextToken::from_hash(&format!("#next-token?{text}"));
        let _ = NextToken::to_hash(&state);
    }

    #[test]
    fn arbitrary_pairs_of_known_keys_never_panic(
        pairs in proptest::collection::vec((prop::sample::select(vec!["s","labels","from","vocab","T","flow","eta","kappa","t","p0","trunc","k","top_p","min_p","order","adjust","W","gamma","mu","V","gen","seed","corners","overlay","x","field","at","speed","v"]), ".{0,40}"), 0..12)
    ) {
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", td_core::url::percent_encode(v))).collect();
        let (state, _) = NextToken::from_hash(&format!("#next-token?{}", query.join("&")));
        // Whatever came in, the state is consistent: printing and parsing it again is clean.
        let (again, messages) = NextToken::from_hash(&NextToken::to_hash(&state));
        prop_assert!(messages.is_empty(), "{messages:?}");
        prop_assert_eq!(again, state);
    }
}

#[test]
fn a_one_megabyte_link_is_handled_quickly() {
    let start = std::time::Instant::now();
    let big = format!("#next-token?s={}", "1,".repeat(500_000));
    let (state, messages) = NextToken::from_hash(&big);
    assert!(!messages.is_empty());
    assert!(state.s.len() <= td_next_token::params::MAX_EXPLICIT_V);
    assert!(start.elapsed().as_secs_f64() < 2.0);
}

#[test]
fn from_says_where_the_logits_came_from_until_they_change() {
    let link =
        "#next-token?s=3,2,1&from=GPT-2%2C%20after%20%22The%22%0A%3Cb%3E&vocab=0123456789ABCDEF";
    let (state, messages) = NextToken::from_hash(link);
    assert!(messages.is_empty(), "{messages:?}");
    // Control characters are dropped; the rest is kept as text (never parsed as HTML).
    assert_eq!(state.from, "GPT-2, after \"The\"<b>");
    assert_eq!(state.vocab, "0123456789abcdef", "an id, in lower case");
    let (again, messages) = NextToken::from_hash(&NextToken::to_hash(&state));
    assert!(messages.is_empty(), "{messages:?}");
    assert_eq!(again, state);
    // Other logits: the link's word no longer holds.
    let (edited, _) = NextToken::from_hash(&format!("{link}&s=3,2,0"));
    assert_eq!((edited.from.as_str(), edited.vocab.as_str()), ("", ""));
    // Generated logits came from no model.
    let (generated, _) = NextToken::from_hash(&format!("{link}&gen=zipf"));
    assert_eq!(
        (generated.from.as_str(), generated.vocab.as_str()),
        ("", "")
    );
    // A long text is shortened, with a message, to a length that reads back unchanged.
    let long = "x".repeat(1000);
    let (st, messages) = NextToken::from_hash(&format!("#next-token?s=3,2,1&from={long}"));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        st.from.chars().count(),
        td_next_token::params::MAX_FROM_CHARS
    );
    let (again, messages) = NextToken::from_hash(&NextToken::to_hash(&st));
    assert!(messages.is_empty(), "{messages:?}");
    assert_eq!(again, st);
}
