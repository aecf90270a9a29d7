//! `token-dynamics model <folder>` on the committed Hugging Face fixtures (td-checkpoint): the
//! printed K, U, E are the library's, the twin differs from the model, and bad folders or
//! arguments exit non-zero with a message.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use td_transformer::energy::{energy_series, EnergyOptions};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../checkpoint/tests/fixtures")
        .join(name)
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
    let files: BTreeMap<String, Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let checkpoint = td_checkpoint::load(&files).unwrap();
    let ids = checkpoint
        .tokenizer
        .as_ref()
        .unwrap()
        .encode(text)
        .unwrap()
        .ids;
    let fwd = checkpoint.model.forward(&ids).unwrap();
    let series = energy_series(&fwd, &ids, &EnergyOptions::default()).unwrap();
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
