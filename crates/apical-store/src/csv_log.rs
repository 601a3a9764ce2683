//! The one CSV log every per-evaluation table of a run uses (`metrics.csv`, `diagnostics.csv`,
//! `dendrites.csv`): typed rows, a fixed header, floats in shortest round-trip form, read back
//! exactly on resume and truncated to the checkpoint's step.

use std::fmt::Write as _;
use std::path::Path;

use thiserror::Error;

use crate::{write_atomic, StoreError};

/// A row of a CSV log.
pub trait CsvRow: Sized + Clone {
    /// Column names, in order.
    const HEADER: &'static [&'static str];
    /// Updates completed when the row was logged.
    fn step(&self) -> usize;
    /// The row's fields, in header order.
    fn fields(&self) -> Vec<String>;
    /// Parses fields written by [`fields`](Self::fields); `None` if one does not parse.
    fn parse(fields: &[&str]) -> Option<Self>;
}

/// A log file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CsvError {
    /// The first line is not the expected header.
    #[error("expected header {expected:?}, found {found:?}")]
    Header {
        /// The header the log type writes.
        expected: String,
        /// The first line found.
        found: String,
    },
    /// A row has the wrong number of fields or a field does not parse.
    #[error("line {line}: expected {expected}, got {text:?}")]
    Row {
        /// 1-based line number.
        line: usize,
        /// The header, naming the fields expected.
        expected: String,
        /// The line.
        text: String,
    },
}

/// All rows of one log, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvLog<R> {
    /// The rows.
    pub rows: Vec<R>,
}

impl<R> Default for CsvLog<R> {
    fn default() -> Self {
        Self { rows: Vec::new() }
    }
}

impl<R: CsvRow> CsvLog<R> {
    /// The header line.
    pub fn header() -> String {
        R::HEADER.join(",")
    }

    /// The log as CSV text (header + rows).
    pub fn to_csv(&self) -> String {
        let mut out = Self::header();
        out.push('\n');
        for row in &self.rows {
            let _ = writeln!(out, "{}", row.fields().join(","));
        }
        out
    }

    /// Parses text written by [`to_csv`](Self::to_csv).
    pub fn from_csv(text: &str) -> Result<Self, CsvError> {
        let header = Self::header();
        let mut lines = text.lines();
        let first = lines.next().unwrap_or("").trim();
        if first != header {
            return Err(CsvError::Header {
                expected: header,
                found: first.to_string(),
            });
        }
        let rows = lines
            .enumerate()
            .map(|(i, line)| {
                let fields: Vec<&str> = line.split(',').collect();
                (fields.len() == R::HEADER.len())
                    .then(|| R::parse(&fields))
                    .flatten()
                    .ok_or_else(|| CsvError::Row {
                        line: i + 2,
                        expected: header.clone(),
                        text: line.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rows })
    }

    /// Drops rows logged after `step` (resuming from a checkpoint at `step`).
    pub fn truncate_after(&mut self, step: usize) {
        self.rows.retain(|r| r.step() <= step);
    }

    /// Writes the log to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<(), StoreError> {
        write_atomic(path, self.to_csv().as_bytes())
    }

    /// The reload helper of `apical resume`: reads `path` (an absent file is an empty log) and
    /// keeps the rows up to `step`.
    pub fn reload(path: &Path, step: usize) -> Result<Self, StoreError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(StoreError::Read {
                    path: path.to_path_buf(),
                    source: source.into(),
                })
            }
        };
        let mut log = Self::from_csv(&text).map_err(|source| StoreError::Resume {
            path: path.to_path_buf(),
            source: source.into(),
        })?;
        log.truncate_after(step);
        Ok(log)
    }
}

/// Parses one field.
pub fn field<T: std::str::FromStr>(text: &str) -> Option<T> {
    text.parse().ok()
}
