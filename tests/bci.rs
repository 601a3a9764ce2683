//! End-to-end tests of the BCI credit task: the closed loop, its recordings, resume, the
//! analysis, the conditions, and refused configs.

mod common;

use common::*;
use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap()
}

/// A short BCI run: `days` days of 60 trials, a 30-trial baseline.
fn bci_run(dir: &Path, config: &str, days: usize, extra: &[&str]) -> std::process::Output {
    let days = format!("task.days={days}");
    let mut args = vec![
        "run",
        config,
        "--set",
        &days,
        "--set",
        "task.trials_per_day=60",
        "--set",
        "task.baseline_trials=30",
        "--set",
        "training.seed=100",
    ];
    args.extend_from_slice(extra);
    let dir = dir.to_str().unwrap().to_string();
    args.extend_from_slice(&["--out", &dir]);
    apical(&args)
}

fn f32s(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f32>().unwrap())
}

#[test]
fn the_dendritic_rule_learns_the_task_and_writes_what_the_analysis_reads() {
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("run");
    ok(&bci_run(
        &dir,
        "configs/bci_dendritic.toml",
        3,
        &["--set", "training.learning_rate=1e-3"],
    ));
    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["chance"], 0.3);
    assert!(summary["threshold"].as_f64().unwrap() > 0.0);
    // θ is set in closed loop so that spontaneous activity hits at `chance` (30 baseline
    // trials: a resolution of 1/30).
    let calibration = json(&dir.join("calibration.json"));
    let rate = calibration["baseline_hit_rate"].as_f64().unwrap();
    assert!(
        (rate - 0.3).abs() <= 0.034,
        "closed-loop baseline hit rate {rate}"
    );
    assert_eq!(calibration["threshold"], summary["threshold"]);
    let by_day: Vec<f64> = summary["success_by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(by_day.len(), 3);
    assert_eq!(summary["rewards_per_day"].as_array().unwrap().len(), 3);
    let late = summary["late_success"].as_f64().unwrap();
    assert!(
        late >= 0.6 && late > by_day[0] + 0.2,
        "the dendritic rule should learn: {by_day:?}"
    );
    // Recordings: [trials, steps, units], NaN exactly where the mask says the step did not run.
    let day = dir.join("activity/day-01");
    let (shape, residual) = f32s(&day.join("residual.npy"));
    assert_eq!(shape, vec![60, 30, 32]);
    let mask_bytes = std::fs::read(day.join("mask.npy")).unwrap();
    let mask = npyz::NpyFile::new(&mask_bytes[..])
        .unwrap()
        .into_vec::<i64>()
        .unwrap();
    for (at, &m) in mask.iter().enumerate() {
        let cell = &residual[at * 32..(at + 1) * 32];
        assert_eq!(m == 1, cell.iter().all(|v| v.is_finite()), "step {at}");
    }
    let ens_bytes = std::fs::read(dir.join("ensembles.npy")).unwrap();
    let ens = npyz::NpyFile::new(&ens_bytes[..])
        .unwrap()
        .into_vec::<i64>()
        .unwrap();
    assert_eq!(ens.iter().filter(|&&e| e == 1).count(), 4);
    assert_eq!(ens.iter().filter(|&&e| e == -1).count(), 4);
    assert!(dir.join("plots/success_by_day.png").is_file());

    // The analysis: the signed residuals of a learning network.
    ok(&apical(&["analyze", dir.to_str().unwrap()]));
    let analysis = json(&dir.join("analysis/analysis.json"));
    let bci = &analysis["bci"];
    assert_eq!(bci["success_by_day"].as_array().unwrap().len(), 3);
    for key in ["rate_change", "vectorization"] {
        for group in ["p_plus", "p_minus", "p0"] {
            for field in ["mean", "ci_low", "ci_high"] {
                assert!(bci[key][group][field].is_number(), "{key}.{group}.{field}");
            }
        }
    }
    assert!(bci["vectorization"]["p_plus"]["ci_low"].as_f64().unwrap() > 0.0);
    assert!(bci["vectorization"]["p_minus"]["ci_high"].as_f64().unwrap() < 0.0);
    for key in ["decode_reward", "decode_outcome_before"] {
        for field in ["accuracy", "ci_low", "ci_high", "shuffled"] {
            assert!(bci[key][field].is_number(), "{key}.{field}: {}", bci[key]);
        }
    }
    assert!(bci["decode_reward"]["accuracy"].as_f64().unwrap() > 0.6);
    assert!(dir.join("analysis/vectorization.svg").is_file());
}

#[test]
fn apical_inhibition_and_anaesthesia_take_away_the_teaching_signal() {
    // Compared with the same network that never learns (learning rate 0, the same calibration
    // and noise): inhibited or anaesthetised, the dendritic rule does not improve on it.
    let tmp = tempdir().unwrap();
    let late = |name: &str, sets: &[&str]| {
        let dir = tmp.path().join(name);
        let mut extra = vec!["--set", "task.baseline_trials=200"];
        for s in sets {
            extra.extend_from_slice(&["--set", s]);
        }
        ok(&bci_run(&dir, "configs/bci_dendritic.toml", 3, &extra));
        json(&dir.join("summary.json"))["late_success"]
            .as_f64()
            .unwrap()
    };
    let untrained = late("untrained", &["training.learning_rate=0"]);
    let learner = late("learner", &["training.learning_rate=1e-3"]);
    assert!(
        learner > untrained + 0.3,
        "{learner} vs untrained {untrained}"
    );
    for (name, set) in [
        ("inhibition", "model.apical_inhibition=1"),
        ("anaesthesia", "model.engagement=0"),
    ] {
        let l = late(name, &["training.learning_rate=1e-3", set]);
        assert!(
            (l - untrained).abs() <= 0.1,
            "{name}: late success {l}, untrained {untrained}"
        );
    }
}

#[test]
fn a_resumed_bci_run_repeats_the_uninterrupted_one() {
    // Every rule state crosses the checkpoint: credit statistics (dendritic), eligibility
    // traces and reward baseline (broadcast with the reward signal).
    let tmp = tempdir().unwrap();
    for (name, config, extra) in [
        (
            "dendritic",
            "configs/bci_dendritic.toml",
            "rule.credit_rate=0.02",
        ),
        (
            "reward",
            "configs/bci_reward-broadcast.toml",
            "rule.signal=\"reward\"",
        ),
    ] {
        let whole = tmp.path().join(format!("{name}-whole"));
        let parts = tmp.path().join(format!("{name}-parts"));
        let lr = ["--set", extra, "--set", "training.learning_rate=0.01"];
        ok(&bci_run(&whole, config, 3, &lr));
        let mut halt = lr.to_vec();
        halt.extend_from_slice(&["--halt-after", "1"]);
        let halted = bci_run(&parts, config, 3, &halt);
        assert!(!halted.status.success());
        assert!(!parts.join("summary.json").exists());
        ok(&apical(&["resume", parts.to_str().unwrap()]));
        for file in ["metrics.csv", "trials.csv"] {
            assert_eq!(
                read(&whole.join(file)),
                read(&parts.join(file)),
                "{name}: {file}"
            );
        }
        for day in ["day-02", "day-03"] {
            for file in ["residual.npy", "decoder.npy"] {
                let a = std::fs::read(whole.join("activity").join(day).join(file)).unwrap();
                let b = std::fs::read(parts.join("activity").join(day).join(file)).unwrap();
                assert!(a == b, "{name}: {day}/{file} differs after resume");
            }
        }
    }
}

#[test]
fn a_bci_resume_falls_back_past_a_damaged_day_and_refuses_another_format() {
    // The closed loop shares the supervised loop's checkpoint handling (one Session): a
    // damaged newest checkpoint is named, set aside, and the run continues from the day
    // before, repeating the uninterrupted run; a checkpoint of another format is refused.
    let tmp = tempdir().unwrap();
    let config = "configs/bci_dendritic.toml";
    let lr = ["--set", "training.learning_rate=0.01"];
    let whole = tmp.path().join("whole");
    ok(&bci_run(&whole, config, 3, &lr));
    let parts = tmp.path().join("parts");
    let mut halt = lr.to_vec();
    halt.extend_from_slice(&["--halt-after", "2"]);
    assert!(!bci_run(&parts, config, 3, &halt).status.success());
    let newest = parts.join("checkpoints/step-00000002");
    std::fs::write(newest.join("rule.bin"), b"junk").unwrap();
    let out = apical(&["resume", parts.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("step-00000002") && err.contains("rule.bin"),
        "{err}"
    );
    assert!(err.contains("older checkpoint"), "{err}");
    assert!(parts.join("checkpoints/damaged-step-00000002").is_dir());
    for file in ["metrics.csv", "trials.csv"] {
        assert_eq!(read(&whole.join(file)), read(&parts.join(file)), "{file}");
    }

    let newer = tmp.path().join("newer");
    let mut halt = lr.to_vec();
    halt.extend_from_slice(&["--halt-after", "1"]);
    assert!(!bci_run(&newer, config, 3, &halt).status.success());
    let state = newer.join("checkpoints/step-00000001/state.json");
    let text = read(&state).replace("\"format_version\": 1", "\"format_version\": 2");
    std::fs::write(&state, text).unwrap();
    let out = apical(&["resume", newer.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let error: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error.len(), 1, "{err}");
    assert!(error[0].contains("checkpoint format 2"), "{err}");
    assert!(
        newer.join("checkpoints/step-00000001").is_dir(),
        "not set aside"
    );
}

#[test]
fn mismatched_bci_configs_are_refused_naming_the_key() {
    let tmp = tempdir().unwrap();
    for (set, key) in [
        ("rule.kind=\"backprop\"", "rule.kind"),
        ("task.p_plus=30", "task.p_plus"),
        ("task.chance=1.5", "task.chance"),
        ("model.engagement=-1", "model.engagement"),
    ] {
        let dir = tmp.path().join("refused");
        let out = bci_run(
            &dir,
            "configs/bci_reward-broadcast.toml",
            1,
            &["--set", set],
        );
        assert_eq!(out.status.code(), Some(2), "{set}: {}", stderr(&out));
        assert!(stderr(&out).contains(key), "{set}: {}", stderr(&out));
        assert!(!dir.exists(), "{set}: nothing may be written");
    }
}

#[test]
fn the_bci_task_and_model_go_together() {
    let tmp = tempdir().unwrap();
    for (task, model) in [("bci", "gfn"), ("digits", "bci")] {
        let config = tmp.path().join(format!("{task}-{model}.toml"));
        std::fs::write(
            &config,
            format!("[task]\nkind = \"{task}\"\n[model]\nkind = \"{model}\"\n[rule]\nkind = \"reward-broadcast\"\n"),
        )
        .unwrap();
        let dir = tmp.path().join("refused");
        let out = apical(&[
            "run",
            config.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("model.kind"), "{}", stderr(&out));
        assert!(!dir.exists());
    }
}

#[test]
fn a_signal_stops_the_run_during_the_baseline_calibration() {
    use std::time::{Duration, Instant};
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("long");
    // A calibration of minutes: 400 baseline trials of 5,000 steps.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_apical"))
        .args([
            "run",
            "configs/bci_dendritic.toml",
            "--set",
            "task.max_steps=5000",
            "--out",
            dir.to_str().unwrap(),
        ])
        .current_dir(root())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("config.toml").exists() {
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !dir.join("calibration.json").exists(),
        "calibration ended too soon to test"
    );
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let signalled = Instant::now();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "took {:?} to stop",
        signalled.elapsed()
    );
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("stopped by signal 15"), "{err}");
    assert!(!dir.join("summary.json").exists());
}
