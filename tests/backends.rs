//! ndarray and wgpu run the same code: same seed, same config → the same numbers.
//!
//! The wgpu tests need a Vulkan device; without a GPU, Mesa's lavapipe provides one
//! (`apt-get install mesa-vulkan-drivers`). `.ci/run` installs it and sets
//! `APICAL_REQUIRE_WGPU=1`, which turns "no adapter" into a test failure instead of a skip.

mod common;

use common::*;

fn wgpu_required() -> bool {
    std::env::var("APICAL_REQUIRE_WGPU").is_ok_and(|v| v == "1")
}

fn metrics(dir: &std::path::Path) -> Vec<(usize, String, f64)> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[2].to_string(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn ndarray_and_wgpu_agree_over_20_steps() {
    let tmp = tempdir().unwrap();
    let settings = [
        "--set",
        "training.steps=20",
        "--set",
        "training.eval_every=1",
        "--set",
        "model.noise_std=0.2",
    ];
    let cpu = tmp.path().join("cpu");
    let gpu = tmp.path().join("gpu");
    ok(&run_small(&cpu, &settings));
    // As in a container or a batch job without a session runtime directory: Mesa's drivers
    // would complain on every device query; apical gives them a private one.
    let mut args = vec!["run", "configs/quickstart.toml"];
    args.extend_from_slice(SMALL);
    args.extend_from_slice(&settings);
    let gpu_out = gpu.to_str().unwrap().to_string();
    args.extend(["--backend", "wgpu", "--out", &gpu_out]);
    let out = apical_env(&args, &[("XDG_RUNTIME_DIR", "/nonexistent/runtime-dir")]);
    if out.status.code() == Some(2)
        && stderr(&out).contains("no usable GPU adapter")
        && !wgpu_required()
    {
        eprintln!("skipping: no wgpu adapter here (install mesa-vulkan-drivers, or set APICAL_REQUIRE_WGPU=1 to make this a failure)");
        return;
    }
    ok(&out);
    assert!(
        !stderr(&out).contains("XDG_RUNTIME_DIR"),
        "{}",
        stderr(&out)
    );
    let (a, b) = (metrics(&cpu), metrics(&gpu));
    assert_eq!(a.len(), 40);
    assert_eq!(a.len(), b.len());
    for ((step, split, la), (_, _, lb)) in a.iter().zip(&b) {
        let rel = (la - lb).abs() / la.abs().max(1e-12);
        assert!(
            rel <= 1e-4,
            "step {step} {split}: ndarray loss {la} vs wgpu {lb} (relative {rel:.2e})"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gpu.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["backend"], "wgpu");
    // The adapter it ran on is named in its provenance (lavapipe here without a GPU).
    let adapter = summary["provenance"]["adapter"].as_str().unwrap_or("");
    assert!(!adapter.is_empty(), "{summary}");
}

#[test]
fn every_rule_agrees_on_ndarray_and_wgpu() {
    // Every learning rule (the gfn ones with their top-down learning) runs the same numbers on
    // both backends.
    let tmp = tempdir().unwrap();
    for (case, (config, rule)) in [
        ("configs/digits_dendritic.toml", "rule.kind=dendritic"),
        (
            "configs/digits_predictive-coding.toml",
            "rule.kind=predictive-coding",
        ),
        ("configs/quickstart.toml", "rule.kind=feedback-alignment"),
        ("configs/quickstart.toml", "rule.kind=kolen-pollack"),
        ("configs/quickstart.toml", "rule.kind=reward-broadcast"),
        ("configs/quickstart.toml", "rule.variant=exploratory-hebb"),
        ("configs/quickstart.toml", "rule.kind=predictive-coding"),
    ]
    .into_iter()
    .enumerate()
    {
        let run = |dir: &std::path::Path, backend: &str| {
            let d = dir.to_str().unwrap().to_string();
            let rule_kind = if rule.starts_with("rule.variant") {
                "rule.kind=reward-broadcast"
            } else {
                rule
            };
            apical(&[
                "run",
                config,
                "--set",
                rule_kind,
                "--set",
                rule,
                "--set",
                "training.steps=8",
                "--set",
                "training.eval_every=2",
                "--set",
                "model.hidden=[16, 8]",
                "--set",
                "logging.probe_examples=0",
                "--set",
                "logging.plots=false",
                "--backend",
                backend,
                "--out",
                &d,
            ])
        };
        let name = format!("{case}-{}", rule.replace(['=', '.'], "-"));
        let cpu = tmp.path().join(format!("{name}-cpu"));
        let gpu = tmp.path().join(format!("{name}-gpu"));
        ok(&run(&cpu, "ndarray"));
        let out = run(&gpu, "wgpu");
        if out.status.code() == Some(2)
            && stderr(&out).contains("no usable GPU adapter")
            && !wgpu_required()
        {
            eprintln!("skipping: no wgpu adapter here");
            return;
        }
        ok(&out);
        let (a, b) = (metrics(&cpu), metrics(&gpu));
        assert_eq!(a.len(), 8);
        assert_eq!(a.len(), b.len());
        for ((step, split, la), (_, _, lb)) in a.iter().zip(&b) {
            let rel = (la - lb).abs() / la.abs().max(1e-12);
            assert!(
                rel <= 1e-4,
                "{config} {rule} step {step} {split}: ndarray loss {la} vs wgpu {lb} (relative {rel:.2e})"
            );
        }
    }
}

#[test]
fn wgpu_without_an_adapter_fails_cleanly_before_any_work() {
    let tmp = tempdir().unwrap();
    let out_dir = tmp.path().join("never");
    // No Vulkan driver and no EGL vendor: wgpu finds no adapter, as on a machine without a GPU
    // or Mesa.
    let empty_icd = tmp.path().join("none.json");
    let out = apical_env(
        &[
            "run",
            "configs/quickstart.toml",
            "--backend",
            "wgpu",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[
            ("VK_ICD_FILENAMES", empty_icd.to_str().unwrap()),
            ("VK_DRIVER_FILES", empty_icd.to_str().unwrap()),
            (
                "__EGL_VENDOR_LIBRARY_FILENAMES",
                empty_icd.to_str().unwrap(),
            ),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("mesa-vulkan-drivers") && err.contains("--backend ndarray"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out_dir.exists());
}

#[test]
fn the_bci_closed_loop_runs_the_same_trials_on_ndarray_and_wgpu() {
    // One short day: the cursor's bins are discontinuous in the rates, so agreement means the
    // same trial outcomes, and recordings within float tolerance.
    let tmp = tempdir().unwrap();
    let run = |dir: &std::path::Path, backend: &str| {
        apical(&[
            "run",
            "configs/bci_dendritic.toml",
            "--set",
            "task.days=1",
            "--set",
            "task.trials_per_day=10",
            "--set",
            "task.baseline_trials=20",
            "--set",
            "task.max_steps=10",
            "--backend",
            backend,
            "--out",
            dir.to_str().unwrap(),
        ])
    };
    let (cpu, gpu) = (tmp.path().join("cpu"), tmp.path().join("gpu"));
    ok(&run(&cpu, "ndarray"));
    let out = run(&gpu, "wgpu");
    if out.status.code() == Some(2)
        && stderr(&out).contains("no usable GPU adapter")
        && !wgpu_required()
    {
        eprintln!("skipping: no wgpu adapter here");
        return;
    }
    ok(&out);
    let read = |d: &std::path::Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read(&cpu, "trials.csv"), read(&gpu, "trials.csv"));
    let values = |d: &std::path::Path| -> Vec<f32> {
        let bytes = std::fs::read(d.join("activity/day-01/residual.npy")).unwrap();
        npyz::NpyFile::new(&bytes[..])
            .unwrap()
            .into_vec::<f32>()
            .unwrap()
    };
    let (a, b) = (values(&cpu), values(&gpu));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-4 * x.abs().max(1.0),
            "residual {x} vs {y}"
        );
    }
}

/// `apical compare` trains the same config on both backends, writes compare.json and the table,
/// and finds the losses within 1e-4 of each other.
#[test]
fn compare_trains_on_both_backends_and_reports_the_loss_difference() {
    let tmp = tempdir().unwrap();
    let out_dir = tmp.path().join("cmp");
    let out_str = out_dir.to_str().unwrap();
    let mut args = vec!["compare", "configs/quickstart.toml"];
    args.extend_from_slice(SMALL);
    args.extend_from_slice(&[
        "--set",
        "training.eval_every=5",
        "--backends",
        "ndarray,wgpu",
        "--steps",
        "20",
        "--out",
        out_str,
    ]);
    let out = apical(&args);
    if out.status.code() == Some(2)
        && stderr(&out).contains("no usable GPU adapter")
        && !wgpu_required()
    {
        eprintln!("skipping: no wgpu adapter here");
        assert!(
            !out_dir.exists(),
            "nothing is written when a backend is missing"
        );
        return;
    }
    ok(&out);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("compare.json")).unwrap())
            .unwrap();
    assert_eq!(json["steps"], 20);
    assert_eq!(json["reference"], "ndarray");
    let backends = json["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 2);
    for (run, name) in backends.iter().zip(["ndarray", "wgpu"]) {
        assert_eq!(run["backend"], name);
        assert_eq!(run["steps"], 20);
        assert!(run["steps_per_second"].as_f64().unwrap() > 0.0);
        assert!(out_dir.join(name).join("metrics.csv").is_file());
    }
    let difference = &json["differences"][0];
    assert_eq!(difference["backend"], "wgpu");
    // 4 evaluations × (train, test).
    assert_eq!(difference["values_compared"], 8);
    let max = difference["max_relative_difference"].as_f64().unwrap();
    assert!((0.0..=1e-4).contains(&max), "ndarray vs wgpu: {max:e}");
    let table = stdout(&out);
    assert!(
        table.contains("| wgpu |") && table.contains("| ndarray |"),
        "{table}"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("compare.md")).unwrap(),
        table
            .lines()
            .take_while(|l| !l.starts_with('→'))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    );
}

/// Bad arguments are refused in one line, exit 2, before anything is written.
#[test]
fn compare_refuses_bad_arguments_before_writing() {
    let tmp = tempdir().unwrap();
    let out_dir = tmp.path().join("cmp");
    let out_str = out_dir.to_str().unwrap();
    for (extra, says) in [
        (
            vec!["--backends", "ndarray,cuda"],
            "--backends: expected ndarray or wgpu, got \"cuda\"",
        ),
        (
            vec!["--backends", "ndarray"],
            "--backends: expected at least two",
        ),
        (
            vec!["--backends", "wgpu,wgpu"],
            "--backends: wgpu is named twice",
        ),
        (vec!["--steps", "0"], "--steps: expected at least 1"),
        (vec!["--set", "training.batch_size=0"], "batch_size"),
    ] {
        let mut args = vec!["compare", "configs/quickstart.toml", "--out", out_str];
        args.extend_from_slice(&extra);
        let out = apical(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(says), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{extra:?}: {err}");
        assert!(!out_dir.exists(), "{extra:?} wrote {out_dir:?}");
    }
    // Configs with nothing to compare across backends.
    for (config, says) in [
        (
            "configs/bci_dendritic.toml",
            "closed-loop (BCI) tasks log no loss",
        ),
        (
            "configs/redundancy_sampling.toml",
            "runs on the host whatever the backend",
        ),
    ] {
        let out = apical(&["compare", config, "--out", out_str]);
        assert_eq!(out.status.code(), Some(2), "{config}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{config}: {}", stderr(&out));
        assert!(!out_dir.exists(), "{config} wrote {out_dir:?}");
    }
}
