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
        &["--set", "training.learning_rate=3e-4"],
    ));
    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["chance"], 0.3);
    // The criterion (20-trial success ≥ 0.7) from trials.csv, and the chance a fresh untrained
    // block measured (its own noise: not the calibration's).
    let successes: Vec<bool> = read(&dir.join("trials.csv"))
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap() == "1")
        .collect();
    assert_eq!(summary["trials_run"], successes.len());
    let reached = summary["trials_to_criterion"].as_u64().unwrap() as usize;
    let rate = |end: usize| successes[end - 20..end].iter().filter(|&&s| s).count();
    assert!(rate(reached) >= 14, "criterion at {reached}");
    assert!(
        (20..reached).all(|end| rate(end) < 14),
        "the first: {reached}"
    );
    let chance = summary["chance_measured"].as_f64().unwrap();
    assert!((0.0..0.6).contains(&chance), "measured chance {chance}");
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

/// The positive control the BCI comparison rests on (Werfel, Xie & Seung 2005; Fiete & Seung
/// 2006): in a linear closed loop where exact per-unit credit is available, node perturbation —
/// a broadcast scalar, the error change under the units' own Gaussian noise — falls behind exact
/// credit by a factor that grows with the number M of dimensions the decoder reads, each rule at
/// its own best learning rate. The second moment of the perturbation estimate along the error is
/// (M + 2) times the exact gradient's, so the ratio of trials to criterion is ≈ (M + 2)·c: about
/// 3 already at M = 1 against *exact* credit (parity at M = 1 holds only against a per-unit
/// rule that learns from the same scalar — the BCI's vectorized rule), and 10/3 times that at
/// M = 8. N = 16 units driven by D = 6 white inputs through W; the cursor is A·W·x (A: M × N,
/// fixed); the target A·W*·x; trials to criterion = the first trial at which the expected error
/// ½‖A(W − W*)‖² is below 10% of its start; each rule's median over 5 seeds at the best of a
/// ×√2 grid of 14 rates (checked interior). Pure arithmetic (no apical code).
#[test]
fn node_perturbation_falls_behind_exact_credit_in_proportion_to_the_decoded_dimensions() {
    const N: usize = 16;
    const D: usize = 6;
    const CAP: usize = 6000;
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            // xorshift64*, then a uniform in (0, 1).
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            (-2.0 * self.next().ln()).sqrt() * (2.0 * std::f64::consts::PI * self.next()).cos()
        }
    }
    // Trials to criterion of one rule at one rate (CAP when not reached or diverged).
    let trials = |m: usize, perturb: bool, lr: f64, seed: u64| -> usize {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (seed * 1_000_003 + m as u64));
        let a: Vec<f64> = (0..m * N)
            .map(|_| rng.normal() / (N as f64).sqrt())
            .collect();
        let teacher: Vec<f64> = (0..N * D)
            .map(|_| rng.normal() / (D as f64).sqrt())
            .collect();
        let mut w = vec![0.0f64; N * D];
        let sigma = 0.05;
        let expected = |w: &[f64]| -> f64 {
            // ½‖A(W − W*)‖²_F (inputs white).
            let mut total = 0.0;
            for i in 0..m {
                for d in 0..D {
                    let v: f64 = (0..N)
                        .map(|n| a[i * N + n] * (w[n * D + d] - teacher[n * D + d]))
                        .sum();
                    total += v * v;
                }
            }
            0.5 * total
        };
        let start = expected(&w);
        for t in 1..=CAP {
            let x: Vec<f64> = (0..D).map(|_| rng.normal()).collect();
            let r: Vec<f64> = (0..N)
                .map(|n| {
                    (0..D)
                        .map(|d| (w[n * D + d] - teacher[n * D + d]) * x[d])
                        .sum()
                })
                .collect();
            let e: Vec<f64> = (0..m)
                .map(|i| (0..N).map(|n| a[i * N + n] * r[n]).sum())
                .collect();
            // The per-unit signal g_n: exact credit Aᵀe, or the broadcast estimate (ΔE/σ²)·ξ.
            let g: Vec<f64> = if perturb {
                let xi: Vec<f64> = (0..N).map(|_| sigma * rng.normal()).collect();
                let change: f64 = (0..m)
                    .map(|i| {
                        let a_xi: f64 = (0..N).map(|n| a[i * N + n] * xi[n]).sum();
                        e[i] * a_xi + 0.5 * a_xi * a_xi
                    })
                    .sum();
                xi.iter().map(|v| change / (sigma * sigma) * v).collect()
            } else {
                (0..N)
                    .map(|n| (0..m).map(|i| a[i * N + n] * e[i]).sum())
                    .collect()
            };
            for n in 0..N {
                for d in 0..D {
                    w[n * D + d] -= lr * g[n] * x[d];
                }
            }
            if t % 5 == 0 {
                let now = expected(&w);
                if now < 0.1 * start {
                    return t;
                }
                if !now.is_finite() || now > 1e3 * start {
                    return CAP;
                }
            }
        }
        CAP
    };
    let median = |mut v: Vec<usize>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let best = |m: usize, perturb: bool| -> usize {
        let rates: Vec<f64> = (0..14).map(|k| 0.002 * 2f64.sqrt().powi(k)).collect();
        let scores: Vec<usize> = rates
            .iter()
            .map(|&lr| median((0..5).map(|s| trials(m, perturb, lr, s)).collect()))
            .collect();
        let k = (0..scores.len()).min_by_key(|&k| scores[k]).unwrap();
        assert!(
            k > 0 && k + 1 < scores.len(),
            "M = {m}, perturbation {perturb}: the best rate is at the grid's edge ({scores:?})"
        );
        scores[k]
    };
    let ratio: Vec<f64> = [1usize, 2, 4, 8]
        .iter()
        .map(|&m| best(m, true) as f64 / best(m, false) as f64)
        .collect();
    eprintln!("node perturbation / exact credit, trials to criterion, M = 1, 2, 4, 8: {ratio:?}");
    // Theory: 3, 4, 6, 10 (× a constant near 1).
    assert!((1.8..4.5).contains(&ratio[0]), "M = 1: {ratio:?}");
    let growth = ratio[3] / ratio[0];
    assert!(
        (2.2..5.0).contains(&growth),
        "M = 8 over M = 1: {growth} (theory 10/3) {ratio:?}"
    );
    assert!(ratio.windows(2).all(|w| w[1] > 0.9 * w[0]), "{ratio:?}");
}

#[test]
fn a_two_dimensional_pattern_task_learns_with_own_credit_and_not_with_permuted_credit() {
    // K = 2: two ensemble pairs must reach their targets at once; the dendritic rule's higher
    // area sends the two-dimensional error through learned top-down weights.
    let tmp = tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let dir = tmp.path().join(name);
        let mut args = vec![
            "--set",
            "task.dims=2",
            "--set",
            "training.learning_rate=3e-3",
        ];
        args.extend_from_slice(extra);
        ok(&bci_run(
            &dir,
            "configs/bci_pattern_dendritic.toml",
            2,
            &args,
        ));
        dir
    };
    let own = run("own", &[]);
    let ens_bytes = std::fs::read(own.join("ensembles.npy")).unwrap();
    let ens = npyz::NpyFile::new(&ens_bytes[..])
        .unwrap()
        .into_vec::<i64>()
        .unwrap();
    for label in [1, -1, 2, -2] {
        assert_eq!(ens.iter().filter(|&&e| e == label).count(), 2, "{label}");
    }
    let calibration = json(&own.join("calibration.json"));
    assert_eq!(calibration["decoder_mean"].as_array().unwrap().len(), 2);
    let summary = json(&own.join("summary.json"));
    assert!(
        summary["trials_to_criterion"].as_u64().is_some(),
        "{summary}"
    );
    assert_eq!(summary["trials_run"], 120);
    // The input shows both gratings: 2 × 8 channels.
    assert_eq!(summary["n_params"], 2 * 8 * 40 + 40 + 2 * 40 + 2 * 40);
    // The control: the same credit, learned the same way, reaching random other tufts.
    let permuted = run("permuted", &["--set", "rule.credit=\"permuted\""]);
    let late = |dir: &Path| {
        json(&dir.join("summary.json"))["late_success"]
            .as_f64()
            .unwrap()
    };
    assert!(
        late(&own) > late(&permuted) + 0.3,
        "own {} vs permuted {}",
        late(&own),
        late(&permuted)
    );
    assert!(json(&permuted.join("summary.json"))["trials_to_criterion"].is_null());
    // The analysis reads K-dimensional ensembles (grouped by sign) and reports the day-1
    // slope's prediction of the rate change.
    ok(&apical(&["analyze", own.to_str().unwrap()]));
    let bci = &json(&own.join("analysis/analysis.json"))["bci"];
    assert!(bci["slope_predicts_rate_change"].is_number(), "{bci}");
    assert_eq!(bci["vectorization_by_day"].as_array().unwrap().len(), 2);
    // K beyond the layer's units, and no dimensions, are refused naming the key.
    for (set, key) in [
        ("task.dims=11", "task.p_plus"),
        ("task.dims=0", "task.dims"),
    ] {
        let dir = tmp.path().join("refused");
        let out = bci_run(
            &dir,
            "configs/bci_pattern_dendritic.toml",
            1,
            &["--set", set],
        );
        assert_eq!(out.status.code(), Some(2), "{set}: {}", stderr(&out));
        assert!(stderr(&out).contains(key), "{set}: {}", stderr(&out));
        assert!(!dir.exists());
    }
}

#[test]
fn the_dimensions_experiment_runs_end_to_end_in_its_fast_form() {
    if !python3_present("the experiment's report") {
        return;
    }
    let tmp = tempdir().unwrap();
    let out_dir = tmp.path().join("dims");
    let root = root();
    let out = std::process::Command::new(root.join("experiments/bci/dims.sh"))
        .arg(&out_dir)
        .env("FAST", "1")
        .env("APICAL", env!("CARGO_BIN_EXE_apical"))
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    for needle in [
        "Tuning choices",
        "| 2 | broadcast / vectorized |",
        "| 2 | permuted / vectorized |",
        "| centre-out | broadcast / vectorized |",
        "Floor-free",
        "Spearman",
    ] {
        assert!(report.contains(needle), "{needle:?} missing from\n{report}");
    }
    let choices = std::fs::read_to_string(out_dir.join("choices.csv")).unwrap();
    // Two rules × (K = 1, 2 and centre-out).
    assert_eq!(choices.lines().count(), 1 + 2 * 3, "{choices}");
}

#[test]
fn probe_trials_run_without_plasticity_and_carry_the_criterion() {
    // Every 3rd trial a probe: no update, not recorded in the day arrays; the criterion is
    // taken over the probes and reported in trials (a multiple of 3).
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("probes");
    ok(&bci_run(
        &dir,
        "configs/bci_pattern_dendritic.toml",
        2,
        &[
            "--set",
            "task.probe_every=3",
            "--set",
            "task.criterion_window=5",
            "--set",
            "training.learning_rate=3e-3",
        ],
    ));
    let trials: Vec<Vec<String>> = read(&dir.join("trials.csv"))
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(trials.len(), 120);
    for (i, row) in trials.iter().enumerate() {
        assert_eq!(row[5] == "1", (i + 1) % 3 == 0, "trial {i}: {row:?}");
    }
    let summary = json(&dir.join("summary.json"));
    let by_day = summary["probe_success_by_day"].as_array().unwrap();
    assert_eq!(by_day.len(), 2);
    let probes: Vec<bool> = trials
        .iter()
        .filter(|r| r[5] == "1")
        .map(|r| r[2] == "1")
        .collect();
    let day1 = probes[..20].iter().filter(|&&s| s).count() as f64 / 20.0;
    assert!((by_day[0].as_f64().unwrap() - day1).abs() < 1e-12);
    let reached = summary["trials_to_criterion"].as_u64().unwrap() as usize;
    assert_eq!(reached % 3, 0, "{reached}");
    let k = reached / 3; // the k-th probe completed the criterion
    assert!(probes[k - 5..k].iter().filter(|&&s| s).count() >= 4);
    // The fitted curve is fitted to the probes: started at the measured chance, its crossing
    // (when there is one) no earlier than the first probe and within the run.
    let tau = summary["fitted_tau"].as_f64().unwrap();
    let asymptote = summary["fitted_asymptote"].as_f64().unwrap();
    assert!(tau > 0.0 && (0.0..=1.0).contains(&asymptote), "{summary}");
    let chance = summary["chance_measured"].as_f64().unwrap();
    let crossing = (asymptote > 0.7).then(|| tau * ((asymptote - chance) / (asymptote - 0.7)).ln());
    match summary["trials_to_criterion_fit"].as_f64() {
        Some(t) => assert!(
            (3.0..=120.0).contains(&t) && (t - crossing.unwrap().max(3.0)).abs() < 1e-9,
            "{summary}"
        ),
        None => assert!(crossing.is_none_or(|c| c > 120.0), "{summary}"),
    }
    // Without day recordings: the outcomes and the summary only, and analyze says why not.
    let bare = tmp.path().join("bare");
    ok(&bci_run(
        &bare,
        "configs/bci_pattern_dendritic.toml",
        1,
        &["--set", "logging.record_days=false"],
    ));
    assert!(bare.join("trials.csv").exists() && bare.join("summary.json").exists());
    assert!(!bare.join("activity/day-01").exists());
    let refused = apical(&["analyze", bare.to_str().unwrap()]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("logging.record_days"), "{stderr}");
    // Probes are not in the recordings: the mask's rows of probe trials are empty.
    let mask_bytes = std::fs::read(dir.join("activity/day-01/mask.npy")).unwrap();
    let mask = npyz::NpyFile::new(&mask_bytes[..])
        .unwrap()
        .into_vec::<i64>()
        .unwrap();
    let steps = mask.len() / 60;
    for t in 0..60 {
        let ran = mask[t * steps..(t + 1) * steps].contains(&1);
        assert_eq!(ran, (t + 1) % 3 != 0, "trial {t}");
    }
    // The analysis counts the learning trials only.
    ok(&apical(&["analyze", dir.to_str().unwrap()]));
    let bci = &json(&dir.join("analysis/analysis.json"))["bci"];
    assert_eq!(bci["success_by_day"].as_array().unwrap().len(), 2);
}
