//! A link one explorer writes for another opens there cleanly.

use td_core::explorer::Explorer;
use td_energy::explorer::{next_token_link, Energy};
use td_energy::scene::{Models, Trained};
use td_next_token::explorer::NextToken;

#[test]
fn the_energy_labs_next_token_link_opens_clean_with_every_byte_named() {
    let (state, _) = Energy::from_hash("#energy?v=1&text=a,%22b%22%20c&model=random");
    let models = Models::new(Trained::Failed("not used".into()), state.seed);
    let mut scene = Energy::new_scene(&state, &models);
    Energy::run_to_end(&mut scene);
    let lp = scene.chosen().unwrap().log_probs_at(1).unwrap();
    let link = next_token_link(lp);
    let hash = link.trim_start_matches("index.html");
    let (st, msgs) = NextToken::from_hash(hash);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(st.labels.len(), 256);
    assert_eq!(
        (st.labels[44].as_str(), st.labels[34].as_str()),
        (",", "\"")
    );
}

#[test]
fn a_real_models_next_token_link_opens_clean_with_the_lumped_rest_named() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../checkpoint/tests/fixtures/gpt2-hub-f32");
    let c = td_checkpoint::load(&td_checkpoint::read_folder(&dir).unwrap()).unwrap();
    let twin = c.model.random_twin(1).unwrap();
    let request = td_checkpoint::report::Request {
        text: Some("A, \"b\"\tc.".into()),
        source: Some("openai-community/gpt2 &co=#1".into()),
        ..Default::default()
    };
    let r = td_checkpoint::report::report(&c, &twin, &request).unwrap();
    let (st, msgs) = NextToken::from_hash(r.next_token_link.trim_start_matches("index.html"));
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(st.labels.len(), 65);
    assert_eq!(st.s.len(), 65);
    assert_eq!(st.labels[64], "other (336 tokens)");
    assert_eq!(st.labels[0], r.next[0].piece.replace(' ', "␣"));
    // Where the logits came from, through the link's encoding, as one line of text.
    let head = format!(
        "openai-community/gpt2 &co=#1, next token after position {} (",
        r.position
    );
    assert!(st.from.starts_with(&head), "{}", st.from);
    assert!(
        st.from.ends_with(
            "of \"A, \"b\"⇥c.\": the 64 most probable of 400 tokens, the other 336 lumped as one"
        ),
        "{}",
        st.from
    );
}
