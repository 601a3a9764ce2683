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
