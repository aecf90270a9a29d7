//! Link-compatibility regression suite of the attention explorer (keep forever): every link in
//! `tests/attention_link_corpus.tsv` is read by the CURRENT code and compared with what it gave
//! when its format version was current: the number of messages, the canonical link (the whole
//! state, printed), and for affordable runs the outcome of every run (final hull diameter,
//! clusters, leaders, quiescent sets) from the maths core.
//!
//! A failure here means a shared link no longer opens as it did. Fix the code (or add a migration
//! for the old format), never the expectation. New links may be appended; print their lines with
//!
//!   cargo test -p td-attention --test attention_link_corpus -- --ignored --nocapture print_corpus
//!
//! (it prints every corpus line recomputed by the current code; copy just the new lines).

use td_attention::explorer::Attention;
use td_attention::params::{RuleChoice, State};
use td_attention::presets::PRESETS;
use td_core::explorer::Explorer;
use td_core::url::{format_number, parse_number};
use td_particles::Run;

const CORPUS: &str = include_str!("attention_link_corpus.tsv");
const REL_TOL: f64 = 1e-9;
const ABS_FLOOR: f64 = 1e-12;
/// Runs costing more than this (tokens² × steps, summed over runs) are not recomputed here; their
/// links are still checked for messages and the canonical state.
const MAX_COST: f64 = 5e7;

#[derive(Debug)]
struct Outcome {
    rule: String,
    tokens: usize,
    diameter: f64,
    clusters: usize,
    leaders0: usize,
    fixed_last: usize,
    quiescent: usize,
}

fn rule_name(rule: RuleChoice) -> &'static str {
    match rule {
        RuleChoice::Softmax => "softmax",
        RuleChoice::Hardmax => "hardmax",
        RuleChoice::Localmax => "localmax",
        RuleChoice::Compare => "compare",
    }
}

fn cost(st: &State) -> f64 {
    let n = st.token_count() as f64;
    n * n * st.steps as f64 * st.run_count() as f64
}

fn outcomes(st: &State) -> Vec<Outcome> {
    st.rules()
        .into_iter()
        .map(|(choice, rule)| {
            let mut run = Run::new(st.spec(rule)).expect("a normalised state gives a valid run");
            while !run.advance(10_000) {}
            let last = run.state_diags().last().unwrap();
            let steps = run.step_diags();
            Outcome {
                rule: rule_name(choice).to_string(),
                tokens: run.n(),
                diameter: last.diameter,
                clusters: last.clusters,
                leaders0: steps.first().map_or(0, |s| s.leaders),
                fixed_last: steps.last().map_or(0, |s| s.fixed_leaders),
                quiescent: run.quiescent().sets.len(),
            }
        })
        .collect()
}

fn format_outcome(o: &Outcome) -> String {
    format!(
        "{}:tokens={},diameter={},clusters={},leaders0={},fixed_last={},quiescent={}",
        o.rule,
        o.tokens,
        format_number(o.diameter),
        o.clusters,
        o.leaders0,
        o.fixed_last,
        o.quiescent
    )
}

fn parse_outcome(text: &str, line: usize) -> Outcome {
    let (rule, rest) = text
        .split_once(':')
        .unwrap_or_else(|| panic!("line {line}: bad outcome column {text}"));
    let mut fields = std::collections::HashMap::new();
    for item in rest.split(',') {
        let (k, v) = item
            .split_once('=')
            .unwrap_or_else(|| panic!("line {line}: bad field {item}"));
        fields.insert(k, v);
    }
    let int = |k: &str| -> usize {
        fields
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("line {line}: missing {k}"))
    };
    Outcome {
        rule: rule.to_string(),
        tokens: int("tokens"),
        diameter: fields
            .get("diameter")
            .and_then(|v| parse_number(v))
            .unwrap_or_else(|| panic!("line {line}: missing diameter")),
        clusters: int("clusters"),
        leaders0: int("leaders0"),
        fixed_last: int("fixed_last"),
        quiescent: int("quiescent"),
    }
}

/// Reads a link as the page does: explorer keys and page options, all messages counted.
fn read(link: &str) -> (State, usize) {
    let (st, msgs) = Attention::from_hash(link);
    let (_, page_msgs) = Attention::page_from_hash(link);
    (st, msgs.len() + page_msgs.len())
}

fn corpus_line(link: &str) -> String {
    let (st, messages) = read(link);
    let mut columns = vec![
        link.to_string(),
        format!("messages={messages}"),
        format!("canonical={}", Attention::to_hash(&st)),
    ];
    if cost(&st) <= MAX_COST {
        columns.extend(outcomes(&st).iter().map(format_outcome));
    }
    columns.join("\t")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= REL_TOL * a.abs().max(b.abs()) || (a - b).abs() <= ABS_FLOOR
}

#[test]
fn shared_links_open_as_they_did() {
    let mut checked = 0;
    for (index, line) in CORPUS.lines().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() || line.starts_with("//") {
            continue;
        }
        let mut columns = line.split('\t');
        let link = columns.next().unwrap();
        let messages: usize = columns
            .next()
            .and_then(|c| c.strip_prefix("messages="))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("line {line_no}: second column must be messages=N"));
        let canonical = columns
            .next()
            .and_then(|c| c.strip_prefix("canonical="))
            .unwrap_or_else(|| panic!("line {line_no}: third column must be canonical=..."));
        let expected: Vec<Outcome> = columns.map(|c| parse_outcome(c, line_no)).collect();
        let (st, got_messages) = read(link);
        assert_eq!(
            got_messages, messages,
            "line {line_no}: {link}: message count"
        );
        assert_eq!(
            Attention::to_hash(&st),
            canonical,
            "line {line_no}: {link}: state"
        );
        if !expected.is_empty() {
            let got = outcomes(&st);
            assert_eq!(got.len(), expected.len(), "line {line_no}: number of runs");
            for (g, e) in got.iter().zip(&expected) {
                let same = g.rule == e.rule
                    && g.tokens == e.tokens
                    && close(g.diameter, e.diameter)
                    && g.clusters == e.clusters
                    && g.leaders0 == e.leaders0
                    && g.fixed_last == e.fixed_last
                    && g.quiescent == e.quiescent;
                assert!(
                    same,
                    "line {line_no}: {link}\n  expected {e:?}\n  got      {g:?}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "corpus has only {checked} links");
}

#[test]
fn every_preset_is_in_the_corpus() {
    for preset in PRESETS {
        assert!(
            CORPUS
                .lines()
                .any(|l| l.split('\t').next() == Some(preset.hash)),
            "preset {} ({}) is not in the corpus",
            preset.name,
            preset.hash
        );
    }
}

#[test]
#[ignore]
fn print_corpus() {
    for line in CORPUS.lines() {
        if line.trim().is_empty() || line.starts_with("//") {
            println!("{line}");
            continue;
        }
        println!("{}", corpus_line(line.split('\t').next().unwrap()));
    }
}
