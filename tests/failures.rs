//! Failure modes of a run, end to end through the binary: divergence, kill -9 at random
//! moments, damaged checkpoints, SIGINT/SIGTERM, unwritable or full output locations, bad
//! `.npy` input, and two writers on one run directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A run long enough (~1–3 s) to be interrupted part-way, checkpointing often.
const LONG: &[&str] = &[
    "--set",
    "training.steps=600",
    "--set",
    "training.eval_every=25",
    "--set",
    "training.checkpoint_every=25",
    "--set",
    "training.keep_checkpoints=3",
    "--set",
    "model.hidden=[48]",
    "--set",
    "logging.probe_examples=300",
];

fn long_args(dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["run", "configs/quickstart.toml"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(LONG.iter().map(|s| s.to_string()));
    args.push("--out".into());
    args.push(dir.to_str().unwrap().into());
    args
}

fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_apical"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the apical binary starts")
}

fn run_args(args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    apical(&refs)
}

/// The uninterrupted reference run.
fn reference(tmp: &Path) -> PathBuf {
    let dir = tmp.join("reference");
    ok(&run_args(&long_args(&dir)));
    dir
}

/// Every visible file under `dir` is whole: CSV and JSON and TOML parse, `.npy` decodes,
/// checkpoints are complete.
fn assert_no_half_written_file(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // hidden temporaries are never the file itself
        }
        if path.is_dir() {
            if name.starts_with("step-") {
                for f in [
                    "model.bpk",
                    "optimizer.bin",
                    "rule.bin",
                    "state.json",
                    "manifest.json",
                ] {
                    assert!(
                        path.join(f).is_file(),
                        "incomplete checkpoint {}",
                        path.display()
                    );
                }
            }
            assert_no_half_written_file(&path);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => {
                let text = String::from_utf8(bytes).unwrap();
                let mut lines = text.lines();
                let fields = lines.next().unwrap().split(',').count();
                assert!(text.ends_with('\n'), "{} ends mid-line", path.display());
                for line in lines {
                    assert_eq!(
                        line.split(',').count(),
                        fields,
                        "{}: {line}",
                        path.display()
                    );
                }
            }
            Some("json") => {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            Some("toml") => {
                String::from_utf8(bytes)
                    .unwrap()
                    .parse::<toml::Table>()
                    .unwrap();
            }
            Some("npy") => {
                // Whole: the body holds exactly shape-many values of its dtype (f32 or i64).
                let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
                let n = npy.shape().iter().product::<u64>() as usize;
                let len = if npy.dtype().descr().contains("i8") {
                    npy.into_vec::<i64>().map(|v| v.len())
                } else {
                    npy.into_vec::<f32>().map(|v| v.len())
                };
                assert_eq!(len.unwrap_or_else(|e| panic!("{}: {e}", path.display())), n);
            }
            _ => {}
        }
    }
}

fn no_temporaries_left(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "leftover {}", path.display());
        if path.is_dir() {
            no_temporaries_left(&path);
        }
    }
}

#[test]
fn divergence_stops_at_the_step_and_keeps_what_was_good() {
    let tmp = tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = apical(&[
        "run",
        "configs/quickstart.toml",
        "--set",
        "training.steps=200",
        "--set",
        "training.eval_every=1",
        "--set",
        "training.checkpoint_every=1",
        "--set",
        "model.hidden=[32]",
        "--set",
        "model.activation=linear",
        "--set",
        "optimizer.kind=sgd",
        "--set",
        "training.learning_rate=3",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim_end().lines().count(),
        2,
        "start line + one error line: {err}"
    );
    let last = err.trim_end().lines().last().unwrap();
    assert!(
        last.contains("diverged at step") && last.contains("loss"),
        "{last}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
    assert_eq!(summary["status"], "diverged");
    let step = summary["diverged_at_step"].as_u64().unwrap() as usize;
    assert!(last.contains(&format!("step {step}:")), "{last}");
    assert!(step > 1 && step < 200, "diverged at {step}");
    // Metrics up to the step before, and the last good checkpoint.
    let metrics = read(&dir.join("metrics.csv"));
    let last_logged: usize = metrics
        .lines()
        .last()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(last_logged, step - 1);
    // (An evaluation loss may already be inf — probability 0 on a test example — while the
    // weights are finite; NaN never reaches the log.)
    assert!(metrics.lines().skip(1).all(|l| !l.contains("NaN")));
    assert!(dir
        .join(format!("checkpoints/step-{:08}", step - 1))
        .is_dir());
    assert!(!dir.join(format!("checkpoints/step-{step:08}")).exists());
    no_temporaries_left(&dir);
}

/// Where a kill landed, read from what the run directory held at that moment.
fn phase(dir: &Path) -> &'static str {
    let hidden_checkpoint = std::fs::read_dir(dir.join("checkpoints"))
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        })
        .unwrap_or(false);
    if !dir.join("config.toml").exists() {
        "before the run started"
    } else if hidden_checkpoint {
        "while writing a checkpoint"
    } else if dir.join("summary.json").exists() {
        "after the end"
    } else if dir.join("activity").exists() {
        "while writing the final outputs"
    } else {
        "while training"
    }
}

/// Kills a run when `moment` first holds (polled as fast as possible), or after `timeout`.
fn kill_when(dir: &Path, moment: impl Fn(&Path) -> bool, timeout: Duration) -> &'static str {
    let mut child = spawn(&long_args(dir));
    let deadline = Instant::now() + timeout;
    while !moment(dir) && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        std::hint::spin_loop();
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    phase(dir)
}

/// After a kill: nothing half-written is visible, and `apical resume` (or, when the kill came
/// before the run wrote its config, a fresh `apical run`) ends with the reference metrics.
fn recover_and_compare(dir: &Path, expected: &str, what: &str) {
    if dir.exists() {
        assert_no_half_written_file(dir);
    }
    if !dir.join("config.toml").is_file() {
        ok(&run_args(&long_args(dir)));
    } else {
        let out = apical(&["resume", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{what}: {}", stderr(&out));
    }
    assert_eq!(read(&dir.join("metrics.csv")), expected, "{what}");
    let summary: serde_json::Value =
        serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
    assert_eq!(summary["status"], "completed", "{what}");
    no_temporaries_left(dir);
}

#[test]
fn kill_9_at_random_moments_then_resume_matches_the_uninterrupted_run() {
    let tmp = tempdir().unwrap();
    let started = Instant::now();
    let reference = reference(tmp.path());
    let span = started.elapsed().as_secs_f64();
    let expected = read(&reference.join("metrics.csv"));
    let mut delays = apical::nn::SeededRng::new(2026);
    let mut phases = Vec::new();
    for i in 0..12 {
        let dir = tmp.path().join(format!("killed-{i}"));
        // Uniform over the whole run, final outputs included (×1.1 catches the very end).
        let delay = Duration::from_secs_f64(delays.uniform() * span * 1.1);
        let landed = kill_when(&dir, |_| false, delay);
        phases.push(landed);
        recover_and_compare(&dir, &expected, &format!("kill after {delay:?} ({landed})"));
    }
    // Two kills aimed at the riskiest moments: a checkpoint being written, the final outputs.
    let writing_checkpoint = |dir: &Path| phase(dir) == "while writing a checkpoint";
    let final_outputs = |dir: &Path| dir.join("activity").exists();
    for (name, moment) in [
        ("checkpoint", &writing_checkpoint as &dyn Fn(&Path) -> bool),
        ("final", &final_outputs),
    ] {
        let dir = tmp.path().join(format!("aimed-{name}"));
        let landed = kill_when(&dir, moment, Duration::from_secs(30));
        phases.push(landed);
        recover_and_compare(&dir, &expected, &format!("kill aimed at {name} ({landed})"));
    }
    eprintln!("kills landed: {phases:?}");
    assert!(
        phases.iter().filter(|p| **p == "while training").count() >= 3,
        "most kills should land mid-run: {phases:?}"
    );
}

#[test]
fn a_damaged_newest_checkpoint_falls_back_to_the_previous_one() {
    let tmp = tempdir().unwrap();
    let reference = reference(tmp.path());
    let dir = tmp.path().join("cut");
    let mut args = long_args(&dir);
    args.extend(["--halt-after".into(), "300".into()]);
    let out = run_args(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let newest = dir.join("checkpoints/step-00000300");
    let model = newest.join("model.bpk");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let out = apical(&["resume", dir.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("step-00000300") && err.contains("model.bpk"),
        "names the file: {err}"
    );
    assert!(
        err.contains("older checkpoint") && err.contains("step-00000275"),
        "{err}"
    );
    assert_eq!(
        read(&dir.join("metrics.csv")),
        read(&reference.join("metrics.csv"))
    );

    // Every checkpoint damaged: exit 2, nothing trained.
    let broken = tmp.path().join("broken");
    let mut args = long_args(&broken);
    args.extend(["--halt-after".into(), "100".into()]);
    run_args(&args);
    for entry in std::fs::read_dir(broken.join("checkpoints")).unwrap() {
        std::fs::write(entry.unwrap().path().join("optimizer.bin"), b"junk").unwrap();
    }
    let before = read(&broken.join("metrics.csv"));
    let out = apical(&["resume", broken.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no usable checkpoint"), "{err}");
    assert_eq!(read(&broken.join("metrics.csv")), before);
}

fn wait_for(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {}",
            path.display()
        );
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigint_and_sigterm_checkpoint_and_exit_130_and_143() {
    let tmp = tempdir().unwrap();
    let reference = reference(tmp.path());
    let mut finished_first = Vec::new();
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tmp.path().join(signal);
        let mut child = spawn(&long_args(&dir));
        wait_for(&dir.join("metrics.csv"), &mut child);
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            // The signal arrived after the last step: the run had already finished.
            finished_first.push(signal);
            continue;
        }
        assert_eq!(out.status.code(), Some(code), "SIG{signal}: {err}");
        assert!(
            err.contains(&format!("stopped by signal {}", code - 128)),
            "{err}"
        );
        assert!(err.contains("apical resume"), "{err}");
        assert!(!dir.join("summary.json").exists());
        let out = apical(&["resume", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            read(&dir.join("metrics.csv")),
            read(&reference.join("metrics.csv"))
        );
        no_temporaries_left(&dir);
    }
    assert!(
        finished_first.len() < 2,
        "both runs ended before their signal arrived; nothing was tested"
    );
}

/// A directory no process can write into, even as root: a read-only tmpfs when this test may
/// mount one, else a chmod 555 directory (enough without root), else a path under /proc.
fn read_only_dir(tmp: &Path) -> (PathBuf, bool) {
    let dir = tmp.join("read-only");
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "ro,size=16k",
            "tmpfs",
            dir.to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if mounted {
        return (dir, true);
    }
    let _ = Command::new("chmod")
        .args(["555", dir.to_str().unwrap()])
        .status();
    if std::fs::write(dir.join("probe"), b"x").is_err() {
        return (dir, false);
    }
    let _ = std::fs::remove_file(dir.join("probe"));
    (PathBuf::from("/proc/self/apical-read-only"), false)
}

#[test]
fn unwritable_or_full_output_locations_fail_cleanly() {
    let tmp = tempdir().unwrap();
    let (read_only, mounted) = read_only_dir(tmp.path());
    let out_dir = read_only.join("run");
    let out = run_small(&out_dir, &[]);
    let err = stderr(&out);
    if mounted {
        let _ = Command::new("umount").arg(&read_only).status();
    }
    assert!(matches!(out.status.code(), Some(1 | 2)), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("run"), "names the location: {err}");
    assert!(!out_dir.exists());

    // A full disk, as a file-size limit (blocks of 1 KiB in sh): the first write past it
    // fails with an error naming the file; no partial file is left.
    let full = tmp.path().join("full");
    let cmd = format!(
        "ulimit -f 24; exec '{}' run configs/quickstart.toml --set training.steps=40 --set model.hidden=[256] --out '{}'",
        env!("CARGO_BIN_EXE_apical"),
        full.display()
    );
    let out = Command::new("sh")
        .args(["-c", &cmd])
        .current_dir(root())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot write") && err.contains("too large"),
        "{err}"
    );
    assert!(!full.join("summary.json").exists());
    assert_no_half_written_file(&full);
    no_temporaries_left(&full);
}

#[test]
fn bad_npy_inputs_to_analyze_exit_2_naming_the_file() {
    let tmp = tempdir().unwrap();
    let signal = tmp.path().join("signal.npy");
    save_f64(&signal, &[4], &[0.0, 0.0, 1.0, -1.0]);
    let good: Vec<f64> = (0..12).map(|i| i as f64).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // numpy writes ragged lists as object arrays (pickled)
        ("ragged", numpy_bytes("|O", &[4], &[0u8; 32])),
        ("dtype", numpy_bytes("<c16", &[4, 3], &[0u8; 4 * 3 * 16])),
        ("truncated", {
            let body: Vec<u8> = good.iter().flat_map(|v| v.to_le_bytes()).collect();
            numpy_bytes("<f8", &[4, 3], &body[..body.len() - 5])
        }),
        ("nan", {
            let mut v = good.clone();
            v[5] = f64::NAN;
            numpy_bytes(
                "<f8",
                &[4, 3],
                &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
            )
        }),
    ];
    for (name, bytes) in cases {
        let path = tmp.path().join(format!("{name}.npy"));
        std::fs::write(&path, bytes).unwrap();
        let out = apical(&[
            "analyze",
            "correlations",
            "--responses",
            path.to_str().unwrap(),
            "--signal",
            signal.to_str().unwrap(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(&format!("{name}.npy")), "{name}: {err}");
    }
}

#[test]
fn a_held_run_directory_refuses_run_and_resume() {
    let tmp = tempdir().unwrap();
    // Another process's hold, deterministically: this test takes the lock itself.
    let fresh = tmp.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let held = apical_store::RunLock::acquire(&fresh).unwrap();
    let out = run_small(&fresh, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("in use by another apical process"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(&fresh)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [".lock"], "nothing written");
    drop(held);

    let done = tmp.path().join("halted");
    let out = run_small(&done, &["--halt-after", "40"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let before = read(&done.join("metrics.csv"));
    let held = apical_store::RunLock::acquire(&done).unwrap();
    let out = apical(&["resume", done.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("in use by another apical process"));
    assert_eq!(read(&done.join("metrics.csv")), before);
    // A second `run` into a directory whose run is in progress names the holder too (not
    // "already exists … continue it with apical resume").
    let out = run_small(&done, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "in use by another apical process (pid {})",
            std::process::id()
        )),
        "{err}"
    );
    assert_eq!(read(&done.join("metrics.csv")), before);
    drop(held);
    ok(&apical(&["resume", done.to_str().unwrap()]));
}

#[test]
fn a_second_writer_on_the_same_run_directory_is_refused() {
    let tmp = tempdir().unwrap();
    let reference = reference(tmp.path());
    let dir = tmp.path().join("shared");
    let mut first = spawn(&long_args(&dir));
    wait_for(&dir.join("config.toml"), &mut first);
    let second = run_args(&long_args(&dir));
    let resume = apical(&["resume", dir.to_str().unwrap()]);
    let finished = first.wait_with_output().unwrap();
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(dir.to_str().unwrap()),
        "{}",
        stderr(&second)
    );
    // Unless the first had already finished, resuming it while it runs is refused too.
    if !resume.status.success() {
        assert_eq!(resume.status.code(), Some(2), "{}", stderr(&resume));
        assert!(
            stderr(&resume).contains("in use by another apical process"),
            "{}",
            stderr(&resume)
        );
    }
    assert_eq!(
        read(&dir.join("metrics.csv")),
        read(&reference.join("metrics.csv"))
    );
    no_temporaries_left(&dir);
}

/// A network too large for the memory left is refused before anything is written (it used to
/// abort in the allocator after `config.toml` was written, and `resume` repeated the crash).
/// `APICAL_MEMORY_LIMIT` stands in for a small machine.
#[test]
fn a_network_too_large_for_memory_is_refused_before_anything_is_written() {
    let tmp = tempdir().unwrap();
    let small_machine = [("APICAL_MEMORY_LIMIT", "2000000000")];
    let run = |out: &Path, set: &str| {
        apical_env(
            &[
                "run",
                "configs/quickstart.toml",
                "--set",
                set,
                "--out",
                out.to_str().unwrap(),
            ],
            &small_machine,
        )
    };
    let dir = tmp.path().join("huge");
    let out = run(&dir, "model.hidden=[20000, 20000]");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    // 64 → 20000 → 20000 → 10, weights and biases.
    let params = 64 * 20000 + 20000 + 20000 * 20000 + 20000 + 20000 * 10 + 10;
    assert!(
        err.contains("model.hidden") && err.contains(&format!("{params} parameters")),
        "{err}"
    );
    assert!(!dir.exists());
    // The quickstart itself fits the same limit.
    let small = tmp.path().join("small");
    ok(&run(&small, "training.steps=5"));
    // `resume` checks the same before it builds anything (it used to repeat the crash).
    let halted = tmp.path().join("halted");
    let out = apical_env(
        &[
            "run",
            "configs/quickstart.toml",
            "--set",
            "training.steps=40",
            "--set",
            "training.checkpoint_every=20",
            "--halt-after",
            "20",
            "--out",
            halted.to_str().unwrap(),
        ],
        &small_machine,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let config = halted.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("hidden = [128, 64]", "hidden = [20000, 20000]"),
    )
    .unwrap();
    let out = apical_env(&["resume", halted.to_str().unwrap()], &small_machine);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("model.hidden"), "{}", stderr(&out));
}
