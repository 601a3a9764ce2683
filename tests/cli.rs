//! End-to-end tests of the `apical` binary on the default (ndarray) backend.

mod common;

use common::*;
use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Independent CRC-32C (Castagnoli), bitwise, for checking event-file framing.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn masked(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xA282_EAD8)
}

/// Parses TFRecord framing with an independent CRC implementation; returns the payloads.
fn tf_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
        assert_eq!(
            u32::from_le_bytes(rest[8..12].try_into().unwrap()),
            masked(&rest[..8]),
            "length CRC"
        );
        let data = &rest[12..12 + len];
        assert_eq!(
            u32::from_le_bytes(rest[12 + len..16 + len].try_into().unwrap()),
            masked(data),
            "data CRC"
        );
        out.push(data.to_vec());
        rest = &rest[16 + len..];
    }
    out
}

#[test]
fn quickstart_small_writes_every_output_well_formed() {
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = run_small(&dir, &[]);
    ok(&out);
    assert!(stdout(&out).contains("test accuracy"), "{}", stdout(&out));

    // config.toml: the resolved config, loadable again.
    let config = read(&dir.join("config.toml"));
    assert!(
        config.contains("steps = 60") && config.contains("learning_rate"),
        "{config}"
    );
    apical_run::ExperimentConfig::load(&dir.join("config.toml"), &[]).unwrap();

    // metrics.csv: header + 3 evaluations × 2 splits, every value in range.
    let csv = read(&dir.join("metrics.csv"));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("step,epoch,split,loss,accuracy"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        assert_eq!(row.len(), 5);
        let step: usize = row[0].parse().unwrap();
        assert!([20, 40, 60].contains(&step));
        assert!(row[2] == "train" || row[2] == "test");
        let loss: f64 = row[3].parse().unwrap();
        let acc: f64 = row[4].parse().unwrap();
        assert!(loss.is_finite() && loss > 0.0 && (0.0..=1.0).contains(&acc));
    }

    // summary.json.
    let summary: serde_json::Value =
        serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
    for key in ["test_accuracy", "backend", "seed", "steps", "wall_seconds"] {
        assert!(!summary[key].is_null(), "summary.json lacks {key}");
    }
    assert_eq!(summary["backend"], "ndarray");
    assert_eq!(summary["steps"], 60);
    // Provenance: version, the commit built from (this checkout's), the command, the machine,
    // the start time.
    let p = &summary["provenance"];
    assert_eq!(p["apical_version"], env!("CARGO_PKG_VERSION"));
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_string(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        });
    // A commit of this repository (HEAD itself unless the build directory is shared with
    // another checkout of an older commit), never "unknown" in a git checkout.
    let commit = p["git_commit"].as_str().unwrap();
    let known = std::process::Command::new("git")
        .args(["cat-file", "-e", &format!("{commit}^{{commit}}")])
        .current_dir(root())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        head == "unknown" || (commit.len() == 40 && known),
        "built from {commit}, not a commit of this repository (HEAD {head})"
    );
    assert!(
        p["command"]
            .as_str()
            .unwrap()
            .contains("run configs/quickstart.toml"),
        "{p}"
    );
    assert!(
        p["cpus"].as_u64().unwrap() >= 1 && p["threads"].as_u64().unwrap() >= 1,
        "{p}"
    );
    let started = p["started_at"].as_str().unwrap();
    assert!(
        started.len() == 20 && started.starts_with("20") && started.ends_with('Z'),
        "{p}"
    );
    assert!(!p["host"].as_str().unwrap().is_empty());
    let acc = summary["test_accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.5,
        "60 steps of backprop on digits should beat chance by far (got {acc})"
    );

    // TensorBoard event file: valid framing and CRCs, and the scalars it should hold.
    let event = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .expect("an event file");
    let bytes = std::fs::read(&event).unwrap();
    let records = tf_records(&bytes);
    assert_eq!(
        records.len(),
        1 + 6 * 2,
        "file version + loss and accuracy per row"
    );
    assert!(String::from_utf8_lossy(&records[0]).contains("brain.Event:2"));
    let scalars = apical_store::tensorboard::read_scalars(&bytes).unwrap();
    assert!(scalars
        .iter()
        .any(|(step, tag, _)| *step == 60 && tag == "test/accuracy"));

    // activity/*.npy: numpy format, right dtype and shape.
    let hidden = std::fs::read(dir.join("activity/hidden_0.npy")).unwrap();
    assert_eq!(&hidden[..6], b"\x93NUMPY");
    let npy = npyz::NpyFile::new(&hidden[..]).unwrap();
    assert_eq!(npy.shape(), &[50, 32]);
    assert_eq!(npy.order(), npyz::Order::C);
    let values = npy.into_vec::<f32>().unwrap();
    assert!(
        values.iter().all(|v| v.is_finite() && *v >= 0.0),
        "ReLU rates"
    );
    let label_bytes = std::fs::read(dir.join("activity/labels.npy")).unwrap();
    let labels = npyz::NpyFile::new(&label_bytes[..]).unwrap();
    assert_eq!(labels.shape(), &[50]);
    assert!(labels
        .into_vec::<i64>()
        .unwrap()
        .iter()
        .all(|&l| (0..10).contains(&l)));

    // plots and checkpoints.
    let png = std::fs::read(dir.join("plots/learning_curve.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    assert!(read(&dir.join("plots/learning_curve.svg")).contains("<svg"));
    let checkpoints: Vec<String> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut sorted = checkpoints.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec!["step-00000040", "step-00000060"],
        "keeps the newest two"
    );

    // No temporary files anywhere.
    fn walk(dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                !name.starts_with('.'),
                "leftover temporary {}",
                path.display()
            );
            if path.is_dir() {
                walk(&path);
            }
        }
    }
    walk(&dir);
}

#[test]
fn same_seed_twice_gives_identical_metrics_and_another_seed_does_not() {
    let tmp = tempdir().unwrap();
    let noisy = ["--set", "model.noise_std=0.3"];
    ok(&run_small(&tmp.path().join("a"), &noisy));
    ok(&run_small(&tmp.path().join("b"), &noisy));
    ok(&run_small(
        &tmp.path().join("c"),
        &[&noisy[..], &["--set", "training.seed=1"]].concat(),
    ));
    let a = read(&tmp.path().join("a/metrics.csv"));
    assert_eq!(a, read(&tmp.path().join("b/metrics.csv")));
    assert_ne!(a, read(&tmp.path().join("c/metrics.csv")));
}

#[test]
fn resume_after_a_forced_stop_gives_identical_final_metrics() {
    let tmp = tempdir().unwrap();
    let noisy = [
        "--set",
        "model.noise_std=0.3",
        "--set",
        "training.eval_every=10",
    ];
    let whole = tmp.path().join("whole");
    ok(&run_small(&whole, &noisy));

    // Stop after step 30: the checkpoint is at 20, and metrics for step 30 were already logged.
    let cut = tmp.path().join("cut");
    let out = run_small(&cut, &[&noisy[..], &["--halt-after", "30"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("apical resume"), "{}", stderr(&out));
    assert!(!cut.join("summary.json").exists());
    let out = apical(&["resume", cut.to_str().unwrap()]);
    ok(&out);
    assert_eq!(
        read(&cut.join("metrics.csv")),
        read(&whole.join("metrics.csv"))
    );
    let a: serde_json::Value = serde_json::from_str(&read(&whole.join("summary.json"))).unwrap();
    let b: serde_json::Value = serde_json::from_str(&read(&cut.join("summary.json"))).unwrap();
    assert_eq!(a["test_accuracy"], b["test_accuracy"]);
    assert_eq!(a["test_loss"], b["test_loss"]);
    assert_eq!(b["resumed_from_step"], 20);
    assert_eq!(
        std::fs::read(whole.join("activity/hidden_0.npy")).unwrap(),
        std::fs::read(cut.join("activity/hidden_0.npy")).unwrap()
    );
}

/// Runs a command that must be refused as bad input: exit 2, a one-line message containing
/// every `needle`, no panic, and nothing created at `out`.
fn refused(args: &[&str], needles: &[&str]) {
    let tmp = tempdir().unwrap();
    let out_dir = tmp.path().join("never");
    let mut full: Vec<&str> = args.to_vec();
    let out_str = out_dir.to_str().unwrap().to_string();
    if args[0] == "run" {
        full.push("--out");
        full.push(&out_str);
    }
    let out = apical(&full);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "args {args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected for {args:?}: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    for needle in needles {
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
    }
    assert!(!out_dir.exists(), "nothing may be written for {args:?}");
}

#[test]
fn bad_configs_are_refused_before_any_work() {
    refused(
        &["run", "configs/quickstart.toml", "--set", "training.lr=1"],
        &[
            "configs/quickstart.toml (--set training.lr=1): key `training.lr`",
            "unknown field `lr`",
        ],
    );
    refused(
        &[
            "run",
            "configs/quickstart.toml",
            "--set",
            "training.batch_size=\"x\"",
        ],
        &["key `training.batch_size`", "invalid type"],
    );
    refused(
        &[
            "run",
            "configs/quickstart.toml",
            "--set",
            "training.learning_rate=-0.01",
        ],
        &["key `training.learning_rate`", "> 0"],
    );
    refused(
        &[
            "run",
            "configs/quickstart.toml",
            "--set",
            "training.batch_size=0",
        ],
        &["key `training.batch_size`"],
    );
    refused(
        &[
            "run",
            "configs/orientation_backprop.toml",
            "--set",
            "task.signal_levels=[3,6]",
        ],
        &[
            "configs/orientation_backprop.toml",
            "key `task.signal_levels`",
            "must include 0",
        ],
    );
    refused(
        &["run", "configs/does_not_exist.toml"],
        &["configs/does_not_exist.toml", "cannot read"],
    );
    refused(
        &[
            "config",
            "show",
            "configs/quickstart.toml",
            "--set",
            "model.kind=transformer",
        ],
        &["model", "transformer"],
    );
    // A loss the rule cannot descend, and cross-validation folds that cannot hold every class.
    refused(
        &[
            "run",
            "configs/digits_dendritic.toml",
            "--set",
            "training.loss=\"squared-error\"",
        ],
        &[
            "key `training.loss`",
            "rule dendritic does not take training.loss",
        ],
    );
    refused(
        &[
            "run",
            "configs/song2024_mnist_predictive-coding.toml",
            "--set",
            "task.cv_folds=61",
            "--set",
            "task.cv_fold=0",
        ],
        &["key `task.cv_folds`", "train_per_class = 60"],
    );
    refused(
        &[
            "run",
            "configs/song2024_mnist_predictive-coding.toml",
            "--set",
            "rule.mode=\"generative\"",
        ],
        &["key `rule.inference_schedule`", "discriminative"],
    );
}

#[test]
fn garbled_config_file_is_refused() {
    let tmp = tempdir().unwrap();
    let path = tmp.path().join("broken.toml");
    std::fs::write(&path, "[task\nkind = \"digits\"\n").unwrap();
    refused(
        &["run", path.to_str().unwrap()],
        &["broken.toml", "not valid TOML"],
    );
}

#[test]
fn missing_and_garbled_data_files_are_refused() {
    let tmp = tempdir().unwrap();
    let data = tmp.path().join("mnist");
    let config = tmp.path().join("mnist.toml");
    std::fs::write(
        &config,
        format!(
            "[task]\nkind = \"idx\"\npath = {:?}\n[training]\nsteps = 5\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    refused(&["run", config.to_str().unwrap()], &["mnist", "not found"]);

    std::fs::create_dir_all(&data).unwrap();
    let images: Vec<u8> = (0..10 * 4 * 4).map(|i| i as u8).collect();
    let labels: Vec<u8> = (0..10).map(|i| i as u8 % 10).collect();
    std::fs::write(
        data.join("train-images-idx3-ubyte"),
        idx_images(10, 4, &images),
    )
    .unwrap();
    std::fs::write(data.join("train-labels-idx1-ubyte"), idx_labels(&labels)).unwrap();
    std::fs::write(
        data.join("t10k-images-idx3-ubyte"),
        &idx_images(10, 4, &images)[..100],
    )
    .unwrap();
    std::fs::write(data.join("t10k-labels-idx1-ubyte"), idx_labels(&labels)).unwrap();
    refused(
        &["run", config.to_str().unwrap()],
        &["t10k-images-idx3-ubyte", "malformed"],
    );

    std::fs::write(
        data.join("t10k-images-idx3-ubyte"),
        idx_images(10, 4, &images),
    )
    .unwrap();
    let tmp_out = tmp.path().join("ok");
    let out = apical(&[
        "run",
        config.to_str().unwrap(),
        "--set",
        "model.hidden=[8]",
        "--out",
        tmp_out.to_str().unwrap(),
    ]);
    ok(&out);
    assert!(tmp_out.join("summary.json").exists());
}

#[test]
fn bad_cli_arguments_exit_2_and_existing_output_is_not_touched() {
    let out = apical(&["run", "configs/quickstart.toml", "--backend", "cuda"]);
    assert_eq!(out.status.code(), Some(2));
    let out = apical(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));

    let tmp = tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep").unwrap();
    let out = apical(&[
        "run",
        "configs/quickstart.toml",
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not empty"));
    assert_eq!(read(&tmp.path().join("precious.txt")), "keep");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);

    let out = apical(&["resume", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("config.toml"));
}

#[test]
fn config_show_prints_every_default() {
    let out = apical(&[
        "config",
        "show",
        "configs/quickstart.toml",
        "--set",
        "training.seed=3",
    ]);
    ok(&out);
    let text = stdout(&out);
    for needle in [
        "seed = 3",
        "batch_size = 32",
        "beta1",
        "eval_train_examples",
        "[backend]",
        "probe_examples",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    let help = stdout(&apical(&["run", "--help"]));
    assert!(
        help.contains("Examples:") && help.contains("--backend"),
        "{help}"
    );
}

#[test]
fn orientation_run_reports_accuracy_per_signal_level_and_records_signal() {
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("o");
    let out = apical(&[
        "run",
        "configs/orientation_backprop.toml",
        "--set",
        "task.image_size=8",
        "--set",
        "task.frames=2",
        "--set",
        "task.n_train=180",
        "--set",
        "task.n_test=90",
        "--set",
        "training.epochs=1",
        "--set",
        "logging.probe_examples=45",
        "--out",
        dir.to_str().unwrap(),
    ]);
    ok(&out);
    let summary: serde_json::Value =
        serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
    let levels = summary["accuracy_by_signal"].as_array().unwrap();
    assert_eq!(levels.len(), 9);
    assert!(levels.iter().any(|l| l["signal"] == 0.0));
    // The psychometric curve: the network's accuracy per level and the ideal observer's.
    for ext in ["png", "svg"] {
        assert!(dir.join(format!("plots/psychometric.{ext}")).is_file());
    }
    let svg = read(&dir.join("plots/psychometric.svg"));
    assert!(svg.contains("ideal observer") && svg.contains("signal level (%)"));
    let signal_bytes = std::fs::read(dir.join("activity/signal.npy")).unwrap();
    let signal = npyz::NpyFile::new(&signal_bytes[..]).unwrap();
    assert_eq!(signal.shape(), &[45]);
}

#[test]
fn kolen_pollack_logs_angles_and_resumes_identically() {
    let tmp = tempdir().unwrap();
    let settings = [
        "--set",
        "rule.kind=kolen-pollack",
        "--set",
        "rule.decay=0.01",
        "--set",
        "model.noise_std=0.2",
        "--set",
        "training.eval_every=10",
    ];
    let whole = tmp.path().join("whole");
    ok(&run_small(&whole, &settings));
    let cut = tmp.path().join("cut");
    let out = run_small(&cut, &[&settings[..], &["--halt-after", "30"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    ok(&apical(&["resume", cut.to_str().unwrap()]));
    assert_eq!(
        read(&cut.join("metrics.csv")),
        read(&whole.join("metrics.csv"))
    );
    let diagnostics = read(&whole.join("diagnostics.csv"));
    assert_eq!(read(&cut.join("diagnostics.csv")), diagnostics);
    assert!(diagnostics.starts_with("step,layer,angle_to_backprop_deg,update_norm\n"));
    // Two layers (hidden + readout) per evaluation, 6 evaluations.
    assert_eq!(diagnostics.lines().count(), 1 + 12);
    let summary: serde_json::Value =
        serde_json::from_str(&read(&whole.join("summary.json"))).unwrap();
    let angles = summary["mean_angle_to_backprop_deg"].as_array().unwrap();
    assert!(
        angles[0].as_f64().unwrap() > 0.0 && angles[0].as_f64().unwrap() < 90.0,
        "{angles:?}"
    );
    assert!(
        angles[1].as_f64().unwrap() < 1.0,
        "the readout's error is exact: {angles:?}"
    );
}

#[test]
fn gfn_records_every_inference_step_and_resumes_identically() {
    let tmp = tempdir().unwrap();
    let settings = [
        "--set",
        "model.kind=gfn",
        "--set",
        "model.steps=2",
        "--set",
        "model.noise_std=0.1",
    ];
    let whole = tmp.path().join("whole");
    ok(&run_small(&whole, &settings));
    for quantity in ["basal", "apical", "rate", "residual"] {
        let bytes = std::fs::read(whole.join(format!("activity/layer0_{quantity}.npy"))).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(
            npy.shape(),
            &[50, 3, 32],
            "{quantity}: trials × (bottom-up sweep + 2 steps) × units"
        );
    }
    // The online apical prediction makes the residual smaller than the raw apical input.
    let load = |q: &str| -> Vec<f32> {
        let bytes = std::fs::read(whole.join(format!("activity/layer0_{q}.npy"))).unwrap();
        npyz::NpyFile::new(&bytes[..])
            .unwrap()
            .into_vec::<f32>()
            .unwrap()
    };
    let variance = |v: &[f32]| {
        // Feedback steps only (step index ≥ 1 of 3): the bottom-up sweep has no apical input.
        let picked: Vec<f64> = v
            .chunks(32)
            .enumerate()
            .filter(|(i, _)| i % 3 != 0)
            .flat_map(|(_, c)| c.iter().map(|&x| x as f64))
            .collect();
        let mean = picked.iter().sum::<f64>() / picked.len() as f64;
        picked.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / picked.len() as f64
    };
    let (apical_var, residual_var) = (variance(&load("apical")), variance(&load("residual")));
    assert!(
        residual_var < apical_var,
        "residual variance {residual_var} vs apical {apical_var}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&read(&whole.join("summary.json"))).unwrap();
    assert_eq!(summary["model"], "gfn");
    assert!(summary["test_accuracy"].as_f64().unwrap() > 0.5);
    let cut = tmp.path().join("cut");
    let out = run_small(&cut, &[&settings[..], &["--halt-after", "30"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    ok(&apical(&["resume", cut.to_str().unwrap()]));
    assert_eq!(
        read(&cut.join("metrics.csv")),
        read(&whole.join("metrics.csv"))
    );
    // Apical magnitude and residual mean/spread per hidden layer at every evaluation.
    let dendrites = read(&whole.join("dendrites.csv"));
    assert_eq!(dendrites, read(&cut.join("dendrites.csv")));
    let rows: Vec<Vec<f64>> = dendrites
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r.len() == 5 && r[2] > 0.0 && r[4] > 0.0 && r[2].is_finite()));
}

#[test]
fn a_rule_that_cannot_train_the_model_is_refused() {
    refused(
        &[
            "run",
            "configs/digits_gfn-backprop.toml",
            "--set",
            "rule.kind=feedback-alignment",
        ],
        &["key `rule.kind`", "ff model only"],
    );
    refused(
        &[
            "run",
            "configs/digits_gfn-backprop.toml",
            "--set",
            "model.apical_inhibition=2",
        ],
        &["key `model.apical_inhibition`"],
    );
}

#[test]
fn every_rule_reduces_the_training_loss_on_digits() {
    // A real learning test: 150 seeded steps from the same initial network, train loss must fall
    // by a rule-specific margin (the noisy broadcast rule learns slowest).
    let tmp = tempdir().unwrap();
    for (rule, variant, factor) in [
        ("backprop", None, 0.5),
        ("feedback-alignment", None, 0.6),
        ("kolen-pollack", None, 0.6),
        ("reward-broadcast", None, 0.9),
        (
            "reward-broadcast",
            Some("rule.variant=exploratory-hebb"),
            0.9,
        ),
        ("predictive-coding", None, 0.6),
    ] {
        let dir = tmp.path().join(format!("{rule}-{}", variant.is_some()));
        let kind = format!("rule.kind={rule}");
        let mut args = vec![
            "run",
            "configs/quickstart.toml",
            "--set",
            &kind,
            "--set",
            "training.steps=150",
            "--set",
            "training.eval_every=10",
            "--set",
            "training.learning_rate=3e-3",
            "--set",
            "model.hidden=[32]",
            "--set",
            "logging.probe_examples=0",
            "--out",
            dir.to_str().unwrap(),
        ];
        if let Some(variant) = variant {
            args.extend(["--set", variant]);
        }
        ok(&apical(&args));
        let csv = read(&dir.join("metrics.csv"));
        let train: Vec<f64> = csv
            .lines()
            .skip(1)
            .filter(|l| l.contains(",train,"))
            .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
            .collect();
        let (first, last) = (train[0], *train.last().unwrap());
        assert!(
            last < factor * first,
            "{rule} {variant:?}: train loss {first} → {last}"
        );
    }
}

#[test]
fn dendritic_rule_trains_gfn_aligned_with_backprop_and_resumes_identically() {
    let tmp = tempdir().unwrap();
    let small = [
        "--set",
        "training.steps=60",
        "--set",
        "training.eval_every=10",
        "--set",
        "training.checkpoint_every=20",
        "--set",
        "model.hidden=[32]",
        "--set",
        "logging.probe_examples=20",
        // Tied top-down weights: the teaching signals travel through Wᵀ, so the hidden update
        // lines up with the gradient from the first step (generative top-down weights align
        // over training: 39° averaged over the full digits_dendritic run).
        "--set",
        "model.top_down=tied",
    ];
    let run = |dir: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["run", "configs/digits_dendritic.toml"];
        args.extend_from_slice(&small);
        args.extend_from_slice(extra);
        args.push("--out");
        let d = dir.to_str().unwrap().to_string();
        args.push(&d);
        apical(&args)
    };
    let whole = tmp.path().join("whole");
    ok(&run(&whole, &[]));
    let summary: serde_json::Value =
        serde_json::from_str(&read(&whole.join("summary.json"))).unwrap();
    let angles: Vec<f64> = summary["mean_angle_to_backprop_deg"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_f64().unwrap())
        .collect();
    assert!(
        angles[0] < 10.0,
        "hidden-layer angle to backprop {angles:?}"
    );
    let cut = tmp.path().join("cut");
    assert_eq!(run(&cut, &["--halt-after", "30"]).status.code(), Some(1));
    ok(&apical(&["resume", cut.to_str().unwrap()]));
    assert_eq!(
        read(&cut.join("metrics.csv")),
        read(&whole.join("metrics.csv"))
    );
    assert_eq!(
        read(&cut.join("diagnostics.csv")),
        read(&whole.join("diagnostics.csv"))
    );
    refused(
        &[
            "run",
            "configs/quickstart.toml",
            "--set",
            "rule.kind=dendritic",
        ],
        &["key `rule.kind`", "gfn"],
    );
    refused(
        &[
            "run",
            "configs/digits_dendritic.toml",
            "--set",
            "model.activation=relu",
        ],
        &["key `model.activation`", "sigmoid"],
    );
}

#[test]
fn predictive_coding_and_every_top_down_mode_resume_identically() {
    let tmp = tempdir().unwrap();
    let small = [
        "--set",
        "training.steps=40",
        "--set",
        "training.eval_every=10",
        "--set",
        "training.checkpoint_every=20",
        "--set",
        "model.hidden=[32, 16]",
        "--set",
        "logging.probe_examples=0",
    ];
    for (case, extra) in [
        (
            "pc-generative",
            ["rule.mode=generative", "model.top_down=generative"],
        ),
        (
            "pc-kolen-pollack",
            ["rule.mode=discriminative", "model.top_down=kolen-pollack"],
        ),
        (
            "pc-fixed-random",
            ["rule.mode=discriminative", "model.top_down=fixed-random"],
        ),
        (
            "pc-tied",
            ["rule.mode=discriminative", "model.top_down=tied"],
        ),
    ] {
        let run = |dir: &std::path::Path, more: &[&str]| {
            let mut args = vec!["run", "configs/digits_predictive-coding.toml"];
            args.extend_from_slice(&small);
            for e in extra {
                args.push("--set");
                args.push(e);
            }
            args.extend_from_slice(more);
            args.push("--out");
            let d = dir.to_str().unwrap().to_string();
            args.push(&d);
            apical(&args)
        };
        let whole = tmp.path().join(format!("{case}-whole"));
        ok(&run(&whole, &[]));
        let cut = tmp.path().join(format!("{case}-cut"));
        assert_eq!(run(&cut, &["--halt-after", "20"]).status.code(), Some(1));
        ok(&apical(&["resume", cut.to_str().unwrap()]));
        assert_eq!(
            read(&cut.join("metrics.csv")),
            read(&whole.join("metrics.csv")),
            "{case}"
        );
    }
    refused(
        &[
            "run",
            "configs/digits_predictive-coding.toml",
            "--set",
            "rule.inference_rate=0",
        ],
        &["key `rule.inference_rate`", "(0, 1]"],
    );
    refused(
        &[
            "run",
            "configs/digits_predictive-coding.toml",
            "--set",
            "model.top_down=sideways",
        ],
        &[
            "(--set model.top_down=sideways): key `model.top_down`",
            "unknown variant `sideways`",
            "kolen-pollack",
        ],
    );
    refused(
        &[
            "run",
            "configs/digits_predictive-coding.toml",
            "--set",
            "model.top_down_rate=2",
        ],
        &["key `model.top_down_rate`", "(0, 2)"],
    );
}

/// `apical ls DIR`: a line per run directory with its status, progress, settings and metric.
#[test]
fn ls_lists_runs_with_status_progress_and_metric() {
    let tmp = tempdir().unwrap();
    ok(&run_small(&tmp.path().join("done"), &[]));
    let halted = run_small(&tmp.path().join("halted"), &["--halt-after", "20"]);
    assert_eq!(halted.status.code(), Some(1), "{}", stderr(&halted));
    std::fs::create_dir_all(tmp.path().join("not-a-run")).unwrap();
    let out = apical(&["ls", tmp.path().to_str().unwrap()]);
    ok(&out);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "header and two runs:\n{text}");
    assert!(
        lines[0].starts_with("run") && lines[0].contains("metric"),
        "{text}"
    );
    let done: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&done[..3], ["done", "completed", "60/60"], "{text}");
    assert!(
        lines[1].contains("digits") && lines[1].contains("test_accuracy 0."),
        "{text}"
    );
    let halted: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(&halted[..3], ["halted", "stopped", "20/60"], "{text}");
    // A missing directory: one line, exit 2.
    let out = apical(&["ls", tmp.path().join("missing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

/// `apical config schema` lists every key with type, default and meaning; `config show` and a
/// run's `config.toml` name the optional keys left out, as comments that read back as nothing.
#[test]
fn the_schema_lists_every_key_and_the_resolved_config_names_the_optional_ones() {
    let out = apical(&["config", "schema"]);
    ok(&out);
    let text = stdout(&out);
    for needle in [
        "model.hidden  (array, default [128])  [ff, gfn]",
        "model.activation  (string, default ff: \"relu\", gfn: \"sigmoid\")",
        "training.patience  (integer, default (absent))",
        "rule.beta  (float",
        "task.path  (string, default (required))  [idx]",
        "backend.kind  (string, default \"ndarray\")",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
    let shown = apical(&["config", "show", "configs/quickstart.toml"]);
    ok(&shown);
    let shown = stdout(&shown);
    assert!(
        shown.contains("# training.patience      (not set) Early stopping"),
        "{shown}"
    );
    assert!(shown.contains("# logging.record_at"), "{shown}");
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("run");
    ok(&run_small(&dir, &[]));
    let written = read(&dir.join("config.toml"));
    assert!(written.contains("# training.init_from"), "{written}");
    // The comments read back as nothing: the run resumes from its own config.
    ok(&apical(&["resume", dir.to_str().unwrap()]));
}

/// MNIST-10k is in the box: `configs/mnist_backprop.toml` runs without a download and learns.
#[test]
fn mnist_runs_out_of_the_box() {
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("mnist");
    ok(&apical(&[
        "run",
        "configs/mnist_backprop.toml",
        "--set",
        "training.steps=300",
        "--set",
        "logging.probe_examples=20",
        "--out",
        dir.to_str().unwrap(),
    ]));
    let summary: serde_json::Value =
        serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
    assert_eq!(summary["task"], "mnist");
    assert_eq!(
        (summary["n_train"].as_u64(), summary["n_test"].as_u64()),
        (Some(8000), Some(2000))
    );
    let acc = summary["test_accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.8,
        "300 steps of backprop on real MNIST digits: {acc}"
    );
    // Song et al.'s network: 784-32-32-10 sigmoid, Xavier weights, no biases — trained by
    // predictive coding from config keys alone.
    let song = tmp.path().join("song");
    ok(&apical(&[
        "run",
        "configs/mnist_predictive-coding.toml",
        "--set",
        "model.kind=ff",
        "--set",
        "model.hidden=[32, 32]",
        "--set",
        "model.activation=sigmoid",
        "--set",
        "model.bias=false",
        "--set",
        "model.init=xavier",
        "--set",
        "training.steps=300",
        "--set",
        "logging.probe_examples=20",
        "--out",
        song.to_str().unwrap(),
    ]));
    let summary: serde_json::Value =
        serde_json::from_str(&read(&song.join("summary.json"))).unwrap();
    assert_eq!(summary["n_params"], 784 * 32 + 32 * 32 + 32 * 10);
    let acc = summary["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.6, "{acc}");
}

/// `apical data fetch` against a mirror on the loopback address (never the real hosts): a file
/// that is not the published one exits 1 naming it and leaves nothing under its name; a
/// missing file exits 1 with the HTTP status; an unknown data set exits 2. (The verified,
/// resumed and retried paths are tested on a data set of small files in apical-fetch.)
#[test]
fn data_fetch_refuses_files_that_are_not_the_published_ones() {
    use apical_fetch::loopback::{Reply, Server};
    let dir = std::env::temp_dir().join(format!("apical-cli-fetch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = apical_fetch::MNIST.files[0];
    let server = Server::start(
        [(
            first.name.to_string(),
            Reply::File(vec![0u8; first.size as usize]),
        )]
        .into_iter()
        .collect(),
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let out = apical(&[
        "data",
        "fetch",
        "mnist",
        "--dir",
        d,
        "--base-url",
        &server.base_url,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(first.name) && err.contains("SHA-256"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "nothing is kept: {left:?}");
    server.set(first.name, Reply::Missing);
    let out = apical(&[
        "data",
        "fetch",
        "mnist",
        "--dir",
        d,
        "--base-url",
        &server.base_url,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 404"), "{}", stderr(&out));
    let out = apical(&["data", "fetch", "cifar", "--dir", d]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
