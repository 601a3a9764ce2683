//! `apical analyze` on files written the way numpy writes them, against closed forms.

mod common;

use common::*;
use std::path::Path;

use apical::nn::SeededRng;

/// Independent unit-variance units with slopes `0.02 + 0.01·(i mod 4)` per unit of signal:
/// the linear Fisher information about the signal is Σ slopeᵢ². Writes R.npy (float32 or
/// float64), S.npy, labels.npy; returns the true information.
fn write_population(dir: &Path, units: usize, per_level: usize, f32_responses: bool) -> f64 {
    let levels = [-12.0, -6.0, 0.0, 6.0, 12.0];
    let slope: Vec<f64> = (0..units).map(|i| 0.02 + 0.01 * (i % 4) as f64).collect();
    let mut rng = SeededRng::new(11);
    let (mut r, mut s, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for &level in &levels {
        for _ in 0..per_level {
            for sl in &slope {
                r.push(sl * level + rng.normal());
            }
            s.push(level);
            labels.push(i64::from(level > 0.0));
        }
    }
    let trials = s.len();
    if f32_responses {
        save_f32(
            &dir.join("R.npy"),
            &[trials, units],
            &r.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        );
    } else {
        save_f64(&dir.join("R.npy"), &[trials, units], &r);
    }
    save_f64(&dir.join("S.npy"), &[trials], &s);
    save_i64(&dir.join("labels.npy"), &[trials], &labels);
    slope.iter().map(|x| x * x).sum()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    ok(out);
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn fisher_recovers_known_information_from_numpy_files_f32_and_f64() {
    for f32_responses in [false, true] {
        let tmp = tempdir().unwrap();
        let truth = write_population(tmp.path(), 40, 600, f32_responses);
        let r = tmp.path().join("R.npy");
        let s = tmp.path().join("S.npy");
        for method in ["liu", "kanitscheider"] {
            let v = json_of(&apical(&[
                "analyze",
                "fisher",
                "--responses",
                r.to_str().unwrap(),
                "--signal",
                s.to_str().unwrap(),
                "--method",
                method,
            ]));
            let fisher = v["fisher"].as_f64().unwrap();
            assert!(
                (fisher - truth).abs() < 0.1 * truth,
                "{method}, f32 {f32_responses}: {fisher} vs {truth}"
            );
            assert!(
                v["redundancy_percent"].as_f64().unwrap().abs() < 10.0,
                "{v}"
            );
            assert_eq!(v["n_units"], 40);
            assert_eq!(v["n_trials"], 3000);
            assert!(v["fisher_variance"].as_f64().unwrap() > 0.0);
            assert!(v["fisher_shuffled"].as_f64().is_some());
            // One object per signal magnitude (levels ±6 and ±12).
            let levels: Vec<f64> = v["per_level"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    assert!(
                        l["fisher"].as_f64().is_some() && l["redundancy_percent"].is_number(),
                        "{l}"
                    );
                    l["signal"].as_f64().unwrap()
                })
                .collect();
            assert_eq!(levels, [6.0, 12.0], "{v}");
        }
        // Subsets of a quarter of the units carry about a quarter of the information.
        let out = tmp.path().join("subsets.json");
        ok(&apical(&[
            "analyze",
            "fisher",
            "--responses",
            r.to_str().unwrap(),
            "--signal",
            s.to_str().unwrap(),
            "--subset-size",
            "10",
            "--subsets",
            "100",
            "--out",
            out.to_str().unwrap(),
        ]));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let median = v["subsets"]["fisher"]["median"].as_f64().unwrap();
        assert!(
            (median - truth / 4.0).abs() < 0.25 * truth / 4.0,
            "{median} vs {}",
            truth / 4.0
        );
    }
}

#[test]
fn decode_and_correlations_on_numpy_files() {
    let tmp = tempdir().unwrap();
    write_population(tmp.path(), 20, 200, false);
    let r = tmp.path().join("R.npy");
    let v = json_of(&apical(&[
        "analyze",
        "decode",
        "--responses",
        r.to_str().unwrap(),
        "--labels",
        tmp.path().join("labels.npy").to_str().unwrap(),
        "--shuffles",
        "5",
    ]));
    assert!(
        v["accuracy"].as_f64().unwrap() > v["shuffled_accuracy_mean"].as_f64().unwrap() + 0.1,
        "{v}"
    );
    let v = json_of(&apical(&[
        "analyze",
        "correlations",
        "--responses",
        r.to_str().unwrap(),
        "--signal",
        tmp.path().join("S.npy").to_str().unwrap(),
    ]));
    assert!(
        v["mean_r"].as_f64().unwrap().abs() < 0.05,
        "independent units: {v}"
    );
    assert_eq!(v["single_unit_information"].as_array().unwrap().len(), 20);
}

#[test]
fn bad_analysis_inputs_are_refused_in_one_line() {
    let tmp = tempdir().unwrap();
    write_population(tmp.path(), 5, 20, false);
    let r = tmp.path().join("R.npy");
    let short = tmp.path().join("short.npy");
    save_f64(&short, &[3], &[0.0, 1.0, 2.0]);
    let garbage = tmp.path().join("garbage.npy");
    std::fs::write(&garbage, b"not numpy").unwrap();
    let missing = tmp.path().join("missing.npy");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "analyze",
                "fisher",
                "--responses",
                r.to_str().unwrap(),
                "--signal",
                short.to_str().unwrap(),
            ],
            "one value per trial",
        ),
        (
            vec![
                "analyze",
                "fisher",
                "--responses",
                garbage.to_str().unwrap(),
                "--signal",
                short.to_str().unwrap(),
            ],
            "garbage.npy",
        ),
        (
            vec![
                "analyze",
                "fisher",
                "--responses",
                missing.to_str().unwrap(),
                "--signal",
                short.to_str().unwrap(),
            ],
            "missing.npy",
        ),
        (
            vec![
                "analyze",
                "fisher",
                "--responses",
                short.to_str().unwrap(),
                "--signal",
                short.to_str().unwrap(),
            ],
            "trials × units",
        ),
    ];
    for (args, needle) in cases {
        let out = apical(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
    }
    // Too few zero-signal trials for the population: a clear error, not NaN.
    let big = tmp.path().join("big.npy");
    let signal = tmp.path().join("sig.npy");
    save_f64(
        &big,
        &[12, 10],
        &(0..120)
            .map(|i| ((i * 7919) % 13) as f64)
            .collect::<Vec<_>>(),
    );
    save_f64(
        &signal,
        &[12],
        &[
            0.0, 0.0, 0.0, 0.0, 6.0, 6.0, 6.0, 6.0, -6.0, -6.0, -6.0, -6.0,
        ],
    );
    let out = apical(&[
        "analyze",
        "fisher",
        "--responses",
        big.to_str().unwrap(),
        "--signal",
        signal.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("too few trials"), "{}", stderr(&out));
}

#[test]
fn analyze_run_directory_writes_json_and_plots() {
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("o");
    ok(&apical(&[
        "run",
        "configs/orientation_backprop.toml",
        "--set",
        "task.image_size=8",
        "--set",
        "task.frames=2",
        "--set",
        "task.n_train=180",
        "--set",
        "task.n_test=450",
        "--set",
        "training.epochs=2",
        "--set",
        "model.hidden=[40]",
        "--set",
        "model.activation=sigmoid",
        "--set",
        "logging.probe_examples=100",
        "--out",
        dir.to_str().unwrap(),
    ]));
    let out = apical(&["analyze", dir.to_str().unwrap()]);
    ok(&out);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("analysis/analysis.json")).unwrap())
            .unwrap();
    let layer = &v["layers"]["hidden_0"];
    assert_eq!(layer["n_units"], 40);
    // The orientation probe is half zero-signal: 50 zero-signal trials; subsets stay clear of the T0 − N − 4 edge, at most (50 − 4)/2 = 23
    // units, and the JSON says why the default 32 was lowered.
    assert_eq!(layer["n_active_units"], 40, "sigmoid units all vary");
    assert_eq!(layer["fisher_subsets"]["subset_size"], 23, "{layer}");
    let note = layer["subset_size_note"].as_str().unwrap();
    assert!(
        note.contains("50 zero-signal trials") && note.contains("23"),
        "{note}"
    );
    assert!(layer["decode_labels"]["accuracy"].as_f64().is_some());
    assert!(layer["correlations"]["mean_r"].as_f64().is_some());
    assert!(dir.join("analysis/decoding_by_layer.png").exists());
    assert_eq!(v["settings"]["subsets"], 200);
    // Recorded only at the end: one redundancy entry, at the run's last step, same subset size.
    let by_step = v["redundancy_by_step"].as_array().unwrap();
    assert_eq!(by_step.len(), 1, "{by_step:?}");
    assert_eq!(by_step[0]["step"], 6, "2 epochs of 180 trials at batch 64");
    assert_eq!(by_step[0]["units"], 23);
    assert_eq!(by_step[0]["context"], 0);
    assert_eq!(v["redundancy_subset_size"], 23);

    // The settings are parameters: fewer, smaller subsets are what the JSON reports.
    ok(&apical(&[
        "analyze",
        dir.to_str().unwrap(),
        "--subset-size",
        "8",
        "--subsets",
        "20",
    ]));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("analysis/analysis.json")).unwrap())
            .unwrap();
    assert_eq!(v["settings"]["subsets"], 20);
    assert_eq!(v["layers"]["hidden_0"]["fisher_subsets"]["subset_size"], 8);
    let out = apical(&["analyze", dir.to_str().unwrap(), "--subset-size", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// `apical analyze` on a directory that is missing, not a run, or a run that has not finished
/// says which (it used to blame `logging.probe_examples` for all three), exit 2.
#[test]
fn analyze_says_why_a_directory_cannot_be_analysed() {
    let tmp = tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let out = apical(&["analyze", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no such run directory"),
        "{}",
        stderr(&out)
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = apical(&["analyze", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no config.toml"), "{}", stderr(&out));
    let halted = tmp.path().join("halted");
    let run = run_small(&halted, &["--halt-after", "20"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let out = apical(&["analyze", halted.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("has not finished")
            && err.contains("apical resume")
            && !err.contains("probe_examples"),
        "{err}"
    );
}
