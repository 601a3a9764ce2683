//! What a run records of where, when and with what it was made (`summary.json`'s
//! `provenance`), and the UTC dates it and the run directories' names are written with.

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

/// (year, month, day, hour, minute, second) in UTC for seconds since the Unix epoch (the
/// proleptic Gregorian calendar; days to civil date after Howard Hinnant's algorithm).
fn civil_utc(unix: u64) -> (i64, i64, i64, u64, u64, u64) {
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
    (year, month, day, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// `2026-12-06T04:41:58Z`.
pub fn iso8601_utc(unix: u64) -> String {
    let (y, mo, d, h, mi, s) = civil_utc(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20261206-044158` (run directory names).
pub(crate) fn compact_utc(unix: u64) -> String {
    let (y, mo, d, h, mi, s) = civil_utc(unix);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_utc(1_796_528_518), "2026-12-06T03:41:58Z");
        assert_eq!(compact_utc(1_796_528_518), "20261206-034158");
    }
}
