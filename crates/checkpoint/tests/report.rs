//! The report (`td_checkpoint::report`) that `token-dynamics model --json` and the page's
//! real-model module print: its numbers are the library's, its JSON carries them exactly, and
//! bad requests are errors that name what is wrong.

use std::path::Path;

use serde_json::Value;
use td_checkpoint::report::{random_shape, report, Request, LAB_DEFAULTS};
use td_checkpoint::{load, Checkpoint};
use td_transformer::energy::energy_series;

fn checkpoint(variant: &str) -> Checkpoint {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(variant);
    load(&td_checkpoint::read_folder(&dir).unwrap()).unwrap()
}

fn request(json: &str) -> Request {
    Request::from_json(json).unwrap()
}

/// The logits (`s`) and labels of a report's next-token link.
fn link_scores_and_labels(link: &str) -> (Vec<f64>, Vec<String>) {
    let parts = td_core::url::split_hash(link.strip_prefix("index.html").unwrap());
    assert_eq!(parts.explorer, "next-token");
    let get = |k: &str| &parts.pairs.iter().find(|(key, _)| key == k).unwrap().1;
    let scores = get("s").split(',').map(|x| x.parse().unwrap()).collect();
    (scores, td_core::export::csv_cells(get("labels")))
}

#[test]
fn the_reports_rows_and_statistics_are_the_librarys_for_both_families() {
    for variant in ["gpt2-hub-f32", "llama-tied-f32"] {
        let c = checkpoint(variant);
        let twin = c.model.random_twin(3).unwrap();
        let r = report(
            &c,
            &twin,
            &request(r#"{"text":"The cat sat on the mat.","twin_seed":3}"#),
        )
        .unwrap();
        let ids: Vec<u32> = r.tokens.iter().map(|t| t.id).collect();
        assert_eq!(
            ids,
            c.tokenizer
                .as_ref()
                .unwrap()
                .encode("The cat sat on the mat.")
                .unwrap()
                .ids
        );
        let pieces: String = r.tokens.iter().map(|t| t.piece.as_str()).collect();
        assert_eq!(
            pieces, "The cat sat on the mat.",
            "{variant}: pieces cover the text"
        );
        let series = energy_series(&c.model.forward(&ids).unwrap(), &ids, &LAB_DEFAULTS).unwrap();
        assert_eq!(r.rows.len(), series.t.len());
        for (i, row) in r.rows.iter().enumerate() {
            assert_eq!(
                (row.t, row.k, row.u, row.e),
                (series.t[i], series.k[i], series.u[i], series.e[i])
            );
        }
        let twin_series = energy_series(&twin.forward(&ids).unwrap(), &ids, &LAB_DEFAULTS).unwrap();
        let twin_rows: Vec<_> = r.twin_rows.iter().map(|w| (w.t, w.k, w.u, w.e)).collect();
        let expected: Vec<_> = (0..twin_series.t.len())
            .map(|i| {
                let s = &twin_series;
                (s.t[i], s.k[i], s.u[i], s.e[i])
            })
            .collect();
        assert_eq!(twin_rows, expected, "{variant}: the twin's rows");
        // The figures' sides are these series, with ‖v_t‖ = sqrt(2K/m) (K = ½·m·‖v‖², additive).
        for (side, series) in r.sides.iter().zip([&series, &twin_series]) {
            assert_eq!(&side.series, series);
            for (v, k) in side.speed.iter().zip(&series.k) {
                let from_k = (2.0 * k / series.mass.value).sqrt();
                assert!(
                    (v - from_k).abs() <= 1e-9 * (1.0 + v),
                    "{variant}: ‖v‖ {v} vs {from_k}"
                );
            }
        }
        let mean_e = &r.statistics[2];
        assert_eq!(mean_e.name, "mean E");
        let mean = |e: &[f64]| e.iter().sum::<f64>() / e.len() as f64;
        assert!((mean_e.model.unwrap() - mean(&series.e)).abs() < 1e-12);
        assert!((mean_e.twin.unwrap() - mean(&twin_series.e)).abs() < 1e-12);
        assert_ne!(
            mean_e.model, mean_e.twin,
            "{variant}: the twin is another model"
        );
        assert_eq!(r.statistics.len(), 9);
        assert_eq!(r.twin_seed, 3);
        // The next tokens: descending, and the first is the forward pass's argmax.
        assert_eq!(r.next.len(), 5);
        assert!(r.next.windows(2).all(|w| w[0].p >= w[1].p));
        let fwd = c.model.forward(&ids).unwrap();
        let last = fwd.log_probs_at(ids.len() - 1);
        let argmax = (0..last.len())
            .max_by(|&a, &b| last[a].total_cmp(&last[b]))
            .unwrap();
        assert_eq!(r.next[0].id as usize, argmax);
        assert!(r.layers.is_none() && r.generation.is_none() && r.steering.is_none());
    }
}

#[test]
fn the_json_carries_every_number_exactly() {
    let c = checkpoint("gpt2-hub-f32");
    let twin = c.model.random_twin(1).unwrap();
    let r = report(
        &c,
        &twin,
        &request(r#"{"text":"The cat sat.","layers":true,"steer":"5","generate":{"n":3,"temperature":0}}"#),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&r.to_json()).unwrap();
    for (i, row) in r.rows.iter().enumerate() {
        let j = &v["rows"][i];
        assert_eq!(j["k"].as_f64(), Some(row.k));
        assert_eq!(j["u"].as_f64(), Some(row.u));
        assert_eq!(j["e"].as_f64(), Some(row.e));
    }
    for (i, s) in r.statistics.iter().enumerate() {
        assert_eq!(v["statistics"][i]["model"].as_f64(), s.model);
        assert_eq!(v["statistics"][i]["twin"].as_f64(), s.twin);
    }
    assert_eq!(
        v["layers"].as_array().unwrap().len(),
        3,
        "two blocks and the output"
    );
    assert_eq!(v["generation"]["ids"].as_array().unwrap().len(), 3);
    assert_eq!(v["steering"]["target"]["id"], 5);
    assert_eq!(v["steering"]["forms"].as_array().unwrap().len(), 3);
    assert_eq!(v["model"]["family"], "gpt2");
    assert_eq!(v["model"]["has_tokenizer"], true);
}

#[test]
fn bad_requests_name_what_is_wrong() {
    let cases = [
        (r#"{"bogus":1}"#, "unknown field `bogus`"),
        (r#"{"top":"five"}"#, "invalid type"),
        (r#"{"top":0}"#, "list 1 to 100"),
        (r#"{"text":"a","ids":[1]}"#, "not both"),
        (r#"{"generate":{"n":0}}"#, "1 to 4096"),
        (r#"{"generate":{"temperature":-1}}"#, "temperature"),
        ("not json", "not valid"),
    ];
    for (json, want) in cases {
        let err = Request::from_json(json).unwrap_err();
        assert!(err.contains(want), "{json}: {err}");
    }
}

#[test]
fn checkpoints_without_a_tokenizer_take_ids_and_say_why_text_fails() {
    let c = checkpoint("gpt2-sharded-f16");
    let twin = c.model.random_twin(1).unwrap();
    let err = report(&c, &twin, &request(r#"{"text":"hello"}"#)).unwrap_err();
    assert!(err.contains("no tokenizer.json"), "{err}");
    let r = report(&c, &twin, &request(r#"{"ids":[1,2,3,4]}"#)).unwrap();
    assert_eq!(r.tokens[0].piece, "#1");
    let err = report(&c, &twin, &request(r#"{"ids":[1,99999]}"#)).unwrap_err();
    assert!(err.contains("outside the vocabulary"), "{err}");
    let err = report(&c, &twin, &request(r#"{"ids":[1]}"#)).unwrap_err();
    assert!(err.contains("2 to 16"), "{err}");
    let long: Vec<String> = (0..17).map(|i| i.to_string()).collect();
    let err = report(
        &c,
        &twin,
        &request(&format!("{{\"ids\":[{}]}}", long.join(","))),
    )
    .unwrap_err();
    assert!(err.contains("the model's context"), "{err}");
    let err = report(&c, &twin, &request(r#"{"ids":[1,2,3],"steer":"x"}"#)).unwrap_err();
    assert!(err.contains("must be a token id"), "{err}");
}

#[test]
fn unknown_benchmark_shapes_are_refused() {
    for bad in ["gpt5", "gpt2-small-f64", "smollm2-bf16"] {
        let err = random_shape(bad, 1).unwrap_err();
        assert!(
            err.contains("gpt2-small, smollm2-135m or smollm2-360m, optionally with -bf16 or -f16"),
            "{err}"
        );
    }
}

#[test]
fn the_next_token_link_names_the_top_64_and_lumps_the_rest() {
    let c = checkpoint("gpt2-hub-f32");
    let twin = c.model.random_twin(1).unwrap();
    let r = report(
        &c,
        &twin,
        &request(r#"{"text":"The cat sat on the mat.","position":2}"#),
    )
    .unwrap();
    assert_eq!(r.position, 2);
    let ids: Vec<u32> = r.tokens.iter().map(|t| t.id).collect();
    let fwd = c.model.forward(&ids).unwrap();
    let lp = fwd.log_probs_at(2);
    assert_eq!(
        r.next[0].p,
        lp[r.next[0].id as usize].exp(),
        "next is at the position"
    );
    let (scores, labels) = link_scores_and_labels(&r.next_token_link);
    assert_eq!((scores.len(), labels.len()), (65, 65));
    assert_eq!(labels[64], format!("other ({} tokens)", lp.len() - 64));
    // The lumped token carries the rest's probability, and the 65 sum to one (4-decimal rounding).
    let total: f64 = scores.iter().map(|s| s.exp()).sum();
    assert!((total - 1.0).abs() < 1e-3, "{total}");
    let mut sorted = lp.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    assert!((scores[0] - sorted[0]).abs() <= 5e-5);
    let rest: f64 = sorted[64..].iter().map(|x| x.exp()).sum();
    assert!((scores[64] - rest.ln()).abs() <= 5e-5);
    assert!(
        !labels[..64].iter().any(|l| l.contains(' ')),
        "whitespace is made visible: {labels:?}"
    );
    let mut unique = labels.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 65, "every label names one token: {labels:?}");
    let err = report(&c, &twin, &request(r#"{"text":"The cat","position":9}"#)).unwrap_err();
    assert!(err.contains("position 9"), "{err}");
}

#[test]
fn the_whole_distribution_file_is_the_positions_log_probs_and_its_top_64_are_the_links() {
    let c = checkpoint("gpt2-hub-f32");
    let twin = c.model.random_twin(1).unwrap();
    let plain = report(
        &c,
        &twin,
        &request(r#"{"text":"The cat sat","position":1}"#),
    )
    .unwrap();
    assert_eq!(plain.vocabulary, None, "made only when asked for");
    let r = report(
        &c,
        &twin,
        &request(r#"{"text":"The cat sat","position":1,"vocabulary":true}"#),
    )
    .unwrap();
    assert_eq!(r.next_token_link, plain.next_token_link);
    assert!(!r.to_json().contains("vocabulary"), "not in the JSON");
    let v = td_core::vocabulary::Vocabulary::decode(r.vocabulary.as_ref().unwrap()).unwrap();
    let ids: Vec<u32> = r.tokens.iter().map(|t| t.id).collect();
    let fwd = c.model.forward(&ids).unwrap();
    assert_eq!(v.log_probs, fwd.log_probs_at(1).to_vec(), "exact, all V");
    assert_eq!(v.labels.len(), 400);
    // The link's token i is the file's i-th most probable token (ties by lower index): same
    // label, the score to 4 decimals. The order, written here apart from the library's.
    let (scores, labels) = link_scores_and_labels(&r.next_token_link);
    let mut order: Vec<usize> = (0..v.log_probs.len()).collect();
    order.sort_by(|&a, &b| v.log_probs[b].total_cmp(&v.log_probs[a]).then(a.cmp(&b)));
    for i in 0..64 {
        assert_eq!(labels[i], v.labels[order[i]], "token {i}");
        assert!(
            (scores[i] - v.log_probs[order[i]]).abs() <= 5e-5,
            "token {i}"
        );
    }
}

#[test]
fn gpt2_steers_at_earlier_layers_and_continues_steered() {
    let c = checkpoint("gpt2-hub-f32");
    let twin = c.model.random_twin(1).unwrap();
    let req = request(
        r#"{"text":"The cat sat","steer":"7","steer_layer":1,"generate":{"n":4,"temperature":0}}"#,
    );
    let r = report(&c, &twin, &req).unwrap();
    let s = r.steering.unwrap();
    assert_eq!(s.forms.len(), 4);
    assert!(
        s.forms[3].name.contains("entering block 1"),
        "{}",
        s.forms[3].name
    );
    // The library's own numbers for that form.
    let ids: Vec<u32> = r.tokens.iter().map(|t| t.id).collect();
    let td_checkpoint::Model::Gpt2(w) = &c.model else {
        panic!("GPT-2 fixture")
    };
    let want =
        td_transformer::vjp::steer_delta_at_layer(w, &ids, 1, ids.len() - 1, 7, 1.0).unwrap();
    assert_eq!((s.forms[3].norm, s.forms[3].new_p), (want.norm, want.new_p));
    let steered = s.steered.unwrap();
    assert!(steered.site.contains("block 1"));
    assert_eq!(steered.ids.len(), 4);
    let patch = td_transformer::forward::Patch {
        site: td_transformer::forward::PatchSite::Residual(1),
        position: ids.len() - 1,
        delta: want.delta,
    };
    let sampling = td_checkpoint::report::Generate {
        temperature: 0.0,
        ..Default::default()
    }
    .sampling();
    let all = td_transformer::generate(w, &ids, 4, sampling, 1, Some(&patch)).unwrap();
    assert_eq!(steered.ids, all[ids.len()..]);
    assert!(r.notes.is_empty());
    let err = report(
        &c,
        &twin,
        &request(r#"{"text":"The cat","steer":"7","steer_layer":3}"#),
    )
    .unwrap_err();
    assert!(err.contains("layer 3"), "{err}");
    assert!(Request::from_json(r#"{"steer_layer":1}"#)
        .unwrap_err()
        .contains("needs a steering target"));
}

#[test]
fn llama_steers_at_earlier_layers_and_continues_steered() {
    // The GPT-2 test's request (block 1, steered continuation), through the Llama blocks' VJPs.
    let req = request(
        r#"{"text":"The cat sat","steer":"7","steer_layer":1,"generate":{"n":4,"temperature":0}}"#,
    );
    let sampling = td_checkpoint::report::Generate {
        temperature: 0.0,
        ..Default::default()
    }
    .sampling();
    let c = checkpoint("llama-tied-f32");
    let twin = c.model.random_twin(1).unwrap();
    let r = report(&c, &twin, &req).unwrap();
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    let s = r.steering.unwrap();
    assert_eq!(s.forms.len(), 4);
    assert!(s.forms[3].name.contains("entering block 1"));
    let ids: Vec<u32> = r.tokens.iter().map(|t| t.id).collect();
    let td_checkpoint::Model::Llama(w) = &c.model else {
        panic!("Llama fixture")
    };
    let want =
        td_transformer::vjp::steer_delta_at_layer(w, &ids, 1, ids.len() - 1, 7, 1.0).unwrap();
    assert_eq!((s.forms[3].norm, s.forms[3].new_p), (want.norm, want.new_p));
    let steered = s.steered.unwrap();
    assert_eq!(
        steered.site,
        "the residual stream entering block 1 (delta form)"
    );
    let patch = td_transformer::forward::Patch {
        site: td_transformer::forward::PatchSite::Residual(1),
        position: ids.len() - 1,
        delta: want.delta,
    };
    let all = td_transformer::llama::generate_llama_steered(w, &ids, 4, sampling, 1, Some(&patch))
        .unwrap();
    assert_eq!(steered.ids, all[ids.len()..]);
    // Without a block: the final post-norm Δ drives it, and greedy, its first token is the argmax
    // of the steered state's logits.
    let r = report(
        &c,
        &twin,
        &request(r#"{"text":"The cat sat","steer":"7","generate":{"n":4,"temperature":0}}"#),
    )
    .unwrap();
    let s = r.steering.unwrap();
    assert_eq!(s.forms.len(), 3);
    let steered = s.steered.unwrap();
    assert_eq!(steered.site, "the final post-norm state (delta form)");
    let fwd = c.model.forward(&ids).unwrap();
    let h = &fwd.h_post[(fwd.n - 1) * fwd.d..];
    let delta = td_transformer::steer::steer_delta(w, h, 7, 1.0).unwrap();
    assert_eq!(s.forms[0].norm, delta.norm);
    assert_eq!(steered.ids[0] as usize, argmax_steered(w, h, &delta.delta));
    let patch = td_transformer::forward::Patch {
        site: td_transformer::forward::PatchSite::PostNorm,
        position: ids.len() - 1,
        delta: delta.delta,
    };
    let all = td_transformer::llama::generate_llama_steered(w, &ids, 4, sampling, 1, Some(&patch))
        .unwrap();
    assert_eq!(steered.ids, all[ids.len()..]);
    assert!(report(
        &c,
        &twin,
        &request(r#"{"text":"The cat","steer":"7","steer_layer":3}"#)
    )
    .unwrap_err()
    .contains("layer 3"));
}

/// The greedy token of the final post-norm state `h` moved by `delta` (lowest id on ties).
fn argmax_steered(w: &td_transformer::llama::LlamaWeights, h: &[f64], delta: &[f64]) -> usize {
    let moved: Vec<f64> = h.iter().zip(delta).map(|(a, b)| a + b).collect();
    let logits = td_transformer::steer::logits(w, &moved);
    (0..logits.len())
        .rev()
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap()
}

/// A half-precision checkpoint, kept in its precision, reports the bits of the same checkpoint
/// widened to f32 as it is read (what earlier builds kept): the rows, the statistics beside the
/// twin, the next tokens, the layers, a sampled continuation, steering at a block and its steered
/// continuation. The twin is kept in the checkpoint's precision too, and takes as many bytes.
#[test]
fn half_precision_checkpoints_report_the_bits_of_their_f32_widening() {
    use td_transformer::Dtype;
    for (variant, dtype) in [
        ("gpt2-saved-bf16", Dtype::Bf16),
        ("gpt2-sharded-f16", Dtype::F16),
        ("llama-untied-bf16", Dtype::Bf16),
    ] {
        let c = checkpoint(variant);
        assert_eq!(c.model.matrix_dtype(), dtype, "{variant}");
        let twin = c.model.random_twin(2).unwrap();
        assert_eq!(twin.matrix_dtype(), dtype);
        assert_eq!(twin.bytes(), c.model.bytes());
        let wide = Checkpoint {
            model: c.model.widened(),
            ..checkpoint(variant)
        };
        assert_eq!(wide.model.matrix_dtype(), Dtype::F32);
        assert!(wide.model.bytes() > c.model.bytes() * 3 / 2);
        let req = request(
            r#"{"ids":[5,17,99,3,250,8,41,7],"layers":true,"steer":"11","steer_layer":1,
                "generate":{"n":5,"temperature":0.9,"seed":4},"vocabulary":true}"#,
        );
        let a = report(&c, &twin, &req).unwrap();
        let b = report(&wide, &twin.widened(), &req).unwrap();
        // Only the stated precision and bytes differ.
        assert_eq!(
            (a.model.weights_dtype, a.twin_dtype),
            (dtype.name(), dtype.name())
        );
        assert_eq!((b.model.weights_dtype, b.twin_dtype), ("f32", "f32"));
        let json = |r: &td_checkpoint::report::Report| {
            let mut v: Value = serde_json::from_str(&r.to_json()).unwrap();
            for key in ["model", "twin_dtype"] {
                v.as_object_mut().unwrap().remove(key);
            }
            v
        };
        assert_eq!(json(&a), json(&b), "{variant}");
        assert!(a.steering.as_ref().unwrap().steered.is_some());
        assert_eq!(format!("{:?}", a.sides), format!("{:?}", b.sides));
        assert_eq!(a.vocabulary, b.vocabulary);
    }
}
