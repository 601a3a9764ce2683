//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../crates/apical-store/src/testdir.rs"]
mod testdir;
pub use testdir::tempdir;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Whether python3 runs here (the experiments' reports are written by it). Without it a test
/// of an experiment says so and stops — and fails under `APICAL_REQUIRE_PYTHON=1`, as CI sets.
pub fn python3_present(what: &str) -> bool {
    if Command::new("python3").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("APICAL_REQUIRE_PYTHON").is_none(),
        "python3 not found, and APICAL_REQUIRE_PYTHON is set"
    );
    eprintln!("python3 not found: {what} cannot be written; skipped");
    false
}

/// Runs the `apical` binary with `args` in the workspace root.
pub fn apical(args: &[&str]) -> Output {
    apical_env(args, &[])
}

/// Runs the `apical` binary with extra environment variables.
pub fn apical_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apical"));
    cmd.args(args).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the apical binary runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts success, printing stderr otherwise.
pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "apical failed ({:?}):\n{}",
        out.status.code(),
        stderr(out)
    );
}

/// The settings that make the quickstart small enough for a test.
pub const SMALL: &[&str] = &[
    "--set",
    "training.steps=60",
    "--set",
    "training.eval_every=20",
    "--set",
    "training.checkpoint_every=20",
    "--set",
    "model.hidden=[32]",
    "--set",
    "logging.probe_examples=50",
];

/// `apical run configs/quickstart.toml` with SMALL, extra args and `--out dir`.
pub fn run_small(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "configs/quickstart.toml"];
    args.extend_from_slice(SMALL);
    args.extend_from_slice(extra);
    let dir = dir.to_str().unwrap().to_string();
    args.push("--out");
    args.push(&dir);
    apical(&args)
}

/// `.npy` bytes exactly as `numpy.save` writes them (format 1.0, C order, header padded to a
/// multiple of 64 bytes), independent of apical's own writer.
pub fn numpy_bytes(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

/// float64 array file.
pub fn save_f64(path: &Path, shape: &[usize], data: &[f64]) {
    let body: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, numpy_bytes("<f8", shape, &body)).unwrap();
}

/// float32 array file.
pub fn save_f32(path: &Path, shape: &[usize], data: &[f32]) {
    let body: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, numpy_bytes("<f4", shape, &body)).unwrap();
}

/// int64 array file.
pub fn save_i64(path: &Path, shape: &[usize], data: &[i64]) {
    let body: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, numpy_bytes("<i8", shape, &body)).unwrap();
}

/// IDX bytes (LeCun's format) of `n` images of `side`×`side` unsigned bytes.
pub fn idx_images(n: usize, side: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for w in [0x0803u32, n as u32, side as u32, side as u32] {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// IDX bytes of labels (unsigned bytes).
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for w in [0x0801u32, labels.len() as u32] {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out.extend_from_slice(labels);
    out
}
