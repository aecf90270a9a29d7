//! The energy lab's link table: round trips, presets, validation messages and caps.

use td_core::explorer::Explorer;
use td_energy::explorer::Energy;
use td_energy::params::{
    self, InputMode, ModelChoice, State, SteerLayer, SteerMode, CONTEXT, MAX_PROMPT_BYTES,
    MAX_TEXT_BYTES,
};
use td_energy::presets::PRESETS;
use td_transformer::energy::{EnergyForm, Mass, Potential};
use td_transformer::HiddenState;

fn keys(msgs: &[params::Message]) -> Vec<String> {
    msgs.iter().map(|m| m.key.clone()).collect()
}

#[test]
fn default_link_is_short_and_round_trips() {
    let st = State::default();
    assert_eq!(Energy::to_hash(&st), "#energy?v=1");
    let (back, msgs) = Energy::from_hash("#energy?v=1");
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(back, st);
}

#[test]
fn every_switch_round_trips_exactly() {
    let st = State {
        mode: InputMode::Generate,
        prompt: "Call me Ishmael. & = # % ?".into(),
        text: "Line one\nline two, with ünïcödé & symbols =?#".into(),
        n: 50,
        temperature: 0.35,
        top_k: 7,
        top_p: 0.5,
        min_p: 0.125,
        gseed: 9_007_199_254_740_991,
        model: ModelChoice::Random,
        seed: 42,
        checkpoint: "https://example.org/models/gpt2 (copy)/".replace(' ', "%20"),
        hidden: HiddenState::PreNorm,
        mass: Mass::Fitted,
        potential: Potential::Entropy,
        form: EnergyForm::Product,
        skip: 3,
        steer: SteerMode::Margin,
        pos: Some(12),
        target: Some(b'\n'),
        dlogp: -0.75,
        margin: 2.5,
        layer: SteerLayer::Residual(2),
        at: 0.25,
        speed: 2.0,
    };
    let hash = Energy::to_hash(&st);
    let (back, msgs) = Energy::from_hash(&hash);
    assert!(msgs.is_empty(), "{hash}: {msgs:?}");
    assert_eq!(back, st, "{hash}");
    assert!(hash.contains("target=0x0A"), "{hash}");
    for layer in ["post", "pre", "0", "1", "2", "3"] {
        let (st, msgs) = Energy::from_hash(&format!("#energy?v=1&steer=delta&layer={layer}"));
        assert!(msgs.is_empty());
        assert!(Energy::to_hash(&st).contains(&format!("layer={layer}")) || layer == "post");
    }
}

#[test]
fn checkpoint_names_a_repo_a_url_or_files_from_disk_and_nothing_else() {
    let hash = "a".repeat(64);
    for good in [
        "openai-community/gpt2",
        "HuggingFaceTB/SmolLM2-135M",
        "http://127.0.0.1:8000/gpt2/",
        "https://example.org/m?x=1&y=2",
        &format!("file:gpt2 small (mine)@{hash}"),
    ] {
        let link = Energy::to_hash(&State {
            checkpoint: good.to_string(),
            ..State::default()
        });
        let (st, msgs) = Energy::from_hash(&link);
        assert!(msgs.is_empty(), "{good}: {msgs:?}");
        assert_eq!(st.checkpoint, good, "{link}");
    }
    for bad in [
        "gpt2",
        "javascript:alert(1)",
        "owner/name/extra",
        "../x/y",
        "https://a b/",
        "https://x/\"onload=",
        "file:gpt2@abc",
        "file:@",
        "<b>x</b>/y",
    ] {
        let link = format!(
            "#energy?v=1&seed=5&checkpoint={}",
            td_core::url::percent_encode(bad)
        );
        let (st, msgs) = Energy::from_hash(&link);
        assert_eq!(st.checkpoint, "", "{bad}");
        assert_eq!(st.seed, 5, "{bad}: the other settings are kept");
        assert!(
            msgs.iter().any(|m| m.text.starts_with("checkpoint:")),
            "{bad}: {msgs:?}"
        );
    }
    let long = format!("https://example.org/{}", "a".repeat(600));
    let (st, msgs) = Energy::from_hash(&format!("#energy?v=1&checkpoint={long}"));
    assert_eq!((st.checkpoint.as_str(), msgs.len()), ("", 1));
}

#[test]
fn presets_are_clean_links() {
    for preset in PRESETS {
        let (st, msgs) = Energy::from_hash(preset.hash);
        assert!(msgs.is_empty(), "{}: {msgs:?}", preset.name);
        assert_eq!(Energy::to_hash(&st), preset.hash, "{}", preset.name);
    }
}

#[test]
fn key_order_does_not_matter() {
    let a =
        Energy::from_hash("#energy?v=1&mode=generate&prompt=Hello&n=20&steer=margin&target=e").0;
    let b =
        Energy::from_hash("#energy?target=e&steer=margin&n=20&prompt=Hello&mode=generate&v=1").0;
    assert_eq!(a, b);
}

#[test]
fn bad_values_are_reported_and_the_rest_kept() {
    let (st, msgs) = Energy::from_hash(
        "#energy?v=1&T=-3&top_p=7&top_k=1e9&mass=heavy&target=xyz&pos=abc&skip=2.5&mode=generate&bogus=1",
    );
    let k = keys(&msgs);
    for key in [
        "T", "top_p", "top_k", "mass", "target", "pos", "skip", "bogus",
    ] {
        assert!(
            k.contains(&key.to_string()),
            "no message for {key}: {msgs:?}"
        );
    }
    assert_eq!(st.temperature, 0.0);
    assert_eq!(st.top_p, 1.0);
    assert_eq!(st.top_k, 256);
    assert_eq!(st.mass, Mass::InvD);
    assert_eq!(st.target, None);
    assert_eq!(st.skip, 3, "2.5 rounds half away from zero");
    assert_eq!(
        st.mode,
        InputMode::Generate,
        "a good key survives bad neighbours"
    );
    // NaN and infinities never get in.
    let (st, msgs) = Energy::from_hash("#energy?v=1&dlogp=NaN&margin=inf");
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(st.dlogp.is_finite() && st.margin.is_finite());
}

#[test]
fn long_text_and_prompt_are_cut_with_a_message() {
    let long = "a".repeat(10 * 1024 * 1024);
    let (st, msgs) = Energy::from_hash(&format!("#energy?v=1&text={long}"));
    assert_eq!(st.text.len(), MAX_TEXT_BYTES);
    assert!(keys(&msgs).contains(&"text".to_string()), "{msgs:?}");
    // A cut never splits a character.
    let multi = "é".repeat(MAX_TEXT_BYTES);
    let (st, _) = Energy::from_hash(&format!("#energy?v=1&text={multi}"));
    assert!(st.text.len() <= MAX_TEXT_BYTES && st.text.chars().all(|c| c == 'é'));
    let (st, msgs) = Energy::from_hash(&format!(
        "#energy?v=1&mode=generate&prompt={}",
        "b".repeat(500)
    ));
    assert_eq!(st.prompt.len(), MAX_PROMPT_BYTES);
    assert!(keys(&msgs).contains(&"prompt".to_string()));
    // prompt + n must fit the context.
    assert_eq!(st.prompt.len() + st.n, CONTEXT);
    assert!(keys(&msgs).contains(&"n".to_string()), "{msgs:?}");
}

#[test]
fn empty_inputs_and_positions_past_the_end_fall_back() {
    let (st, msgs) = Energy::from_hash("#energy?v=1&text=");
    assert_eq!(st.text, params::DEFAULT_TEXT);
    assert!(keys(&msgs).contains(&"text".to_string()));
    let (st, msgs) = Energy::from_hash("#energy?v=1&mode=generate&prompt=");
    assert_eq!(st.prompt, params::DEFAULT_PROMPT);
    assert!(keys(&msgs).contains(&"prompt".to_string()));
    let (st, msgs) = Energy::from_hash("#energy?v=1&text=abcdef&pos=99");
    assert_eq!(st.pos, None);
    assert!(keys(&msgs).contains(&"pos".to_string()));
    let (st, msgs) = Energy::from_hash("#energy?v=1&text=abcdef&pos=5");
    assert_eq!(st.pos, Some(5));
    assert!(msgs.is_empty());
}

#[test]
fn targets_parse_as_characters_or_hex() {
    for (text, byte) in [
        ("e", b'e'),
        ("0x41", b'A'),
        ("0X0a", b'\n'),
        ("%2C", b','),
        ("7", b'7'),
    ] {
        let (st, msgs) = Energy::from_hash(&format!("#energy?v=1&target={text}"));
        assert!(msgs.is_empty(), "{text}: {msgs:?}");
        assert_eq!(st.target, Some(byte), "{text}");
        let (back, _) = Energy::from_hash(&Energy::to_hash(&st));
        assert_eq!(back.target, Some(byte));
    }
    let (st, msgs) = Energy::from_hash("#energy?v=1&target=0x1FF");
    assert_eq!(st.target, None);
    assert_eq!(msgs.len(), 1);
}

#[test]
fn another_explorers_link_is_reported() {
    let (st, msgs) = Energy::from_hash("#attention?v=1&delta=0.3");
    assert_eq!(st, State::default().clone());
    assert!(!msgs.is_empty());
}
