//! Link-compatibility regression suite (keep forever): every link in `tests/link_corpus.tsv` is
//! parsed by the CURRENT code, its scene recomputed, and its readouts and message count compared
//! with the expectations written when the link's format version was current.
//!
//! A failure here means a shared link no longer opens as it did. Fix the code (or add a migration
//! for the old format), never the expectation. New links may be appended; regenerate lines for new
//! links only with
//!
//!   cargo test -p td-next-token --test link_corpus -- --ignored --nocapture print_corpus
//!
//! which prints every corpus line recomputed by the current code (copy just the new lines).

use td_core::explorer::Explorer;
use td_core::url::{format_number, parse_number};
use td_next_token::explorer::NextToken;
use td_next_token::presets::PRESETS;
use td_next_token::scene::{flow_key, Readout, Scene};

const CORPUS: &str = include_str!("link_corpus.tsv");
/// Relative tolerance of every compared number, with an absolute floor for values that are
/// essentially zero (e.g. a KL of 1e-19 from the MW exactness preset).
const REL_TOL: f64 = 1e-9;
const ABS_FLOOR: f64 = 1e-12;

/// One readout panel's expected numbers.
#[derive(Debug)]
struct Panel {
    flow: String,
    t: f64,
    f: f64,
    h: f64,
    kl: f64,
    argmax: usize,
    p_max: f64,
    support: usize,
}

struct Entry {
    line: usize,
    link: String,
    messages: usize,
    panels: Vec<Panel>,
}

fn corpus() -> Vec<Entry> {
    let mut entries = Vec::new();
    for (index, line) in CORPUS.lines().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() || line.starts_with("//") {
            continue;
        }
        let mut columns = line.split('\t');
        let link = columns.next().unwrap().to_string();
        let messages = columns
            .next()
            .and_then(|c| c.strip_prefix("messages="))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("line {line_no}: second column must be messages=N"));
        let panels = columns.map(|c| parse_panel(c, line_no)).collect();
        entries.push(Entry {
            line: line_no,
            link,
            messages,
            panels,
        });
    }
    entries
}

fn parse_panel(column: &str, line: usize) -> Panel {
    let mut words = column.split(' ');
    let flow = words.next().unwrap().to_string();
    let mut get = |name: &str| -> String {
        let word = words
            .next()
            .unwrap_or_else(|| panic!("line {line}: missing {name}"));
        word.strip_prefix(name)
            .and_then(|w| w.strip_prefix('='))
            .unwrap_or_else(|| panic!("line {line}: expected {name}=, got {word}"))
            .to_string()
    };
    let number = |text: String| {
        parse_number(&text).unwrap_or_else(|| panic!("line {line}: bad number {text}"))
    };
    Panel {
        flow,
        t: number(get("t")),
        f: number(get("F")),
        h: number(get("H")),
        kl: number(get("KL")),
        argmax: get("argmax").parse().unwrap(),
        p_max: number(get("p")),
        support: get("support").parse().unwrap(),
    }
}

/// Messages the page shows for a link: the explorer's and the page options'.
fn message_count(link: &str) -> usize {
    let (_, msgs) = NextToken::from_hash(link);
    let (_, page_msgs) = NextToken::page_from_hash(link);
    msgs.len() + page_msgs.len()
}

/// The computed scene of a link (its readouts borrow from it).
fn computed(link: &str) -> Scene {
    let (state, _) = NextToken::from_hash(link);
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, value) in p.iter().enumerate() {
        if *value > p[best] {
            best = i;
        }
    }
    best
}

fn panel_text(r: &Readout) -> String {
    let i = argmax(r.p);
    format!(
        "{} t={} F={} H={} KL={} argmax={i} p={} support={}",
        flow_key(r.flow),
        format_number(r.t),
        format_number(r.free_energy),
        format_number(r.entropy),
        format_number(r.kl),
        format_number(r.p[i]),
        r.support.len()
    )
}

fn close(expected: f64, actual: f64) -> bool {
    let diff = (expected - actual).abs();
    diff <= ABS_FLOOR || diff <= REL_TOL * expected.abs().max(actual.abs())
}

#[test]
fn every_corpus_link_opens_as_it_did() {
    let entries = corpus();
    assert!(entries.len() >= 20, "corpus too small: {}", entries.len());
    let mut failures = Vec::new();
    for entry in &entries {
        let here = format!("line {} ({})", entry.line, entry.link);
        let count = message_count(&entry.link);
        if count != entry.messages {
            failures.push(format!(
                "{here}: {count} messages, expected {}",
                entry.messages
            ));
        }
        let scene = computed(&entry.link);
        let got = scene.readouts();
        if got.len() != entry.panels.len() {
            failures.push(format!(
                "{here}: {} readout panels, expected {}",
                got.len(),
                entry.panels.len()
            ));
            continue;
        }
        for (want, r) in entry.panels.iter().zip(&got) {
            let i = argmax(r.p);
            let checks = [
                ("t", want.t, r.t),
                ("F", want.f, r.free_energy),
                ("H", want.h, r.entropy),
                ("KL", want.kl, r.kl),
                ("p", want.p_max, r.p[i]),
            ];
            let mut ok = want.flow == flow_key(r.flow)
                && want.support == r.support.len()
                && checks.iter().all(|(_, a, b)| close(*a, *b));
            // An exact tie between tokens may pick either index; the value must still agree.
            if want.argmax != i && !close(r.p[want.argmax.min(r.p.len() - 1)], r.p[i]) {
                ok = false;
            }
            if !ok {
                failures.push(format!(
                    "{here}:\n  expected {want:?}\n  got      {}",
                    panel_text(r)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_covers_every_preset_and_flow() {
    let entries = corpus();
    for preset in PRESETS {
        assert!(
            entries.iter().any(|e| e.link == preset.hash),
            "preset {} is not in the corpus (add its link, do not change the old one)",
            preset.name
        );
    }
    for flow in ["replicator", "mw", "entropic", "entropic-mw"] {
        assert!(
            entries
                .iter()
                .any(|e| e.panels.iter().any(|p| p.flow == flow)),
            "no corpus link for flow {flow}"
        );
    }
    for entry in &entries {
        assert!(
            entry.link.contains("?v="),
            "line {}: corpus links carry their format version",
            entry.line
        );
    }
}

#[test]
fn corpus_links_print_back_to_the_same_state() {
    for entry in corpus() {
        let (state, first) = NextToken::from_hash(&entry.link);
        let (again, msgs) = NextToken::from_hash(&NextToken::to_hash(&state));
        // A clean link prints back clean. (A shortened label keeps its "…" and is still over the
        // limit when read back, so that link repeats its one message; the state is the same.)
        assert!(
            msgs.is_empty() || (!first.is_empty() && msgs.iter().all(|m| m.key == "labels")),
            "line {}: {msgs:?}",
            entry.line
        );
        assert_eq!(state, again, "line {}", entry.line);
    }
}

/// Prints every corpus line recomputed by the current code (to append expectations for new links).
#[test]
#[ignore]
fn print_corpus() {
    for entry in corpus_links() {
        let panels: Vec<String> = computed(&entry).readouts().iter().map(panel_text).collect();
        println!(
            "{entry}\tmessages={}\t{}",
            message_count(&entry),
            panels.join("\t")
        );
    }
}

/// The links of the corpus file (first column), including lines without expectations yet.
fn corpus_links() -> Vec<String> {
    CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}
