//! `token-dynamics model <folder>` on the committed Hugging Face fixtures (td-checkpoint): the
//! printed K, U, E are the library's, the twin differs from the model, and bad folders or
//! arguments exit non-zero with a message.

use std::path::PathBuf;
use std::process::Command;

use td_transformer::energy::{energy_series, EnergyOptions};
use td_transformer::steer::steer_delta;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../checkpoint/tests/fixtures")
        .join(name)
}

/// The checkpoint of a fixture folder, read as the command reads it.
fn load_fixture(dir: &std::path::Path) -> td_checkpoint::Checkpoint {
    td_checkpoint::load(&td_checkpoint::read_folder(dir).unwrap()).unwrap()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_token-dynamics"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_printed_energy_is_the_librarys() {
    let dir = fixture("gpt2-hub-f32");
    let text = "The next-token distribution moves.";
    let (code, out, err) = run(&["model", dir.to_str().unwrap(), "--text", text]);
    assert_eq!(code, 0, "{err}");
    // The same numbers straight from the libraries.
    let checkpoint = load_fixture(&dir);
    let ids = checkpoint
        .tokenizer
        .as_ref()
        .unwrap()
        .encode(text)
        .unwrap()
        .ids;
    let fwd = checkpoint.model.forward(&ids).unwrap();
    // The energy lab's defaults: the first position skipped.
    let lab = EnergyOptions {
        skip: 1,
        ..EnergyOptions::default()
    };
    let series = energy_series(&fwd, &ids, &lab).unwrap();
    assert_eq!(series.t[0], 1);
    assert!(out.contains(&format!("{} tokens", ids.len())), "{out}");
    for i in 0..series.t.len() {
        let row = format!(
            "\t{:.6}\t{:.6}\t{:.6}\n",
            series.k[i], series.u[i], series.e[i]
        );
        assert!(out.contains(&row), "row {i} ({row:?}) missing from\n{out}");
    }
    let mean_e = |label: &str| -> Vec<String> {
        let line = out.lines().find(|l| l.starts_with(label)).unwrap();
        line.split('\t').skip(1).map(str::to_string).collect()
    };
    let means = mean_e("mean E");
    assert_eq!(means.len(), 2);
    assert_ne!(
        means[0], means[1],
        "the random twin must differ from the model"
    );
    assert!(out.contains("next token after \".\""), "{out}");
}

#[test]
fn steering_prints_the_librarys_step_for_both_families() {
    let dir = fixture("gpt2-hub-f32");
    let (code, out, err) = run(&[
        "model",
        dir.to_str().unwrap(),
        "--ids",
        "3,9,27,81",
        "--steer",
        "7",
    ]);
    assert_eq!(code, 0, "{err}");
    let checkpoint = load_fixture(&dir);
    let fwd = checkpoint.model.forward(&[3, 9, 27, 81]).unwrap();
    let td_checkpoint::Model::Gpt2(w) = &checkpoint.model else {
        panic!("a GPT-2 fixture")
    };
    let s = steer_delta(w, &fwd.h_post[3 * fwd.d..], 7, 1.0).unwrap();
    let line = format!(
        "delta form (delta log p = 1): |delta| {:.6}, p {:.6} -> {:.6}, rank {} -> {}",
        s.norm,
        s.old_log_p.exp(),
        s.new_p,
        s.old_rank,
        s.new_rank
    );
    assert!(out.contains(&line), "{line:?} missing from\n{out}");
    let dir = fixture("llama-tied-f32");
    let (code, out, err) = run(&[
        "model",
        dir.to_str().unwrap(),
        "--text",
        "It's 2026.",
        "--steer",
        " and",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("toward \" and\""), "{out}");
    let margin = out.lines().find(|l| l.contains("margin form")).unwrap();
    assert!(
        margin.ends_with("-> 1"),
        "the margin form must make the target lead: {margin}"
    );
    assert!(out.contains("delta form before the final norm"), "{out}");
    let (code, _, err) = run(&[
        "model",
        dir.to_str().unwrap(),
        "--text",
        "It's 2026.",
        "--steer",
        " and we",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("not one"), "{err}");
}

#[test]
fn bad_folders_and_arguments_exit_with_a_message() {
    let (code, _, err) = run(&["model", fixture("gpt2-untied").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("untied"), "{err}");
    let (code, _, err) = run(&["model", "/nonexistent-folder"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read"), "{err}");
    let (code, _, err) = run(&["model"]);
    assert_eq!(code, 2);
    assert!(err.contains("missing the checkpoint folder"), "{err}");
    let dir = fixture("gpt2-saved-bf16");
    let (code, _, err) = run(&["model", dir.to_str().unwrap(), "--text", "hello"]);
    assert_eq!(code, 1);
    assert!(err.contains("no tokenizer.json"), "{err}");
    let (code, _, err) = run(&["model", dir.to_str().unwrap(), "--ids", "1,400"]);
    assert_eq!(code, 1);
    assert!(err.contains("outside the vocabulary"), "{err}");
    let (code, _, err) = run(&["model", dir.to_str().unwrap(), "--ids", "1,x"]);
    assert_eq!(code, 2);
    assert!(err.contains("comma-separated"), "{err}");
}

#[test]
fn the_layer_lines_end_at_the_models_prediction() {
    let dir = fixture("llama-untied-bf16");
    let (code, out, err) = run(&[
        "model",
        dir.to_str().unwrap(),
        "--ids",
        "5,17,0,42,9",
        "--layers",
        "--top",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let after = out.split("next token after").nth(1).unwrap();
    let predicted = after
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .nth(2)
        .unwrap()
        .to_string();
    let layers: Vec<&str> = out
        .split("\nlayer\tmean speed")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(layers.len(), 3, "two blocks and the output: {out}");
    let last_p = layers[2].split('\t').nth(3).unwrap();
    // The lens normalises in f64, the pass in f32: equal to the printed 6 decimals here.
    assert_eq!(last_p, predicted, "{out}");
}

#[test]
fn generation_prints_the_models_greedy_continuation() {
    for variant in ["gpt2-hub-f32", "llama-tied-f32"] {
        let dir = fixture(variant);
        let (code, out, err) = run(&[
            "model",
            dir.to_str().unwrap(),
            "--text",
            "It's 2026",
            "--generate",
            "4",
            "--temperature",
            "0",
        ]);
        assert_eq!(code, 0, "{err}");
        let checkpoint = load_fixture(&dir);
        let tokenizer = checkpoint.tokenizer.as_ref().unwrap();
        let ids = tokenizer.encode("It's 2026").unwrap().ids;
        let all = checkpoint
            .model
            .generate(&ids, 4, td_transformer::Sampling::greedy(), 1)
            .unwrap();
        let text = tokenizer.decode(&all[ids.len()..]).unwrap();
        let want = format!(
            "continuation (4 tokens; temperature 0, top-k 0, top-p 1, min-p 0, seed 1): {text:?}"
        );
        assert!(
            out.contains(&want),
            "{variant}: {want:?} missing from\n{out}"
        );
    }
    let dir = fixture("llama-tied-f32");
    let (code, _, err) = run(&[
        "model",
        dir.to_str().unwrap(),
        "--generate",
        "3",
        "--top-p",
        "0",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("top_p") || err.contains("top-p"), "{err}");
}

#[test]
fn json_is_the_librarys_report() {
    let dir = fixture("llama-tied-f32");
    let text = "The cat sat on the mat.";
    let (code, out, err) = run(&[
        "model",
        dir.to_str().unwrap(),
        "--json",
        "--text",
        text,
        "--twin-seed",
        "4",
        "--layers",
        "--generate",
        "3",
        "--seed",
        "9",
    ]);
    assert_eq!(code, 0, "{err}");
    let c = load_fixture(&dir);
    let request = td_checkpoint::report::Request {
        text: Some(text.into()),
        twin_seed: 4,
        layers: true,
        generate: Some(td_checkpoint::report::Generate {
            n: 3,
            seed: 9,
            ..Default::default()
        }),
        ..Default::default()
    };
    let twin = c.model.random_twin(4).unwrap();
    let want = td_checkpoint::report::report(&c, &twin, &request).unwrap();
    assert_eq!(out.trim_end(), want.to_json());
}
