//! Recordings along learning (`logging.record_at`), re-recording at the same weights
//! (`apical record`), redundancy per step / context / time bin (`apical analyze <run>`), the
//! streamed orientation task and its ideal observer (issue 10).

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// A small two-context orientation task on a gfn with private unit noise, streamed trials,
/// its 3 frames presented over the 3 steps of inference, recorded at steps 0, 20 and 40; checkpoints every 1000 steps with one kept (so only the
/// pinned recording steps and the last survive).
const CONFIG: &str = r#"
name = "redundancy_small"
[task]
kind = "orientation"
image_size = 8
frames = 3
contexts = ["cardinal", "oblique"]
signal_levels = [-12, -6, 0, 6, 12]
wavelength = 4.0
envelope_sigma = 2.5
n_train = 200
n_test = 100
trials = "stream"
[model]
kind = "gfn"
hidden = [12]
steps = 2
frames = 3
noise_std = 0.3
activation = "sigmoid"
[rule]
kind = "dendritic"
[training]
steps = 60
batch_size = 32
learning_rate = 3e-3
eval_every = 20
checkpoint_every = 1000
keep_checkpoints = 1
[logging]
probe_examples = 240
record_at = [0, 20, 40]
tensorboard = false
plots = false
"#;

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("redundancy_small.toml");
    std::fs::write(&path, CONFIG).unwrap();
    path
}

fn train(config: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "run",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&apical(&args));
}

/// Every file under `dir` (relative path → bytes), for comparing recordings.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `apical <args> --out <dir>/refused`: exit 2, a one-line error containing every `want`, and
/// nothing written.
fn refused(dir: &Path, args: &[&str], want: &[&str]) {
    let out_dir = dir.join("refused");
    let out_str = out_dir.to_str().unwrap().to_string();
    let mut full = args.to_vec();
    full.extend(["--out", out_str.as_str()]);
    let out = apical(&full);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    for w in want {
        assert!(err.contains(w), "{args:?}: {err}");
    }
    assert!(!out_dir.exists(), "{args:?} wrote {}", out_dir.display());
}

/// Trains `config` into `dir` with checkpoints every 10 steps, halts it after step 30 and
/// resumes it to the end.
fn halt_and_resume(config: &Path, dir: &Path, extra: &[&str]) {
    let mut args = vec![
        "run",
        config.to_str().unwrap(),
        "--set",
        "training.checkpoint_every=10",
        "--out",
        dir.to_str().unwrap(),
        "--halt-after",
        "30",
    ];
    args.extend_from_slice(extra);
    assert!(!apical(&args).status.success(), "halted after step 30");
    ok(&apical(&["resume", dir.to_str().unwrap()]));
}

fn npy_f32(path: &Path) -> Vec<f32> {
    // apical writes format 1.0 with a header padded to 64 bytes: the body follows it.
    let bytes = std::fs::read(path).unwrap();
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header..]
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn recordings_along_learning_rerecord_exactly_and_passive_differs() {
    let tmp = tempdir().unwrap();
    let cfg = config(tmp.path());
    let run = tmp.path().join("run");
    train(&cfg, &run, &["--set", "model.context_feedback=true"]);
    let activity = run.join("activity");
    for step in [0, 20, 40] {
        let d = activity.join(format!("step-{step:08}"));
        for f in [
            "hidden_0.npy",
            "layer0_rate.npy",
            "signal.npy",
            "context.npy",
            "labels.npy",
        ] {
            assert!(d.join(f).is_file(), "{}", d.join(f).display());
        }
        assert!(
            !d.join("layer0_apical.npy").exists(),
            "recordings along learning keep the rates only"
        );
    }
    assert!(activity.join("layer0_apical.npy").is_file());
    // Checkpoints at the recorded steps outlive keep_checkpoints = 1.
    let mut checkpoints: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    checkpoints.sort();
    assert_eq!(
        checkpoints,
        ["step-00000020", "step-00000040", "step-00000060"]
    );
    // The ideal observer, in closed form, per level.
    let summary = json(&run.join("summary.json"));
    let ideal = summary["ideal_accuracy_by_signal"].as_array().unwrap();
    assert_eq!(ideal.len(), 5);
    assert_eq!(ideal[2]["accuracy"], 0.5, "zero signal");
    assert!(ideal[4]["accuracy"].as_f64().unwrap() > ideal[3]["accuracy"].as_f64().unwrap());
    let mean = summary["ideal_accuracy"].as_f64().unwrap();
    assert!(mean > 0.5 && mean < 1.0, "{mean}");

    // The unit noise is on in recordings: a zero-signal trial's rates differ from the same
    // network's without noise, and the recording repeats itself exactly from the seed.
    let quiet = tmp.path().join("quiet");
    ok(&apical(&[
        "record",
        run.to_str().unwrap(),
        "--checkpoint",
        "step-40",
        "--set",
        "model.noise_std=0",
        "--out",
        quiet.to_str().unwrap(),
    ]));
    let noisy = npy_f32(&activity.join("step-00000040/hidden_0.npy"));
    let clean = npy_f32(&quiet.join("activity/step-00000040/hidden_0.npy"));
    let diff = noisy
        .iter()
        .zip(&clean)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        diff > 0.01,
        "private noise changes the recorded rates ({diff})"
    );

    // Re-recording without changes gives the run's own recordings byte for byte.
    let again = tmp.path().join("again");
    ok(&apical(&[
        "record",
        run.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]));
    // (It also records the last checkpoint, step 60, which the run recorded only as activity/.)
    let ours = files(&activity);
    let theirs: Vec<_> = files(&again.join("activity"))
        .into_iter()
        .filter(|(name, _)| !name.starts_with("step-00000060"))
        .collect();
    assert_eq!(
        ours.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        theirs.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in ours.iter().zip(&theirs) {
        assert!(a == b, "{name} differs when re-recorded");
    }
    let info = json(&again.join("record.json"));
    assert_eq!(info["steps"], serde_json::json!([0, 20, 40, 60]));
    // A re-recording is not a run: `resume` refuses it (exit 2, naming record.json) and leaves
    // every file as it was (it used to train a fresh network over the recordings).
    let before = files(&again);
    let resumed = apical(&["resume", again.to_str().unwrap()]);
    assert_eq!(resumed.status.code(), Some(2), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("apical record") && stderr(&resumed).contains("record.json"),
        "{}",
        stderr(&resumed)
    );
    assert!(files(&again) == before, "resume changed the re-recording");
    // A recording stopped before record.json was written is still recognised (its config.toml
    // says so on its first line).
    std::fs::remove_file(again.join("record.json")).unwrap();
    let resumed = apical(&["resume", again.to_str().unwrap()]);
    assert_eq!(resumed.status.code(), Some(2), "{}", stderr(&resumed));

    // Passive viewing at the same weights: different recordings, same format.
    let passive = tmp.path().join("passive");
    ok(&apical(&[
        "record",
        run.to_str().unwrap(),
        "--set",
        "model.engagement=0",
        "--set",
        "task.context_cue=false",
        "--out",
        passive.to_str().unwrap(),
    ]));
    assert_eq!(json(&passive.join("record.json"))["cue_removed"], true);
    // Its config says first that it is a re-recording, then that the cue was zeroed.
    let config = std::fs::read_to_string(passive.join("config.toml")).unwrap();
    let mut lines = config.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("# written by `apical record`"));
    assert!(lines
        .next()
        .unwrap()
        .starts_with("# apical record: task.context_cue = false"));
    // An overridden training.seed changes the recording noise, not the network: without noise
    // the step-0 recordings agree.
    let record0 = |name: &str, seed: &str| {
        let out = tmp.path().join(name);
        ok(&apical(&[
            "record",
            run.to_str().unwrap(),
            "--checkpoint",
            "0",
            "--set",
            "model.noise_std=0",
            "--set",
            &format!("training.seed={seed}"),
            "--out",
            out.to_str().unwrap(),
        ]));
        std::fs::read(out.join("activity/step-00000000/hidden_0.npy")).unwrap()
    };
    assert_eq!(record0("seed0", "0"), record0("seed5", "5"));
    assert_ne!(
        std::fs::read(activity.join("step-00000040/hidden_0.npy")).unwrap(),
        std::fs::read(passive.join("activity/step-00000040/hidden_0.npy")).unwrap()
    );

    // apical analyze: one entry per recording × layer × context, the same subset size
    // throughout, and the last recording per time bin (steps + 1 = 3 bins).
    for dir in [&run, &passive] {
        ok(&apical(&["analyze", dir.to_str().unwrap()]));
        let v = json(&dir.join("analysis/analysis.json"));
        let by_step = v["redundancy_by_step"].as_array().unwrap();
        let keys: Vec<(u64, u64, i64)> = by_step
            .iter()
            .map(|e| {
                (
                    e["step"].as_u64().unwrap(),
                    e["layer"].as_u64().unwrap(),
                    e["context"].as_i64().unwrap(),
                )
            })
            .collect();
        let want_steps: &[u64] = if dir == &run {
            &[0, 20, 40]
        } else {
            &[0, 20, 40, 60]
        };
        let want: Vec<(u64, u64, i64)> = want_steps
            .iter()
            .flat_map(|&s| [(s, 0, 0), (s, 0, 1)])
            .collect();
        assert_eq!(keys, want);
        // 60 zero-signal trials per context → (60 − 4)/2 = 28 ≥ the 12 units.
        for e in by_step {
            assert_eq!(e["units"], 12);
            assert_eq!(e["subsets"], 200);
            assert!(e["fisher"].as_f64().is_some() && e["fisher_shuffled"].as_f64().is_some());
            // The pooled ratio, or null with the reason; the per-subset spread as a diagnostic;
            // the Kanitscheider estimate on the same subsets.
            // The reported ratio is the pooled one of the reported mean informations (not,
            // e.g., the per-subset median), and only where I clears 10 SDs.
            let sd = e["fisher_sd"].as_f64().unwrap();
            let (i, i_sh) = (
                e["fisher"].as_f64().unwrap(),
                e["fisher_shuffled"].as_f64().unwrap(),
            );
            match e["redundancy_percent"].as_f64() {
                Some(r) => {
                    assert!(i >= 10.0 * sd, "{e}");
                    assert!((r - 100.0 * (1.0 - i / i_sh)).abs() < 1e-9, "{e}");
                }
                None => assert!(
                    e["redundancy_note"].is_string() && (i < 10.0 * sd || i_sh <= 0.0),
                    "{e}"
                ),
            }
            for k in ["subset_median_percent", "subset_p16", "subset_p84"] {
                assert!(e.get(k).is_some(), "{k} in {e}");
            }
            assert!(e["kanitscheider"]["fisher"].as_f64().is_some(), "{e}");
        }
        // I(N) and redundancy(N) for the last recording: 2, 4, 8, 12 units per layer × context.
        let sizes: Vec<u64> = v["redundancy_by_size"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["units"].as_u64().unwrap())
            .collect();
        assert_eq!(sizes, [2, 4, 8, 12, 2, 4, 8, 12]);
        let bins = v["within_trial"].as_array().unwrap();
        assert_eq!(bins.len(), 3 * 2, "3 bins × 2 contexts");
        let last = *want_steps.last().unwrap();
        assert!(bins.iter().all(|b| b["step"] == last));
        // Top and bottom quartiles by task relevance (12 units → 3 each), per context.
        let quartiles = v["redundancy_by_relevance"].as_array().unwrap();
        let names: Vec<(&str, i64)> = quartiles
            .iter()
            .map(|q| {
                (
                    q["quartile"].as_str().unwrap(),
                    q["context"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [("top", 0), ("bottom", 0), ("top", 1), ("bottom", 1)]
        );
        assert!(quartiles
            .iter()
            .all(|q| q["quartile_units"] == 3 && q["step"] == last));
        // Cross-context information: f′ of each context through Σ of the other.
        let cross = v["cross_context"].as_array().unwrap();
        let pairs: Vec<(i64, i64)> = cross
            .iter()
            .map(|c| {
                (
                    c["signal_from_context"].as_i64().unwrap(),
                    c["covariance_from_context"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(pairs, [(0, 1), (1, 0)]);
        assert!(cross
            .iter()
            .all(|c| c["fisher"].as_f64().is_some() && c["units"] == 12));
    }

    // The engagement contrasts against the passive re-recording: the four pooled ratios are
    // those of the two analyses, the interaction their difference of differences, with a
    // bootstrap over trials.
    ok(&apical(&[
        "analyze",
        run.to_str().unwrap(),
        "--passive",
        passive.to_str().unwrap(),
        "--bootstrap",
        "40",
    ]));
    let active = json(&run.join("analysis/analysis.json"));
    let passive_v = json(&passive.join("analysis/analysis.json"));
    let contrasts = active["engagement_contrasts"].as_array().unwrap();
    assert_eq!(contrasts.len(), 1, "{contrasts:?}");
    let c = &contrasts[0];
    assert_eq!(
        (c["before_step"].as_u64(), c["after_step"].as_u64()),
        (Some(0), Some(40))
    );
    assert_eq!(c["bootstrap"], 40);
    let pooled = |v: &serde_json::Value, step: u64| -> Option<f64> {
        let e: Vec<&serde_json::Value> = v["redundancy_by_step"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["step"] == step && e["layer"] == 0)
            .collect();
        if e.iter().any(|e| e["redundancy_percent"].is_null()) {
            return None;
        }
        let i: f64 = e.iter().map(|e| e["fisher"].as_f64().unwrap()).sum();
        let sh: f64 = e
            .iter()
            .map(|e| e["fisher_shuffled"].as_f64().unwrap())
            .sum();
        Some(100.0 * (1.0 - i / sh))
    };
    let four = [
        ("active_before", pooled(&active, 0)),
        ("passive_before", pooled(&passive_v, 0)),
        ("active_after", pooled(&active, 40)),
        ("passive_after", pooled(&passive_v, 40)),
    ];
    for (key, want) in four {
        match want {
            Some(w) => assert!((c[key].as_f64().unwrap() - w).abs() < 1e-9, "{key}: {c}"),
            None => assert!(c[key].is_null(), "{key}: {c}"),
        }
    }
    match four.iter().map(|(_, v)| *v).collect::<Option<Vec<f64>>>() {
        Some(v) => {
            let want = (v[2] - v[3]) - (v[0] - v[1]);
            assert!(
                (c["learning_x_engagement"].as_f64().unwrap() - want).abs() < 1e-9,
                "{c}"
            );
        }
        None => assert!(c["learning_x_engagement"].is_null(), "{c}"),
    }
    assert!(c["bootstrap_defined"].as_u64().unwrap() <= 40);
    if c["bootstrap_defined"].as_u64().unwrap() >= 20 {
        let [lo, hi] = [0, 1].map(|i| c["learning_x_engagement_interval"][i].as_f64().unwrap());
        assert!(
            lo <= hi && c["learning_x_engagement_sd"].as_f64().unwrap() > 0.0,
            "{c}"
        );
    }
    // The passive recording ends at step 60, the run's pinned recordings at 40: said, not
    // compared across steps.
    assert!(c["within_trial_did"].is_null() && c["relevance_x_engagement"].is_null());
    assert!(c["note"].as_str().unwrap().contains("step 60"), "{c}");
    // A directory that is no recording is refused, naming the flag.
    let refused_passive = apical(&[
        "analyze",
        run.to_str().unwrap(),
        "--passive",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(!refused_passive.status.success());
    assert!(stderr(&refused_passive).contains("--passive"));
}

#[test]
fn frames_over_time_train_with_every_gfn_rule_and_are_checked() {
    let tmp = tempdir().unwrap();
    let cfg = config(tmp.path());
    for (rule, context_feedback) in [
        ("dendritic", false),
        ("dendritic", true),
        ("predictive-coding", true),
        ("backprop", true),
    ] {
        let out = tmp.path().join(format!("{rule}-{context_feedback}"));
        train(
            &cfg,
            &out,
            &[
                "--set",
                &format!("rule.kind={rule}"),
                "--set",
                &format!("model.context_feedback={context_feedback}"),
                "--set",
                "training.steps=20",
                "--set",
                "logging.record_at=[0,20]",
            ],
        );
        let summary = json(&out.join("summary.json"));
        assert_eq!(summary["status"], "completed", "{rule}");
    }
    for (set, want) in [
        ("model.frames=2", "must equal task.frames"),
        ("model.steps=1", "steps ≥ frames − 1"),
        ("task.context_cue=false", "context_cue"),
        ("model.top_down=tied", "generative"),
    ] {
        refused(
            tmp.path(),
            &[
                "run",
                cfg.to_str().unwrap(),
                "--set",
                set,
                "--set",
                "model.context_feedback=true",
            ],
            &["model.", want],
        );
    }
}

#[test]
fn a_resumed_run_records_what_the_uninterrupted_run_records() {
    let tmp = tempdir().unwrap();
    let cfg = config(tmp.path());
    let whole = tmp.path().join("whole");
    train(&cfg, &whole, &[]);
    let halted = tmp.path().join("halted");
    halt_and_resume(&cfg, &halted, &[]);
    let recorded = |d: &Path| -> Vec<(String, Vec<u8>)> {
        files(&d.join("activity"))
            .into_iter()
            .filter(|(n, _)| n.ends_with(".npy"))
            .collect()
    };
    let (a, b) = (recorded(&whole), recorded(&halted));
    assert_eq!(
        a.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        b.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs after resuming");
    }
}

#[test]
fn bad_recording_requests_are_refused_before_anything_is_written() {
    let tmp = tempdir().unwrap();
    let cfg = config(tmp.path());
    for (set, key) in [
        ("logging.record_at=[20,10]", "logging.record_at"),
        ("logging.record_at=[0,100]", "logging.record_at"),
        ("logging.probe_examples=0", "logging.record_at"),
        ("task.train_per_class=5", "task.trials"),
    ] {
        refused(
            tmp.path(),
            &["run", cfg.to_str().unwrap(), "--set", set],
            &[key],
        );
    }
    // The length from epochs: 1 epoch of 200 trials at batch 32 = 7 steps.
    let epochs = tmp.path().join("epochs.toml");
    std::fs::write(&epochs, CONFIG.replace("steps = 60\n", "epochs = 1\n")).unwrap();
    refused(
        tmp.path(),
        &["run", epochs.to_str().unwrap()],
        &["logging.record_at", "runs 7 steps"],
    );
    let run = tmp.path().join("run");
    train(
        &cfg,
        &run,
        &[
            "--set",
            "training.steps=20",
            "--set",
            "logging.record_at=[0]",
        ],
    );
    let out_dir = tmp.path().join("rec");
    for args in [
        vec!["--set", "model.hidden=[3]"],
        vec!["--checkpoint", "step-7"],
        vec!["--checkpoint", "seven"],
        vec!["--set", "logging.probe_examples=0"],
    ] {
        let mut full = vec!["record", run.to_str().unwrap()];
        full.extend_from_slice(&args);
        refused(tmp.path(), &full, &[]);
    }
    // An existing, non-empty --out is refused too.
    ok(&apical(&[
        "record",
        run.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    let out = apical(&[
        "record",
        run.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// A curriculum: cardinal, then oblique, then both; each phase's end is recorded and its
/// checkpoint kept, and a run halted inside a phase resumes to the same recordings.
#[test]
fn a_curriculum_records_each_phase_and_resumes_exactly() {
    let tmp = tempdir().unwrap();
    let base = CONFIG.replace("steps = 60\n", "").replace(
        "keep_checkpoints = 1\n",
        "keep_checkpoints = 1\n\n[[training.phases]]\nsteps = 20\ntask = { contexts = [\"cardinal\"] }\n\n[[training.phases]]\nsteps = 20\ntask = { contexts = [\"oblique\"], noise_std = 0.5 }\n\n[[training.phases]]\nsteps = 20\n",
    );
    let cfg = tmp.path().join("curriculum.toml");
    std::fs::write(&cfg, &base).unwrap();
    let whole = tmp.path().join("whole");
    train(&cfg, &whole, &["--set", "logging.record_at=[0]"]);
    let summary = json(&whole.join("summary.json"));
    assert_eq!(summary["steps"], 60);
    for step in [0, 20, 40, 60] {
        assert!(
            whole
                .join(format!("activity/step-{step:08}/hidden_0.npy"))
                .is_file(),
            "step {step}"
        );
    }
    let resolved = std::fs::read_to_string(whole.join("config.toml")).unwrap();
    assert!(resolved.contains("[[training.phases]]"), "{resolved}");
    // The phases change what is trained on: the same run without them differs.
    let flat = tmp.path().join("flat");
    train(
        &config(tmp.path()),
        &flat,
        &["--set", "logging.record_at=[0,20,40]"],
    );
    assert_ne!(
        std::fs::read(whole.join("activity/step-00000020/hidden_0.npy")).unwrap(),
        std::fs::read(flat.join("activity/step-00000020/hidden_0.npy")).unwrap()
    );
    assert_eq!(
        std::fs::read(whole.join("activity/step-00000000/hidden_0.npy")).unwrap(),
        std::fs::read(flat.join("activity/step-00000000/hidden_0.npy")).unwrap(),
        "before any update the two are the same network"
    );
    let halted = tmp.path().join("halted");
    halt_and_resume(&cfg, &halted, &["--set", "logging.record_at=[0]"]);
    for name in [
        "step-00000040/hidden_0.npy",
        "step-00000060/hidden_0.npy",
        "hidden_0.npy",
    ] {
        assert!(
            std::fs::read(whole.join("activity").join(name)).unwrap()
                == std::fs::read(halted.join("activity").join(name)).unwrap(),
            "{name} differs after resuming"
        );
    }
    // Refused, naming the phase's key, before anything is written.
    for (from, to, key) in [
        (
            "task = { contexts = [\"cardinal\"] }",
            "task = { image_size = 4 }",
            "training.phases[0].task.image_size",
        ),
        (
            "task = { contexts = [\"cardinal\"] }",
            "task = { contexts = [\"diagonal\"] }",
            "training.phases[0].task",
        ),
        (
            "trials = \"stream\"",
            "trials = \"fixed\"",
            "task.trials = \"stream\"",
        ),
        ("[training]\n", "[training]\nsteps = 7\n", "training.phases"),
    ] {
        let bad = tmp.path().join("bad.toml");
        assert!(base.contains(from), "{from}");
        std::fs::write(&bad, base.replacen(from, to, 1)).unwrap();
        refused(tmp.path(), &["run", bad.to_str().unwrap()], &[key]);
    }
}

/// The sampling reference model on the same task: recorded at step 0 in the format of a
/// network's recordings, analysed unchanged, reproducible, and refused where it does not apply.
#[test]
fn the_sampling_model_records_like_a_network() {
    let tmp = tempdir().unwrap();
    let base = tmp.path().join("sampling.toml");
    let text = std::fs::read_to_string(root().join("configs/redundancy_sampling.toml"))
        .unwrap()
        .replace("image_size = 16", "image_size = 8")
        .replace("frames = 5", "frames = 3")
        .replace("wavelength = 6.0", "wavelength = 4.0")
        .replace("envelope_sigma = 4.0", "envelope_sigma = 2.5")
        .replace("n_test = 1800", "n_test = 180")
        .replace("units = 32", "units = 12")
        .replace("probe_examples = 16000", "probe_examples = 240");
    std::fs::write(&base, text).unwrap();
    for delta in ["0", "0.03"] {
        let out = tmp.path().join(format!("delta{delta}"));
        train(&base, &out, &["--set", &format!("model.delta={delta}")]);
        let step0 = out.join("activity/step-00000000");
        for f in [
            "hidden_0.npy",
            "layer0_rate.npy",
            "signal.npy",
            "context.npy",
            "logits.npy",
        ] {
            assert!(step0.join(f).is_file(), "{f}");
        }
        let summary = json(&out.join("summary.json"));
        assert_eq!(summary["model"], "sampling");
        assert_eq!(summary["rule"], "none");
        // The resolved config says the same (it used to name the default rule, backprop).
        let resolved = std::fs::read_to_string(out.join("config.toml")).unwrap();
        assert!(resolved.contains("[rule]\nkind = \"none\""), "{resolved}");
        assert!(summary["test_accuracy"].as_f64().is_some());
        assert!(summary["ideal_accuracy"].as_f64().unwrap() > 0.5);
        ok(&apical(&["analyze", out.to_str().unwrap()]));
        let v = json(&out.join("analysis/analysis.json"));
        let by_step = v["redundancy_by_step"].as_array().unwrap();
        assert_eq!(by_step.len(), 2, "one per context");
        assert!(by_step
            .iter()
            .all(|e| e["step"] == 0 && e["layer"] == 0 && e["units"] == 12));
        assert_eq!(
            v["within_trial"].as_array().unwrap().len(),
            3 * 2,
            "3 frames × 2 contexts"
        );
    }
    // A rule on the sampling model is refused, naming the key; the announcement names no rule.
    let ruled = apical(&[
        "run",
        base.to_str().unwrap(),
        "--set",
        "rule.kind=backprop",
        "--out",
        tmp.path().join("ruled").to_str().unwrap(),
    ]);
    assert_eq!(ruled.status.code(), Some(2));
    assert!(stderr(&ruled).contains("rule.kind"), "{}", stderr(&ruled));
    let announced = apical(&[
        "run",
        base.to_str().unwrap(),
        "--out",
        tmp.path().join("announced").to_str().unwrap(),
    ]);
    ok(&announced);
    assert!(
        stderr(&announced).contains("(the sampling model on orientation, not trained"),
        "{}",
        stderr(&announced)
    );
    // Reproducible from the seed; δ changes the samples.
    let again = tmp.path().join("again");
    train(&base, &again, &["--set", "model.delta=0.03"]);
    let read = |d: &Path| std::fs::read(d.join("activity/hidden_0.npy")).unwrap();
    assert_eq!(read(&again), read(&tmp.path().join("delta0.03")));
    assert_ne!(read(&again), read(&tmp.path().join("delta0")));
    // Refusals, before anything is written.
    for (set, key) in [
        ("logging.record_at=[0,5]", "logging.record_at"),
        ("training.patience=3", "training.patience"),
        ("model.delta=-1", "model.delta"),
        ("model.samples_per_bin=2", "model.samples_per_bin"),
        ("model.feedback_delay=2", "model.feedback_delay"),
    ] {
        refused(
            tmp.path(),
            &["run", base.to_str().unwrap(), "--set", set],
            &[key],
        );
    }
    let digits = tmp.path().join("digits.toml");
    std::fs::write(
        &digits,
        "[task]\nkind = \"digits\"\n[model]\nkind = \"sampling\"\n",
    )
    .unwrap();
    refused(
        tmp.path(),
        &["run", digits.to_str().unwrap()],
        &["model.kind"],
    );
    refused(
        tmp.path(),
        &["record", again.to_str().unwrap()],
        &["model.delta"],
    );
}

/// The sampler's guards (issue 23), on the shipped calibration (τ = 0.05, δ = 0.03, the task's
/// 16×16 fields): its belief is the exact posterior of the frames seen, so it is not
/// overconfident — on zero-signal trials the median |log-odds| is at most 5 (a chain that
/// counted its own samples as evidence reached ≈ 161) — and it decides well above chance, while
/// at δ = 0 the images carry no evidence under the model and it decides at chance.
#[test]
fn the_calibrated_sampler_is_not_overconfident() {
    let tmp = tempdir().unwrap();
    let config = root().join("configs/redundancy_sampling.toml");
    for (delta, low, high) in [("0.03", 0.6, 1.0), ("0", 0.45, 0.55)] {
        let out = tmp.path().join(format!("delta{delta}"));
        train(&config, &out, &["--set", &format!("model.delta={delta}")]);
        let step0 = out.join("activity/step-00000000");
        let logits = npy_f32(&step0.join("logits.npy"));
        let signal = npy_f32(&step0.join("signal.npy"));
        let mut zero: Vec<f32> = signal
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == 0.0)
            .map(|(i, _)| (2.0 * logits[2 * i + 1]).abs())
            .collect();
        assert!(
            zero.len() >= 100,
            "zero-signal probe trials: {}",
            zero.len()
        );
        zero.sort_by(f32::total_cmp);
        let median = zero[zero.len() / 2];
        assert!(median <= 5.0, "δ = {delta}: median |log-odds| {median}");
        let accuracy = json(&out.join("summary.json"))["test_accuracy"]
            .as_f64()
            .unwrap();
        assert!(
            (low..=high).contains(&accuracy),
            "δ = {delta}: accuracy {accuracy}"
        );
    }
}

/// The frozen-noise probe (`logging.frozen_images`): recorded beside every recording under
/// `frozen/`, re-recorded exactly by `apical record`, and analysed as `internal_redundancy` —
/// for a feedforward network, whose units share only the variability of their input, the
/// internal redundancy of its first layer is ≈ 0 (its private noise is independent), while the
/// same units' information about fresh trials is limited by the shared pixel noise. Bad
/// requests are refused naming the key.
#[test]
fn the_frozen_noise_probe_sees_only_the_networks_own_variability() {
    let tmp = tempdir().unwrap();
    let cfg = tmp.path().join("ff.toml");
    std::fs::write(
        &cfg,
        CONFIG
            .replace(
                "kind = \"gfn\"\nhidden = [12]\nsteps = 2\nframes = 3\n",
                "kind = \"ff\"\nhidden = [12]\n",
            )
            .replace("kind = \"dendritic\"", "kind = \"backprop\"")
            .replace(
                "probe_examples = 240",
                "probe_examples = 8000\nfrozen_images = 40\nfrozen_repeats = 50",
            ),
    )
    .unwrap();
    let run = tmp.path().join("run");
    // Private noise comparable to the pixel noise: f′ (from fresh trials, pixel noise included)
    // is then measured precisely enough against the within-image Σ.
    train(
        &cfg,
        &run,
        &[
            "--set",
            "training.learning_rate=3e-2",
            "--set",
            "model.noise_std=1.0",
            "--set",
            "task.noise_std=0.3",
        ],
    );
    for dir in [
        "activity",
        "activity/step-00000000",
        "activity/step-00000040",
    ] {
        let frozen = run.join(dir).join("frozen");
        // image.npy: int64, one per trial, after apical's 64-byte-padded header.
        let bytes = std::fs::read(frozen.join("image.npy")).unwrap();
        let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let image: Vec<i64> = bytes[10 + header..]
            .chunks(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(
            image.len(),
            2 * 40 * 50,
            "{dir}: 40 images × 50 repeats × 2 contexts"
        );
        assert!(image.iter().enumerate().all(|(t, &i)| i == (t / 50) as i64));
        assert!(frozen.join("hidden_0.npy").exists() && frozen.join("context.npy").exists());
    }
    // apical record repeats the frozen recordings exactly (same weights, same noise streams).
    let rec = tmp.path().join("rec");
    ok(&apical(&[
        "record",
        run.to_str().unwrap(),
        "--out",
        rec.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read(run.join("activity/step-00000040/frozen/hidden_0.npy")).unwrap(),
        std::fs::read(rec.join("activity/step-00000040/frozen/hidden_0.npy")).unwrap()
    );
    ok(&apical(&[
        "analyze",
        run.to_str().unwrap(),
        "--subset-size",
        "8",
    ]));
    let v = json(&run.join("analysis/analysis.json"));
    let internal = v["internal_redundancy"].as_array().unwrap();
    assert_eq!(internal.len(), 2, "one layer × two contexts: {internal:?}");
    for e in internal {
        assert_eq!(e["images"], 40);
        assert_eq!(e["dof"], 40 * 49);
        assert_eq!(e["step"], 40, "the last recording along learning");
        let fisher = e["fisher"].as_f64().unwrap();
        let sd = e["fisher_sd"].as_f64().unwrap();
        assert!(fisher > 10.0 * sd, "{e}");
        let r = e["redundancy_percent"].as_f64().unwrap();
        let fresh = v["redundancy_by_step"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["step"] == 40 && f["context"] == e["context"])
            .unwrap();
        // The same units on fresh trials: the pixel noise they all see is shared variability
        // along the task (strongly redundant); the frozen images hold it fixed and their own
        // noise is independent (≈ 0 up to the estimate's sampling error: −4.4% in context 0).
        let fresh_r = fresh["redundancy_percent"].as_f64().unwrap();
        assert!(
            fresh_r > 30.0 && r.abs() < 8.0,
            "fresh trials {fresh_r:.1}% vs internal {r:.1}%: {e} / {fresh}"
        );
    }
    // Refused before anything is written.
    for (set, key) in [
        ("logging.frozen_repeats=1", "logging.frozen_repeats"),
        ("logging.probe_examples=0", "logging.frozen_images"),
    ] {
        refused(
            tmp.path(),
            &[
                "run",
                cfg.to_str().unwrap(),
                "--set",
                set,
                "--set",
                "logging.record_at=[]",
            ],
            &[key],
        );
    }
    let digits = tmp.path().join("digits.toml");
    std::fs::write(
        &digits,
        "[task]\nkind = \"digits\"\n[model]\nkind = \"ff\"\n[rule]\nkind = \"backprop\"\n[logging]\nfrozen_images = 4\n",
    )
    .unwrap();
    refused(
        tmp.path(),
        &["run", digits.to_str().unwrap()],
        &["logging.frozen_images", "orientation"],
    );
}

#[test]
fn the_summariser_takes_each_seeds_contrasts_and_pools_them_over_seeds() {
    // Two seeds of one gfn condition ("dendritic+seed10", "+seed11": one rule), with the
    // engagement contrasts `apical analyze --passive` writes: the report's primary row is the
    // mean over seeds with a t-interval, the seeds' bootstrap SD their median, and a null
    // contrast leaves its seed out (n).
    if !python3_present("the redundancy summary") {
        return;
    }
    let tmp = tempdir().unwrap();
    let out = tmp.path().join("red");
    let gfn = out.join("gfn");
    std::fs::create_dir_all(&gfn).unwrap();
    let mut points = String::from("point,condition\n");
    for (seed, lxe, sd, did) in [(10, 4.0, 0.5, Some(2.0)), (11, 8.0, 1.5, None)] {
        let point = format!("dendritic+seed{seed}");
        points.push_str(&format!("{point},{point}\n"));
        let run = gfn.join("runs").join(&point);
        std::fs::create_dir_all(run.join("analysis")).unwrap();
        std::fs::write(
            run.join("summary.json"),
            format!(r#"{{"seed": {seed}, "test_accuracy": 0.6, "ideal_accuracy": 0.7}}"#),
        )
        .unwrap();
        let contrast = serde_json::json!({
            "layer": 0, "before_step": 0, "after_step": 40,
            "learning_x_engagement": lxe, "learning_x_engagement_sd": sd,
            "within_trial_did": did, "relevance_x_engagement": null,
            "information_ratio_after": 0.9,
        });
        let step = |s: u64| {
            serde_json::json!({"step": s, "layer": 0, "context": 0, "fisher": 1.0,
                "fisher_shuffled": 2.0, "redundancy_percent": 50.0})
        };
        std::fs::write(
            run.join("analysis/analysis.json"),
            serde_json::json!({"engagement_contrasts": [contrast],
                "redundancy_by_step": [step(0), step(40)]})
            .to_string(),
        )
        .unwrap();
    }
    std::fs::write(gfn.join("points.csv"), points).unwrap();
    let report = std::process::Command::new("python3")
        .arg(root().join("experiments/redundancy/summarise.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let text = String::from_utf8_lossy(&report.stdout);
    // Mean 6.0; t-interval 6 ± 12.71·2.83/√2 = [−19.4, 31.4]; median SD 1.0; one seed's DiD.
    let row = text
        .lines()
        .find(|l| l.starts_with("| dendritic | 0 | 6.0 "))
        .unwrap_or_else(|| panic!("no contrast row in\n{text}"));
    assert!(row.contains("6.0 [-19.4, 31.4] (n = 2)"), "{row}");
    assert!(row.contains("| 1.0 (n = 2) |"), "{row}");
    assert!(row.contains("2.0 (n = 1)"), "{row}");
    assert!(row.contains("— (n = 0)"), "{row}");
    assert!(row.contains("0.90 [0.90, 0.90] (n = 2)"), "{row}");
}
