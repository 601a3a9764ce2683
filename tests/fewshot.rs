//! Few-shot foundations (issue 12, part 1): balanced labelled subsets with a validation split,
//! end to end through the binary.

mod common;

use common::*;
use std::path::Path;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn train_per_class_draws_a_balanced_subset_and_a_validation_split() {
    let tmp = tempdir().unwrap();
    let run = |name: &str, seed: u64| {
        let dir = tmp.path().join(name);
        let subset_seed = format!("task.subset_seed={seed}");
        ok(&run_small(
            &dir,
            &[
                "--set",
                "task.train_per_class=5",
                "--set",
                "task.validation_per_class=10",
                "--set",
                &subset_seed,
            ],
        ));
        dir
    };
    let a = run("a", 0);
    let s = json(&a.join("summary.json"));
    assert_eq!(s["n_train"], 50, "5 per class × 10 digits");
    assert_eq!(s["n_validation"], 100);
    assert_eq!(s["n_test"], 359, "the test split is untouched");
    for key in [
        "validation_accuracy",
        "validation_loss",
        "best_validation_step",
        "best_validation_loss",
        "test_accuracy_at_best_validation",
    ] {
        assert!(s[key].is_number(), "{key}: {}", s[key]);
    }
    let metrics = std::fs::read_to_string(a.join("metrics.csv")).unwrap();
    assert_eq!(
        metrics
            .lines()
            .filter(|l| l.contains(",validation,"))
            .count(),
        3
    );
    // The same subset seed gives the same run; another seed another draw.
    let b = run("b", 0);
    let c = run("c", 1);
    let metrics_of = |d: &Path| std::fs::read_to_string(d.join("metrics.csv")).unwrap();
    assert_eq!(metrics_of(&a), metrics_of(&b));
    assert_ne!(metrics_of(&a), metrics_of(&c));
}

#[test]
fn orientation_subsets_count_trials_per_choice() {
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("o");
    ok(&apical(&[
        "run",
        "configs/orientation_backprop.toml",
        "--set",
        "training.epochs=2",
        "--set",
        "task.n_train=200",
        "--set",
        "task.n_test=90",
        "--set",
        "task.train_per_class=8",
        "--set",
        "task.validation_per_class=20",
        "--set",
        "logging.probe_examples=0",
        "--out",
        dir.to_str().unwrap(),
    ]));
    let s = json(&dir.join("summary.json"));
    assert_eq!(s["n_train"], 16);
    assert_eq!(s["n_validation"], 40);
}

#[test]
fn asking_for_more_examples_than_a_class_has_is_refused_before_any_work() {
    let tmp = tempdir().unwrap();
    for (set, key) in [
        ("task.train_per_class=150", "task.train_per_class"),
        ("task.train_per_class=0", "task.train_per_class"),
        ("task.validation_per_class=0", "task.validation_per_class"),
    ] {
        let dir = tmp.path().join("never");
        let out = run_small(&dir, &["--set", set]);
        assert_eq!(out.status.code(), Some(2), "{set}: {}", stderr(&out));
        assert!(stderr(&out).contains(key), "{set}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim_end().lines().count(),
            1,
            "{}",
            stderr(&out)
        );
        assert!(!dir.exists(), "{set}: nothing may be written");
    }
}

/// The float32 values of a `.npy` file (format 1.0, little-endian, C order).
fn npy_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert!(String::from_utf8_lossy(&bytes[10..10 + header]).contains("'<f4'"));
    bytes[10 + header..]
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Rows of a CSV file as maps from column to cell.
fn csv_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn f(row: &std::collections::BTreeMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} = {:?}", row[key]))
}

const FEWSHOT_SMALL: &[&str] = &[
    "--set",
    "training.steps=40",
    "--set",
    "training.eval_every=10",
    "--set",
    "training.checkpoint_every=40",
];

#[test]
fn fewshot_tunes_on_validation_and_tabulates_every_n_and_seed() {
    let tmp = tempdir().unwrap();
    let out = tmp.path().join("fs");
    let mut args = vec![
        "fewshot",
        "configs/fewshot_digits_backprop.toml",
        "--n",
        "1,5",
        "--seeds",
        "3",
        "--jobs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(FEWSHOT_SMALL);
    ok(&apical(&args));
    let rows = csv_rows(&out.join("fewshot.csv"));
    assert_eq!(rows.len(), 6, "2 n × 3 seeds");
    for r in &rows {
        for key in ["n", "rule", "pretrained", "seed", "val_error", "test_error"] {
            assert!(r.contains_key(key), "{key} missing: {r:?}");
        }
        assert_eq!(r["rule"], "backprop");
        assert_eq!(r["pretrained"], "false");
        let (v, t) = (f(r, "val_error"), f(r, "test_error"));
        assert!(
            (0.0..=1.0).contains(&v) && (0.0..=1.0).contains(&t),
            "{r:?}"
        );
        assert!(f(r, "min_test_error") <= t + 1e-12, "{r:?}");
        let per_class: f64 = r["n"].parse().unwrap();
        assert_eq!(f(r, "n_train"), per_class * 10.0);
    }
    // The choice is the grid point with the lowest validation error at its best-validation step.
    for r in rows.iter().filter(|r| r["seed"] == "0") {
        let sweep = out.join("runs/fewshot_digits_backprop/scratch/seed=0/runs");
        let mut best: Option<(f64, f64, String)> = None;
        for e in std::fs::read_dir(&sweep).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(&format!("train_per_class={},", r["n"])) {
                continue;
            }
            let metrics = csv_rows(&e.path().join("metrics.csv"));
            // Early stopping's step: highest validation accuracy, then lowest loss, then first.
            let (loss, acc) = metrics
                .iter()
                .filter(|m| m["split"] == "validation")
                .map(|m| (f(m, "loss"), f(m, "accuracy")))
                .fold((f64::INFINITY, -1.0), |a, b| {
                    if (b.1, -b.0) > (a.1, -a.0) {
                        b
                    } else {
                        a
                    }
                });
            let lr = name.split("learning_rate=").nth(1).unwrap().to_string();
            if best.as_ref().is_none_or(|b| (1.0 - acc, loss) < (b.0, b.1)) {
                best = Some((1.0 - acc, loss, lr));
            }
        }
        let (val_error, _, lr) = best.unwrap();
        assert!((f(r, "val_error") - val_error).abs() < 1e-6, "{r:?}");
        assert_eq!(
            r["training.learning_rate"].parse::<f64>().unwrap(),
            lr.parse::<f64>().unwrap()
        );
    }
    let summary = csv_rows(&out.join("fewshot_summary.csv"));
    assert_eq!(summary.len(), 2);
    for s in &summary {
        for key in [
            "n",
            "rule",
            "pretrained",
            "mean_test_error",
            "ci_low",
            "ci_high",
        ] {
            assert!(s.contains_key(key), "{key} missing: {s:?}");
        }
        let (m, lo, hi) = (f(s, "mean_test_error"), f(s, "ci_low"), f(s, "ci_high"));
        assert!(lo <= m && m <= hi, "{s:?}");
        assert_eq!(s["seeds"], "3");
    }
    assert!(out.join("fewshot.png").is_file() && out.join("fewshot.svg").is_file());
    assert!(out.join("fewshot_auc.csv").is_file());
    // Rerunning continues (nothing left to run) and gives the same table; another protocol
    // into the same directory is refused.
    let before = std::fs::read_to_string(out.join("fewshot.csv")).unwrap();
    ok(&apical(&args));
    assert_eq!(
        before,
        std::fs::read_to_string(out.join("fewshot.csv")).unwrap()
    );
    // More n values and seeds extend the study: the runs made are reused (their summaries
    // untouched), the new ones run, and the tables cover the whole new protocol.
    let kept = out.join("runs/fewshot_digits_backprop/scratch/seed=0/runs");
    let first_run = std::fs::read_dir(&kept)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let stamp = std::fs::metadata(first_run.join("summary.json"))
        .unwrap()
        .modified()
        .unwrap();
    let mut more = args.clone();
    more[3] = "1,2,5";
    more[5] = "4";
    let o = apical(&more);
    ok(&o);
    assert!(
        stderr(&o).contains("extending the few-shot study"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::metadata(first_run.join("summary.json"))
            .unwrap()
            .modified()
            .unwrap(),
        stamp,
        "a finished run was not redone"
    );
    let extended = csv_rows(&out.join("fewshot.csv"));
    assert_eq!(extended.len(), 12, "3 n × 4 seeds");
    for r in &rows {
        let same = extended
            .iter()
            .find(|e| e["n"] == r["n"] && e["seed"] == r["seed"])
            .unwrap();
        assert_eq!(same["test_error"], r["test_error"], "{r:?}");
    }
    // Any other change is another study: refused, naming what differs.
    let mut other = args.clone();
    other.extend(["--set", "training.learning_rate=0.5"]);
    let o = apical(&other);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("protocol.toml differs in set"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fewshot_with_generative_pretraining_compares_both_conditions() {
    let tmp = tempdir().unwrap();
    let out = tmp.path().join("fs");
    let mut args = vec![
        "fewshot",
        "configs/fewshot_digits_backprop.toml",
        "configs/fewshot_digits_dendritic.toml",
        "--n",
        "2",
        "--seeds",
        "2",
        "--pretrained",
        "auto",
        "--pretrain-set",
        "training.steps=30",
        "--tune",
        "lr=0.003",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(FEWSHOT_SMALL);
    ok(&apical(&args));
    let rows = csv_rows(&out.join("fewshot.csv"));
    assert_eq!(rows.len(), 8, "2 configs × 2 conditions × 2 seeds");
    assert_eq!(rows.iter().filter(|r| r["pretrained"] == "true").count(), 4);
    // One generative run per model and seed, predictive coding without labels on the whole
    // training split; the fine-tuning loads its hidden layers.
    for model in ["ff-32x32", "gfn-32x32"] {
        let pre = out.join(format!("pretrain/{model}/runs/seed=1"));
        let config = std::fs::read_to_string(pre.join("config.toml")).unwrap();
        assert!(config.contains("mode = \"generative\""), "{config}");
        assert!(!config.contains("train_per_class"), "{config}");
        assert!(pre.join("summary.json").is_file());
    }
    let tuned = out.join("runs/fewshot_digits_dendritic/pretrained/seed=1/runs");
    let point = std::fs::read_dir(&tuned).unwrap().flatten().next().unwrap();
    let config = std::fs::read_to_string(point.path().join("config.toml")).unwrap();
    assert!(config.contains("init_layers = [0, 1]"), "{config}");
    assert!(
        config.contains("pretrain/gfn-32x32/runs/seed=1"),
        "{config}"
    );
    let paired = csv_rows(&out.join("fewshot_paired.csv"));
    assert!(
        paired.iter().any(|p| p["n"] == "2"
            && p["a"] == "fewshot_digits_backprop"
            && p["b"] == "fewshot_digits_backprop+pretrained"),
        "{paired:?}"
    );
    for p in &paired {
        let pv = f(p, "p_sign_flip");
        assert!((0.0..=1.0).contains(&pv), "{p:?}");
    }

    // Your own pretraining runs (`{seed}` in the path): fine-tuning starts from them.
    let own = tmp.path().join("own");
    let pattern = format!("{}/pretrain/ff-32x32/runs/seed={{seed}}", out.display());
    let mut args = vec![
        "fewshot",
        "configs/fewshot_digits_backprop.toml",
        "--n",
        "2",
        "--seeds",
        "2",
        "--pretrained",
        &pattern,
        "--tune",
        "lr=0.003",
        "--out",
        own.to_str().unwrap(),
    ];
    args.extend_from_slice(FEWSHOT_SMALL);
    ok(&apical(&args));
    let rows = csv_rows(&own.join("fewshot.csv"));
    assert_eq!(rows.len(), 4, "scratch and pretrained × 2 seeds");
    let tuned = own.join("runs/fewshot_digits_backprop/pretrained/seed=1/runs");
    let point = std::fs::read_dir(&tuned).unwrap().flatten().next().unwrap();
    let config = std::fs::read_to_string(point.path().join("config.toml")).unwrap();
    assert!(config.contains("pretrain/ff-32x32/runs/seed=1"), "{config}");
    // Its pretrained rows equal those of `--pretrained auto` (same runs, same seeds).
    let auto_rows = csv_rows(&out.join("fewshot.csv"));
    for r in rows.iter().filter(|r| r["pretrained"] == "true") {
        let same = auto_rows
            .iter()
            .find(|a| {
                a["config"] == r["config"] && a["pretrained"] == "true" && a["seed"] == r["seed"]
            })
            .unwrap();
        assert_eq!(r["test_error"], same["test_error"]);
    }
}

#[test]
fn fewshot_refuses_bad_arguments_before_any_work() {
    let tmp = tempdir().unwrap();
    let out = tmp.path().join("never");
    let o = out.to_str().unwrap();
    let unfinished = tmp.path().join("unfinished");
    std::fs::create_dir_all(unfinished.join("checkpoints")).unwrap();
    let unfinished_path = unfinished.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["configs/fewshot_digits_backprop.toml", "--n", "0,5"],
            "--n",
        ),
        (
            vec!["configs/fewshot_digits_backprop.toml", "--seeds", "x"],
            "--seeds",
        ),
        // More examples than the smallest digit class holds: refused before any run (it used
        // to create the directory, run, and fail every point).
        (
            vec!["configs/fewshot_digits_backprop.toml", "--n", "1,500"],
            "task.train_per_class`: --n 500: digits: class 0 has",
        ),
        (
            vec!["configs/fewshot_digits_backprop.toml", "--tune", "lr"],
            "--tune",
        ),
        (
            vec!["configs/quickstart.toml", "--n", "1"],
            "task.validation_per_class",
        ),
        (
            vec![
                "configs/fewshot_digits_backprop.toml",
                "--set",
                "model.hidden=[0]",
            ],
            "model.hidden",
        ),
        (
            vec![
                "configs/fewshot_digits_backprop.toml",
                "--pretrained",
                "auto",
                "--pretrain-set",
                "training.bogus=1",
            ],
            "training.bogus",
        ),
        (
            vec![
                "configs/fewshot_digits_backprop.toml",
                "--tune",
                "task.validation_per_class=5,10",
            ],
            "--tune cannot sweep task.validation_per_class",
        ),
        (
            vec![
                "configs/fewshot_digits_backprop.toml",
                "--pretrained",
                unfinished_path,
            ],
            "has not finished",
        ),
        (
            vec![
                "configs/fewshot_digits_backprop.toml",
                "--pretrained",
                "/nonexistent/run-{seed}",
            ],
            "--pretrained",
        ),
    ] {
        let mut full = vec!["fewshot"];
        full.extend(args.iter());
        full.extend(["--out", o]);
        let r = apical(&full);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(needle), "{args:?}: {}", stderr(&r));
        assert!(!out.exists(), "{args:?}: nothing may be written");
    }
}

#[test]
fn init_from_loads_layers_and_freeze_holds_them() {
    let tmp = tempdir().unwrap();
    let source = tmp.path().join("source");
    ok(&run_small(&source, &[]));
    let from = format!("training.init_from={}", source.display());
    let npy = |dir: &Path, name: &str| std::fs::read(dir.join("activity").join(name)).unwrap();

    // Hidden layer loaded and frozen: its responses on the probe set are the source's; the
    // readout (loaded too) trains on, so the logits move.
    let frozen = tmp.path().join("frozen");
    ok(&run_small(
        &frozen,
        &["--set", &from, "--set", "training.freeze=[0]"],
    ));
    assert_eq!(npy(&frozen, "hidden_0.npy"), npy(&source, "hidden_0.npy"));
    assert_ne!(npy(&frozen, "logits.npy"), npy(&source, "logits.npy"));
    let config = std::fs::read_to_string(frozen.join("config.toml")).unwrap();
    assert!(config.contains("freeze = [0]"), "{config}");

    // Only the readout loaded: the hidden layer starts from its own initialisation.
    let readout = tmp.path().join("readout");
    ok(&run_small(
        &readout,
        &[
            "--set",
            &from,
            "--set",
            "training.init_layers=[1]",
            "--set",
            "training.freeze=[0]",
        ],
    ));
    assert_ne!(npy(&readout, "hidden_0.npy"), npy(&source, "hidden_0.npy"));

    // Basal weights load from ff into gfn; a checkpoint directory works as well as a run.
    let ck = std::fs::read_dir(source.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .max()
        .unwrap();
    // Named as a user would type it: `step-60` for the folder `step-00000060`.
    let step: usize =
        apical_store::parse_step_name(&ck.file_name().unwrap().to_string_lossy()).unwrap();
    let ck = ck.with_file_name(format!("step-{step}"));
    let gfn = tmp.path().join("gfn");
    ok(&run_small(
        &gfn,
        &[
            "--set",
            &format!("training.init_from={}", ck.display()),
            "--set",
            "model.kind=gfn",
            "--set",
            "model.activation=relu",
            "--set",
            "training.init_layers=[0]",
            "--set",
            "training.freeze=[0]",
        ],
    ));
    // The gfn's frozen basal drive at the bottom-up step, through the same relu, is the ff
    // source's hidden layer: the basal weights and bias were loaded.
    let source_hidden = npy_f32(&source.join("activity/hidden_0.npy"));
    let basal = npy_f32(&gfn.join("activity/layer0_basal.npy"));
    let units = 32;
    let steps = basal.len() / source_hidden.len();
    for (e, row) in source_hidden.chunks(units).enumerate() {
        let step0 = &basal[e * steps * units..e * steps * units + units];
        for (h, b) in row.iter().zip(step0) {
            assert!(
                (h - b.max(0.0)).abs() < 1e-4,
                "example {e}: {h} vs relu({b})"
            );
        }
    }

    // Refusals, before anything is written: shapes named, layers that do not exist, a run
    // that has not finished, a path that is neither.
    let unfinished = tmp.path().join("unfinished");
    std::fs::create_dir_all(unfinished.join("checkpoints")).unwrap();
    for (extra, needles) in [
        (
            vec!["--set", &from, "--set", "model.hidden=[16]"],
            vec!["training.init_from", "[64, 32]", "[64, 16]"],
        ),
        (
            vec!["--set", &from, "--set", "training.init_layers=[5]"],
            vec!["training.init_layers", "layer 5"],
        ),
        (
            vec!["--set", "training.init_layers=[0]"],
            vec!["training.init_layers", "init_from"],
        ),
        (
            vec!["--set", "training.freeze=[0,1]"],
            vec!["training.freeze", "every layer"],
        ),
    ] {
        let dir = tmp.path().join("never");
        let out = run_small(&dir, &extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        for n in needles {
            assert!(stderr(&out).contains(n), "{extra:?}: {}", stderr(&out));
        }
        assert_eq!(
            stderr(&out).trim_end().lines().count(),
            1,
            "{}",
            stderr(&out)
        );
        assert!(!dir.exists(), "{extra:?}: nothing may be written");
    }
    for bad in [unfinished.clone(), tmp.path().join("nowhere")] {
        let dir = tmp.path().join("never");
        let set = format!("training.init_from={}", bad.display());
        let out = run_small(&dir, &["--set", &set]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("training.init_from"),
            "{}",
            stderr(&out)
        );
        assert!(!dir.exists());
    }
}

/// Small generated stand-ins for Fashion-MNIST in `data`: 10 classes of 6×6 images (20 train
/// and 5 test per class), each class a bright bar at its own place plus seeded noise.
fn write_idx_data(data: &Path) {
    std::fs::create_dir_all(data).unwrap();
    let side = 6;
    let make = |n_per_class: usize, salt: u64| {
        let mut state = 0x2545_F491_4F6C_DD1Du64 ^ salt;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n_per_class * 10 {
            let class = i % 10;
            labels.push(class as u8);
            for p in 0..side * side {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state % 60) as u8;
                let on = p % 10 == class || (p + 3) % 10 == class;
                pixels.push(if on { 180 + noise } else { noise });
            }
        }
        (pixels, labels)
    };
    let (train, train_labels) = make(20, 1);
    let (test, test_labels) = make(5, 2);
    std::fs::write(
        data.join("train-images-idx3-ubyte"),
        idx_images(200, side, &train),
    )
    .unwrap();
    std::fs::write(
        data.join("train-labels-idx1-ubyte"),
        idx_labels(&train_labels),
    )
    .unwrap();
    std::fs::write(
        data.join("t10k-images-idx3-ubyte"),
        idx_images(50, side, &test),
    )
    .unwrap();
    std::fs::write(
        data.join("t10k-labels-idx1-ubyte"),
        idx_labels(&test_labels),
    )
    .unwrap();
}

/// A relative `task.path` names the data from the directory `apical run` ran in; the run's
/// config stores it absolute, so `apical record` (and `resume`) work from anywhere.
#[test]
fn a_relative_data_path_is_stored_absolute() {
    let tmp = tempdir().unwrap();
    write_idx_data(&tmp.path().join("fashion"));
    let config = root().join("configs/fewshot_fashion_backprop.toml");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_apical"))
        .current_dir(tmp.path())
        .args([
            "run",
            config.to_str().unwrap(),
            "--set",
            "task.path=\"fashion\"",
            "--set",
            "task.validation_per_class=3",
            "--set",
            "training.steps=20",
            "--set",
            "logging.probe_examples=20",
            "--out",
            "run",
        ])
        .output()
        .unwrap();
    ok(&run);
    let written = std::fs::read_to_string(tmp.path().join("run/config.toml")).unwrap();
    let absolute = tmp.path().join("fashion").canonicalize().unwrap();
    assert!(
        written.contains(&format!("path = \"{}\"", absolute.display())),
        "{written}"
    );
    // From the workspace root (another directory), the run re-records.
    let rec = tmp.path().join("rec");
    ok(&apical(&[
        "record",
        tmp.path().join("run").to_str().unwrap(),
        "--out",
        rec.to_str().unwrap(),
    ]));
    assert!(rec.join("activity/hidden_0.npy").is_file());
}

#[test]
fn song_et_al_protocol_runs_on_idx_files() {
    let tmp = tempdir().unwrap();
    let data = tmp.path().join("fashion");
    write_idx_data(&data);
    let out = tmp.path().join("song");
    let path = format!("task.path={}", data.display());
    ok(&apical(&[
        "fewshot",
        "configs/fewshot_fashion_backprop.toml",
        "configs/fewshot_fashion_predictive-coding.toml",
        "--set",
        &path,
        "--set",
        "task.validation_per_class=3",
        "--set",
        "training.steps=60",
        "--set",
        "training.eval_every=10",
        "--n",
        "2,10",
        "--seeds",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]));
    let rows = csv_rows(&out.join("fewshot.csv"));
    assert_eq!(rows.len(), 8, "2 rules × 2 n × 2 seeds");
    let rules: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["rule"].as_str()).collect();
    assert_eq!(
        rules,
        ["backprop", "predictive-coding"].into_iter().collect()
    );
    for r in &rows {
        assert!(
            f(r, "min_test_error") <= f(r, "test_error") + 1e-12,
            "{r:?}"
        );
        let per_class: f64 = r["n"].parse().unwrap();
        assert_eq!(f(r, "n_train"), per_class * 10.0);
    }
    // The bars are easy: with 10 per class both rules beat chance (0.9) clearly.
    let summary = csv_rows(&out.join("fewshot_summary.csv"));
    for s in summary.iter().filter(|s| s["n"] == "10") {
        assert!(f(s, "mean_test_error") < 0.6, "{s:?}");
    }
}

#[test]
fn patience_stops_early_and_a_resumed_run_stops_at_the_same_step() {
    let tmp = tempdir().unwrap();
    let settings = [
        "--set",
        "training.steps=600",
        "--set",
        "training.eval_every=10",
        "--set",
        "training.checkpoint_every=10",
        "--set",
        "training.learning_rate=0.01",
        "--set",
        "task.train_per_class=2",
        "--set",
        "task.validation_per_class=10",
        "--set",
        "training.patience=3",
    ];
    let whole = tmp.path().join("whole");
    let printed = run_small(&whole, &settings);
    ok(&printed);
    let s = json(&whole.join("summary.json"));
    let stopped = s["stopped_early_at_step"].as_u64().expect("stopped early") as usize;
    let best = s["best_validation_step"].as_u64().unwrap() as usize;
    assert!(stopped < 600, "{s}");
    assert_eq!(stopped, best + 30, "three evaluations after the best one");
    // The summary and the printed line report the updates made, not the planned 600.
    assert_eq!(s["steps"].as_u64(), Some(stopped as u64), "{s}");
    assert_eq!(s["planned_steps"].as_u64(), Some(600), "{s}");
    // The test accuracy's Wilson interval, within [0, 1].
    let acc = s["test_accuracy"].as_f64().unwrap();
    let (lo, hi) = (
        s["test_accuracy_ci_low"].as_f64().unwrap(),
        s["test_accuracy_ci_high"].as_f64().unwrap(),
    );
    assert!(0.0 <= lo && lo < acc && acc < hi && hi <= 1.0, "{s}");
    let epochs = s["epochs"].as_f64().unwrap();
    assert!(
        (epochs - stopped as f64).abs() < 1e-9,
        "20 training examples in one batch, an epoch a step: {epochs}"
    );
    let line = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert!(
        line.contains(&format!(
            "after {stopped} of 600 steps (stopped early: no better validation evaluation"
        )),
        "{line}"
    );
    let metrics = std::fs::read_to_string(whole.join("metrics.csv")).unwrap();
    let last = metrics.lines().last().unwrap();
    assert!(last.starts_with(&format!("{stopped},")), "{last}");

    // Halted at the very step it stops at (checkpoint written, summary not), then resumed: it
    // stops there again with the same logs.
    let halted = tmp.path().join("halted");
    let mut args = settings.to_vec();
    let at = stopped.to_string();
    args.extend(["--halt-after", &at]);
    let out = run_small(&halted, &args);
    assert!(!out.status.success(), "halted");
    assert!(!halted.join("summary.json").exists());
    ok(&apical(&["resume", halted.to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(halted.join("metrics.csv")).unwrap(),
        metrics
    );
    let h = json(&halted.join("summary.json"));
    assert_eq!(h["stopped_early_at_step"], s["stopped_early_at_step"]);

    // Without a validation split there is nothing to watch.
    let dir = tmp.path().join("never");
    let out = run_small(&dir, &["--set", "training.patience=3"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("training.patience"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.exists());
}

#[test]
fn fewshot_refusal_leaves_an_empty_out_empty_and_a_diverged_pretraining_stops_it() {
    let tmp = tempdir().unwrap();
    // Planning writes the pretraining configs, then refuses a tuning key: nothing is left.
    let out = tmp.path().join("empty");
    std::fs::create_dir_all(&out).unwrap();
    let r = apical(&[
        "fewshot",
        "configs/fewshot_digits_backprop.toml",
        "--pretrained",
        "auto",
        "--tune",
        "model.bogus=1,2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("model"), "{}", stderr(&r));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "left behind");

    // A pretraining that diverges: exit 1 naming it; nothing is fine-tuned from it.
    let out = tmp.path().join("diverged");
    let mut args = vec![
        "fewshot",
        "configs/fewshot_digits_backprop.toml",
        "--n",
        "2",
        "--seeds",
        "1",
        "--pretrained",
        "auto",
        "--pretrain-set",
        "training.learning_rate=1e30",
        "--pretrain-set",
        "training.steps=20",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(FEWSHOT_SMALL);
    let r = apical(&args);
    assert_eq!(r.status.code(), Some(1), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(
        err.contains("generative pretraining") && err.contains("diverged"),
        "{err}"
    );
    assert!(!out.join("runs").exists(), "nothing fine-tuned");
}

/// Song et al.'s mechanism on MNIST-10k (experiments/song2024): under their protocol — plain
/// SGD on the summed squared error, 64 epochs, 60 per class — at a learning rate of 7.5e-3
/// backprop's steps are too large and it fails, while predictive coding, whose inference
/// (T = 64, rate halved on a rise) tempers the effective step, learns. The lowest test error
/// over the per-epoch evaluations, as they measure it.
#[test]
fn song_et_al_protocol_pc_tolerates_a_learning_rate_at_which_backprop_fails() {
    let tmp = tempdir().unwrap();
    let mut best = std::collections::BTreeMap::new();
    for rule in ["backprop", "predictive-coding"] {
        let dir = tmp.path().join(rule);
        ok(&apical(&[
            "run",
            &format!("configs/song2024_mnist_{rule}.toml"),
            "--set",
            "training.learning_rate=0.0075",
            "--out",
            dir.to_str().unwrap(),
        ]));
        let rows = csv_rows(&dir.join("metrics.csv"));
        let test: Vec<f64> = rows
            .iter()
            .filter(|r| r["split"] == "test" && !r["accuracy"].is_empty())
            .map(|r| 1.0 - f(r, "accuracy"))
            .collect();
        assert!(!test.is_empty(), "{rule}: no evaluation");
        best.insert(rule, test.iter().cloned().fold(f64::INFINITY, f64::min));
    }
    let (bp, pc) = (best["backprop"], best["predictive-coding"]);
    assert!(pc < 0.3, "PC's minimum test error {pc}");
    assert!(bp > pc + 0.2, "BP {bp} vs PC {pc}");
}

/// The controls that learn no features, on the same labelled draws as `apical fewshot`: three
/// controls per n and seed; below 3 per class the settings come from n = 3 of the same seed;
/// the tables carry intervals from 3 seeds; a closed-loop task is refused naming the key.
#[test]
fn fewshot_controls_choose_inside_the_labelled_set_and_write_both_tables() {
    let tmp = tempdir().unwrap();
    let out = tmp.path().join("controls");
    ok(&apical(&[
        "fewshot-controls",
        "configs/mnist_backprop.toml",
        "--n",
        "1,3",
        "--seeds",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]));
    let rows = csv_rows(&out.join("controls.csv"));
    assert_eq!(rows.len(), 2 * 3 * 3, "n × controls × seeds");
    for r in &rows {
        let e = f(r, "test_error");
        assert!(e > 0.0 && e < 0.9, "{r:?}");
        let expected = match (r["control"].as_str(), r["n"].as_str()) {
            ("pixel-1nn", _) => "none",
            (_, "1") => "n=3",
            _ => "cv",
        };
        assert_eq!(r["chosen_by"], expected, "{r:?}");
        if r["chosen_by"] == "n=3" {
            let three = rows
                .iter()
                .find(|t| t["n"] == "3" && t["control"] == r["control"] && t["seed"] == r["seed"])
                .unwrap();
            assert_eq!(
                (&r["pca_dim"], &r["lambda"]),
                (&three["pca_dim"], &three["lambda"])
            );
        }
    }
    let summary = csv_rows(&out.join("controls_summary.csv"));
    assert_eq!(summary.len(), 6);
    for s in &summary {
        assert!(
            f(s, "ci_low") <= f(s, "mean_test_error") && f(s, "mean_test_error") <= f(s, "ci_high"),
            "{s:?}"
        );
    }
    // More labels help every control.
    let mean = |n: &str, c: &str| {
        summary
            .iter()
            .find(|s| s["n"] == n && s["control"] == c)
            .map(|s| f(s, "mean_test_error"))
            .unwrap()
    };
    for c in ["pixel-1nn", "pca-1nn", "pca-ridge-probe"] {
        assert!(mean("3", c) < mean("1", c), "{c}");
    }
    let refused = apical(&[
        "fewshot-controls",
        "configs/bci_dendritic.toml",
        "--out",
        tmp.path().join("never").to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("task.kind"),
        "{}",
        stderr(&refused)
    );
    assert!(!tmp.path().join("never").exists());
}

/// The autoencoder control: trained on the images alone (the readout untouched), its hidden
/// layers load into a labelled run like a generative pretraining's; it trains ff only.
#[test]
fn an_autoencoder_pretraining_loads_into_a_labelled_run() {
    let tmp = tempdir().unwrap();
    let ae = tmp.path().join("ae");
    ok(&apical(&[
        "run",
        "configs/digits_backprop.toml",
        "--set",
        "rule.kind=\"autoencoder\"",
        "--set",
        "training.steps=100",
        "--out",
        ae.to_str().unwrap(),
    ]));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ae.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["rule"], "autoencoder");
    let tuned = tmp.path().join("tuned");
    ok(&apical(&[
        "run",
        "configs/digits_backprop.toml",
        "--set",
        "task.train_per_class=5",
        "--set",
        "training.steps=50",
        "--set",
        &format!("training.init_from=\"{}\"", ae.display()),
        "--set",
        "training.init_layers=[0, 1]",
        "--out",
        tuned.to_str().unwrap(),
    ]));
    let out = apical(&[
        "run",
        "configs/digits_dendritic.toml",
        "--set",
        "rule.kind=\"autoencoder\"",
        "--out",
        tmp.path().join("never").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("rule.kind"), "{}", stderr(&out));
}

/// The fast forms of the two MNIST-10k experiments, end to end through their scripts, with this
/// build's binary: Song et al.'s protocol (both rules, their grid cut to 2 rates, the
/// cross-validated choice, the project's protocol) and the few-label factorial (pretraining,
/// tuning by cross-validation, the choices, evaluation, controls, report). Their reports are
/// written by Python (standard library); without python3 the test says so and stops (and fails
/// under `APICAL_REQUIRE_PYTHON=1`, as CI sets it).
#[test]
fn the_mnist_experiments_run_end_to_end_in_their_fast_form() {
    if !python3_present("the experiments' reports") {
        return;
    }
    let tmp = tempdir().unwrap();
    for (script, needles) in [
        (
            "experiments/song2024/run.sh",
            &["Their measure", "Honest measure", "The project's protocol"][..],
        ),
        (
            "experiments/fewlabel/run.sh",
            &[
                "control: pca-1nn",
                "Paired differences",
                "Target at n = 10",
                "The search (tuning seeds",
                "extension round(s)",
            ][..],
        ),
    ] {
        let out_dir = tmp.path().join(script.replace('/', "_"));
        let out = std::process::Command::new(root().join(script))
            .arg(&out_dir)
            .env("FAST", "1")
            .env("APICAL", env!("CARGO_BIN_EXE_apical"))
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
        for needle in needles {
            assert!(
                report.contains(needle),
                "{script}: {needle:?} missing from\n{report}"
            );
        }
        assert!(
            !report.contains("NaN") && !report.contains("nan ["),
            "{report}"
        );
    }
}
