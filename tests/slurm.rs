//! The Slurm executor against a real single-node Slurm (`.ci/slurm-up` starts one; CI sets
//! APICAL_REQUIRE_SLURM=1). Without a reachable Slurm these tests say so and skip, except the
//! dry run, which needs none.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn slurm_available() -> bool {
    let up = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| ["idle", "mixed", "allocated"].contains(&l.trim()))
        });
    if !up {
        assert!(
            std::env::var("APICAL_REQUIRE_SLURM").as_deref() != Ok("1"),
            "APICAL_REQUIRE_SLURM=1 but no Slurm answers (start one with: eval \"$(.ci/slurm-up)\")"
        );
        eprintln!("skipping: no Slurm answers here (start one with: eval \"$(.ci/slurm-up)\")");
    }
    up
}

/// The same 8-point sweep for both executors.
fn write_sweep(dir: &Path) -> PathBuf {
    let file = dir.join("eight.toml");
    std::fs::write(
        &file,
        format!(
            r#"base = "{}"
[set]
"training.steps" = 100
"training.eval_every" = 50
"training.checkpoint_every" = 50
"model.hidden" = [32]
"logging.probe_examples" = 0
[grid]
"training.learning_rate" = [0.001, 0.003]
"training.batch_size" = [16, 32]
"training.seed" = [0, 1]
"#,
            root().join("configs/quickstart.toml").display()
        ),
    )
    .unwrap();
    file
}

/// results.csv without the columns that measure time.
fn without_timings(text: &str) -> Vec<Vec<String>> {
    let rows = apical_experiments::sweep::csv::parse(text);
    let drop: Vec<usize> = rows[0]
        .iter()
        .enumerate()
        .filter(|(_, c)| *c == "wall_seconds" || *c == "steps_per_second")
        .map(|(i, _)| i)
        .collect();
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, c)| c)
                .collect()
        })
        .collect()
}

#[test]
fn a_dry_run_writes_the_array_script_and_submits_nothing() {
    let tmp = tempdir().unwrap();
    let file = write_sweep(tmp.path());
    let out = tmp.path().join("s");
    let o = apical(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--executor",
        "slurm",
        "--dry-run",
        "--partition",
        "cpu",
        "--time",
        "00:05:00",
        "--cpus-per-task",
        "1",
        "--mem",
        "1G",
        "--max-parallel",
        "3",
        "--sbatch-arg=--qos=short",
    ]);
    ok(&o);
    let script = read(&out.join("slurm/array.sbatch"));
    for line in [
        "#SBATCH --array=0-7%3",
        "#SBATCH --partition=cpu",
        "#SBATCH --time=00:05:00",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --mem=1G",
        "#SBATCH --qos=short",
        "/slurm/logs/%A_%a.out",
        "sweep-task",
    ] {
        assert!(script.contains(line), "{line} missing from\n{script}");
    }
    assert!(
        script.contains(env!("CARGO_BIN_EXE_apical")),
        "absolute binary path"
    );
    assert_eq!(read(&out.join("slurm/tasks.txt")).lines().count(), 8);
    assert!(!out.join("slurm/jobs.txt").exists(), "nothing submitted");
    assert!(stdout(&o).contains("dry run"));
}

#[test]
fn the_slurm_executor_gives_the_local_executors_results() {
    if !slurm_available() {
        return;
    }
    let tmp = tempdir().unwrap();
    let file = write_sweep(tmp.path());
    let local = tmp.path().join("local");
    ok(&apical(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        local.to_str().unwrap(),
        "--jobs",
        "2",
    ]));
    ok(&apical(&["collect", local.to_str().unwrap()]));

    let cluster = tmp.path().join("cluster");
    let o = apical(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        cluster.to_str().unwrap(),
        "--executor",
        "slurm",
        "--max-parallel",
        "4",
        "--wait",
        "--poll",
        "0.5",
    ]);
    ok(&o);
    let text = stdout(&o);
    assert!(text.contains("submitted array job"), "{text}");
    assert!(text.contains("8 points: 8 completed"), "{text}");
    assert!(
        text.contains("(completed)"),
        "the dependent collect job ran: {text}"
    );
    // The collect job wrote the table; it equals the local one but for the timings.
    assert_eq!(
        without_timings(&read(&cluster.join("results.csv"))),
        without_timings(&read(&local.join("results.csv")))
    );
    assert_eq!(
        read(&cluster.join("aggregate.csv")),
        read(&local.join("aggregate.csv"))
    );
    // Resubmitting submits only unfinished points: none.
    let again = apical(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        cluster.to_str().unwrap(),
        "--executor",
        "slurm",
    ]);
    ok(&again);
    assert!(
        stdout(&again).contains("nothing to submit"),
        "{}",
        stdout(&again)
    );
    let status = apical(&["sweep", cluster.to_str().unwrap(), "--status"]);
    ok(&status);
    assert!(
        stdout(&status).contains("8 points: 8 completed"),
        "{}",
        stdout(&status)
    );
}

#[test]
fn a_diverged_point_is_a_result_and_collect_still_runs() {
    if !slurm_available() {
        return;
    }
    let tmp = tempdir().unwrap();
    let file = tmp.path().join("diverge.toml");
    std::fs::write(
        &file,
        format!(
            r#"base = "{}"
[set]
"training.steps" = 200
"training.eval_every" = 1
"training.checkpoint_every" = 1
"model.hidden" = [32]
"model.activation" = "linear"
"optimizer.kind" = "sgd"
"logging.probe_examples" = 0
[grid]
"training.learning_rate" = [0.01, 3.0]
"#,
            root().join("configs/quickstart.toml").display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("s");
    let o = apical(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--executor",
        "slurm",
        "--wait",
        "--poll",
        "0.5",
    ]);
    ok(&o);
    let text = stdout(&o);
    assert!(text.contains("2 points: 1 completed, 1 diverged"), "{text}");
    assert!(
        text.contains("(completed)"),
        "collect ran after the array: {text}"
    );
    let aggregate = read(&out.join("aggregate.csv"));
    assert!(
        aggregate.lines().any(|l| l.starts_with("3.0,0,1,0")),
        "{aggregate}"
    );
}
