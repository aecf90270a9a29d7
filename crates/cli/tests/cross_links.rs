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
