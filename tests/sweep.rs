//! `apical sweep` and `apical collect` end to end: checked sweep files, resumable local runs
//! (also after the sweep and its workers are killed), failed points, and the tables.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A 2 × 2 sweep of the quickstart, short runs.
fn write_sweep(dir: &Path, extra: &str) -> PathBuf {
    let file = dir.join("small.toml");
    let base = root().join("configs/quickstart.toml");
    std::fs::write(
        &file,
        format!(
            r#"base = "{}"
[set]
"training.steps" = 120
"training.eval_every" = 20
"training.checkpoint_every" = 20
"model.hidden" = [32]
"logging.probe_examples" = 0
[grid]
"training.learning_rate" = [0.001, 0.003]
"training.seed" = [0, 1]
{extra}"#,
            base.display()
        ),
    )
    .unwrap();
    file
}

fn sweep(file: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    apical(&args)
}

fn point_dirs(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn bad_sweep_files_are_refused_before_anything_is_written() {
    let tmp = tempdir().unwrap();
    let out = tmp.path().join("out");
    let cases = [
        (
            "\"training.batch_size\" = 8\n",
            "grid.training.batch_size",
            "non-empty array",
        ),
        (
            "\"training.lerning_rate\" = [1]\n",
            "training.lerning_rate",
            "unknown field",
        ),
        (
            "\"training.batch_size\" = [8, 0]\n",
            "training.batch_size",
            "point learning_rate=0.001,seed=0,batch_size=0",
        ),
    ];
    for (grid_line, key, needle) in cases {
        let file = write_sweep(tmp.path(), grid_line);
        let o = sweep(&file, &out, &["--jobs", "1"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("key `{key}`")), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(!out.exists(), "nothing written");
    }
    let file = tmp.path().join("unknown.toml");
    std::fs::write(&file, "base = \"configs/quickstart.toml\"\n[grids]\n").unwrap();
    let o = sweep(&file, &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("key `grids`"), "{}", stderr(&o));
}

#[test]
fn a_sweep_runs_every_point_skips_them_when_rerun_and_collects_one_table() {
    let tmp = tempdir().unwrap();
    let file = write_sweep(tmp.path(), "");
    let out = tmp.path().join("s");
    let first = sweep(&file, &out, &["--jobs", "2"]);
    ok(&first);
    assert!(stdout(&first).contains("4 finished now, 0 finished before, 0 failed"));
    assert_eq!(
        point_dirs(&out),
        [
            "learning_rate=0.001,seed=0",
            "learning_rate=0.001,seed=1",
            "learning_rate=0.003,seed=0",
            "learning_rate=0.003,seed=1"
        ]
    );
    let points = read(&out.join("points.csv"));
    assert!(
        points.starts_with("point,training.learning_rate,training.seed,overrides\n"),
        "{points}"
    );
    assert!(read(&out.join("sweep.toml")).contains("[grid]"));
    let again = sweep(&file, &out, &["--jobs", "2"]);
    ok(&again);
    assert!(
        stdout(&again).contains("0 finished now, 4 finished before"),
        "{}",
        stdout(&again)
    );
    let status = sweep(&file, &out, &["--status"]);
    ok(&status);
    assert!(
        stdout(&status).contains("4 points: 4 completed"),
        "{}",
        stdout(&status)
    );

    let collected = apical(&["collect", out.to_str().unwrap()]);
    ok(&collected);
    let results = read(&out.join("results.csv"));
    let header = results.lines().next().unwrap();
    assert!(
        header.starts_with("point,training.learning_rate,training.seed,status,"),
        "{header}"
    );
    for column in ["test_accuracy", "test_loss", "wall_seconds"] {
        assert!(header.split(',').any(|c| c == column), "{header}");
    }
    assert_eq!(results.lines().count(), 5);
    let aggregate = read(&out.join("aggregate.csv"));
    let mut lines = aggregate.lines();
    assert_eq!(
        lines.next().unwrap(),
        "training.learning_rate,n,n_diverged,n_not_finished,test_accuracy_mean,test_accuracy_sd,test_accuracy_ci_low,test_accuracy_ci_high,test_loss_mean,test_loss_sd,test_loss_ci_low,test_loss_ci_high"
    );
    // The mean is the mean of the two seeds' test accuracies in results.csv.
    let table = apical_experiments::sweep::csv::parse(&results);
    let acc_col = table[0].iter().position(|c| c == "test_accuracy").unwrap();
    let accs: Vec<f64> = table[1..]
        .iter()
        .filter(|row| row[1] == "0.001")
        .map(|row| row[acc_col].parse().unwrap())
        .collect();
    assert_eq!(accs.len(), 2);
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(row[0], "0.001");
    assert_eq!(row[1], "2");
    assert_eq!(
        (row[2], row[3]),
        ("0", "0"),
        "no diverged or unfinished runs"
    );
    let mean: f64 = row[4].parse().unwrap();
    assert!(
        (mean - (accs[0] + accs[1]) / 2.0).abs() < 1e-12,
        "{mean} vs {accs:?}"
    );
    // Two seeds give no interval (an accuracy's t-interval used to leave [0, 1]); it says so.
    assert_eq!((row[6], row[7]), ("", ""), "{row:?}");
    assert!(
        stderr(&collected).contains("fewer than 3 finished runs in group(s) 0.001"),
        "{}",
        stderr(&collected)
    );
    assert_eq!(
        &std::fs::read(out.join("test_accuracy.png")).unwrap()[..4],
        b"\x89PNG"
    );

    let o = apical(&["collect", out.to_str().unwrap(), "--by", "model.kind"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a swept key"));
    let o = apical(&["collect", out.to_str().unwrap(), "--metric", "name"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a numeric field"), "{}", stderr(&o));
    // Flags of the other executor are refused by name; --status writes nothing.
    let o = sweep(&file, &out, &["--partition", "cpu"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--partition belongs to the Slurm executor"),
        "{}",
        stderr(&o)
    );
    let fresh = tmp.path().join("never-run");
    let o = sweep(&file, &fresh, &["--status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!fresh.exists(), "--status created {}", fresh.display());
    // --status of another sweep file against this directory is refused (it used to list every
    // point as new).
    let other_dir = tmp.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = write_sweep(&other_dir, "\"training.batch_size\" = [16, 32]\n");
    let o = sweep(&other, &out, &["--status"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("holds a different sweep"),
        "{}",
        stderr(&o)
    );
    // A finished run is not resumed again: its summary stays as it was.
    let run = out.join("runs/learning_rate=0.001,seed=0");
    let summary = read(&run.join("summary.json"));
    let o = apical(&["resume", run.to_str().unwrap()]);
    ok(&o);
    assert!(stdout(&o).contains("nothing to resume"), "{}", stdout(&o));
    assert_eq!(read(&run.join("summary.json")), summary);
}

#[test]
fn a_failing_point_does_not_stop_the_others_and_is_retried_on_request() {
    let tmp = tempdir().unwrap();
    // The idx task needs files: the point that names a missing directory fails when it runs.
    let base = tmp.path().join("base.toml");
    std::fs::write(&base, "[task]\nkind = \"digits\"\n").unwrap();
    let file = write_sweep(
        tmp.path(),
        "[conditions.digits]\n\"task.kind\" = \"digits\"\n[conditions.missing]\n\"task.kind\" = \"idx\"\n\"task.path\" = \"/nonexistent/mnist\"\n",
    );
    let text = read(&file).replace(
        &root().join("configs/quickstart.toml").display().to_string(),
        &base.display().to_string(),
    );
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("s");
    let o = sweep(&file, &out, &["--jobs", "2"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("4 point(s) of the sweep"), "{err}");
    assert!(err.contains("learning_rate=0.001,seed=0,missing"), "{err}");
    assert!(stdout(&o).contains("4 finished now"), "{}", stdout(&o));
    assert!(
        read(&out.join("failed/learning_rate=0.001,seed=0,missing.txt"))
            .contains("/nonexistent/mnist")
    );
    // Rerun: the failed points are reported, not rerun; with --retry-failed they run again.
    let o = sweep(&file, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("0 finished now, 4 finished before, 4 failed"),
        "{}",
        stdout(&o)
    );
    let log = out.join("logs/learning_rate=0.001,seed=0,missing.log");
    let attempts = read(&log).matches("error:").count();
    let o = sweep(&file, &out, &["--retry-failed"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(read(&log).matches("error:").count(), attempts + 1);
}

#[test]
fn killing_the_sweep_and_its_workers_then_rerunning_gives_the_uninterrupted_metrics() {
    let tmp = tempdir().unwrap();
    let file = write_sweep(tmp.path(), "");
    let reference = tmp.path().join("reference");
    let started = std::time::Instant::now();
    ok(&sweep(&file, &reference, &["--jobs", "2"]));
    let span = started.elapsed().as_secs_f64();
    let mut rng = apical::nn::SeededRng::new(9);
    let mut interrupted = 0;
    for attempt in 0..3 {
        let out = tmp.path().join(format!("killed-{attempt}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_apical"))
            .args([
                "sweep",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--jobs",
                "2",
            ])
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs_f64(span * (0.1 + 0.8 * rng.uniform())));
        // SIGKILL to the whole group: the sweep and every worker.
        let group = format!("-{}", child.id());
        let killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .status()
            .unwrap();
        assert!(killed.success());
        let _ = child.wait();
        let rerun = sweep(&file, &out, &["--jobs", "2"]);
        ok(&rerun);
        if !stdout(&rerun).contains(" 0 finished now") {
            interrupted += 1;
        }
        for point in point_dirs(&reference) {
            assert_eq!(
                read(&out.join("runs").join(&point).join("metrics.csv")),
                read(&reference.join("runs").join(&point).join("metrics.csv")),
                "attempt {attempt}, point {point}"
            );
        }
    }
    assert!(
        interrupted > 0,
        "every kill came after the sweep had finished; nothing was tested"
    );
}

#[test]
fn a_point_that_failed_part_way_resumes_on_retry_and_an_edited_base_is_refused() {
    let tmp = tempdir().unwrap();
    let base = tmp.path().join("base.toml");
    std::fs::write(&base, read(&root().join("configs/quickstart.toml"))).unwrap();
    let file = write_sweep(tmp.path(), "");
    let text = read(&file).replace(
        &root().join("configs/quickstart.toml").display().to_string(),
        &base.display().to_string(),
    );
    std::fs::write(&file, text).unwrap();
    let reference = tmp.path().join("reference");
    ok(&sweep(&file, &reference, &["--jobs", "2"]));

    // A point stopped part-way (checkpoint at step 60) whose attempt was recorded as failed.
    let out = tmp.path().join("s");
    ok(&sweep(&file, &out, &["--jobs", "2"]));
    let point = "learning_rate=0.001,seed=0";
    let run = out.join("runs").join(point);
    std::fs::remove_file(run.join("summary.json")).unwrap();
    for step in [80, 100, 120] {
        let _ = std::fs::remove_dir_all(run.join(format!("checkpoints/step-{step:08}")));
    }
    std::fs::create_dir_all(out.join("failed")).unwrap();
    std::fs::write(
        out.join("failed").join(format!("{point}.txt")),
        "error: simulated\n",
    )
    .unwrap();
    let o = sweep(&file, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "reported, not rerun: {}",
        stderr(&o)
    );
    let o = sweep(&file, &out, &["--retry-failed"]);
    ok(&o);
    assert!(stdout(&o).contains("1 finished now"), "{}", stdout(&o));
    assert!(!out.join("failed").join(format!("{point}.txt")).exists());
    assert_eq!(
        read(&run.join("metrics.csv")),
        read(&reference.join("runs").join(point).join("metrics.csv")),
        "resumed from its checkpoint, not restarted elsewhere"
    );

    // Editing the base changes every point's config: the directory is refused.
    std::fs::write(
        &base,
        read(&base).replace("noise_std = 0.0", "noise_std = 0.01"),
    )
    .unwrap();
    let o = sweep(&file, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("different config"), "{}", stderr(&o));
}

#[test]
fn diverged_runs_are_finished_and_counted_apart_in_the_aggregate() {
    let tmp = tempdir().unwrap();
    let file = write_sweep(tmp.path(), "");
    let text = read(&file)
        .replace(
            "\"training.learning_rate\" = [0.001, 0.003]",
            "\"training.learning_rate\" = [0.01, 3.0]",
        )
        .replace(
            "[set]\n",
            "[set]\n\"model.activation\" = \"linear\"\n\"optimizer.kind\" = \"sgd\"\n",
        );
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("s");
    let o = sweep(&file, &out, &["--jobs", "2"]);
    ok(&o);
    assert!(stderr(&o).contains("diverged at step"), "{}", stderr(&o));
    ok(&apical(&["collect", out.to_str().unwrap()]));
    let aggregate = read(&out.join("aggregate.csv"));
    let rows: Vec<Vec<&str>> = aggregate
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows[0][..4], ["0.01", "2", "0", "0"], "{aggregate}");
    assert_eq!(rows[1][..4], ["3.0", "0", "2", "0"], "{aggregate}");
    assert_eq!(rows[1][4], "", "no statistics over diverged runs");
}
