//! One run: the experiment config, the training loops and everything a run writes while it
//! trains (checkpoints, recordings, `training.init_from`).
//!
//! Text becomes a checked [`ExperimentConfig`] (unknown keys, wrong types and impossible values
//! are refused with the key named), then [`start`] or [`resume`] trains and writes a run
//! directory (its layout: [`apical_store::RunDir`]). Every file is written atomically
//! (temporary file + rename).
#![warn(missing_docs)]

pub mod checkpoint;
mod config;
pub mod diagnostics;
mod error;
pub mod init_from;
pub mod protocol;
pub mod recording;
pub mod runner;
mod session;
mod summary;

pub use apical_nn::{init_device, wgpu_compiled, BackendError, BackendKind};
pub use apical_store::{
    write_atomic, RunDir, RunLock, RunStatus, SignalAccuracy, StoreError, Summary,
};
pub use apical_tasks::Split;
pub use config::*;
pub use error::*;
pub use protocol::{Protocol, ProtocolKind};
pub use runner::{
    auto_threads, build_data, check_init, check_memory, check_out_dir, check_resumable,
    memory_needed, resume, start, RunOptions, RunSummary, BYTES_PER_PARAMETER,
};
pub use session::Session;
pub use summary::summary_of_run;

/// apical's version.
pub const APICAL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this build comes from ("unknown" outside a git checkout).
pub const GIT_COMMIT: &str = env!("APICAL_GIT_COMMIT");

/// The provenance a run records, from what the caller read of its machine (`host`, `cpus`,
/// `threads`), its command line and the session's start (seconds since the Unix epoch).
pub fn provenance(
    command: String,
    host: String,
    cpus: usize,
    threads: usize,
    started_unix: u64,
) -> apical_store::Provenance {
    apical_store::Provenance {
        apical_version: APICAL_VERSION.to_string(),
        git_commit: GIT_COMMIT.to_string(),
        command,
        host,
        platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        cpus,
        threads,
        adapter: None,
        started_at: iso8601_utc(started_unix),
    }
}

/// `2026-12-06T04:41:58Z` for seconds since the Unix epoch (the proleptic Gregorian calendar;
/// days to civil date after Howard Hinnant's algorithm).
pub fn iso8601_utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod provenance_tests {
    #[test]
    fn iso8601_dates() {
        assert_eq!(super::iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso8601_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::iso8601_utc(1_796_528_518), "2026-12-06T03:41:58Z");
    }
}
