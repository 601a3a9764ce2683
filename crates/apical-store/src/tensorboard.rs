//! TensorBoard event files, through tensorboard-rs's record framing and summaries.
//!
//! tensorboard-rs's own writer appends from a background thread and panics on I/O errors; here
//! the whole event file is rebuilt from the metric log and written atomically at each flush, so
//! errors are reported and a killed run never leaves a torn record.

use std::path::{Path, PathBuf};

use protobuf::Message;
use tensorboard_proto::event::Event;
use tensorboard_rs::record_writer::RecordWriter;
use tensorboard_rs::summary::scalar;

use crate::{write_atomic, MetricLog, StoreError};

/// An event file holding the run's scalars (`<split>/loss`, `<split>/accuracy`).
#[derive(Debug, Clone)]
pub struct EventFile {
    path: PathBuf,
    start_wall_time: f64,
}

impl EventFile {
    /// The event file in `dir` (an existing `events.out.tfevents.*` is reused, so a resumed
    /// run keeps one file), or a new name.
    pub fn in_dir(dir: &Path) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let existing = std::fs::read_dir(dir).ok().and_then(|entries| {
            entries.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."))
            })
        });
        let path = existing
            .unwrap_or_else(|| dir.join(format!("events.out.tfevents.{}.apical", now as u64)));
        Self {
            path,
            start_wall_time: now,
        }
    }

    /// Where the file is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rewrites the event file from `log` and `extra` scalars `(step, tag, value)`.
    pub fn write(&self, log: &MetricLog, extra: &[(i64, String, f32)]) -> Result<(), StoreError> {
        write_atomic(&self.path, &encode(log, extra, self.start_wall_time))
    }
}

fn event_bytes(event: &Event) -> Vec<u8> {
    event.write_to_bytes().expect("an Event always encodes")
}

/// The bytes of an event file for `log`: a file-version event, then one event per scalar.
pub fn encode(log: &MetricLog, extra: &[(i64, String, f32)], wall_time: f64) -> Vec<u8> {
    let mut header = Event::new();
    header.set_wall_time(wall_time);
    header.set_file_version("brain.Event:2".to_string());
    let mut records = vec![event_bytes(&header)];
    for row in &log.rows {
        for (name, value) in [("loss", row.loss), ("accuracy", row.accuracy)] {
            let mut event = Event::new();
            event.set_wall_time(wall_time);
            event.set_step(row.step as i64);
            event.set_summary(scalar(&format!("{}/{name}", row.split), value as f32));
            records.push(event_bytes(&event));
        }
    }
    for (step, tag, value) in extra {
        let mut event = Event::new();
        event.set_wall_time(wall_time);
        event.set_step(*step);
        event.set_summary(scalar(tag, *value));
        records.push(event_bytes(&event));
    }
    let mut out = Vec::new();
    let mut writer = RecordWriter::new(&mut out);
    for record in records {
        writer
            .write(&record)
            .expect("writing to memory cannot fail");
    }
    out
}

/// Why bytes are not a readable TensorBoard event file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventFileError {
    /// A record's header or body ends early.
    #[error("truncated record {0}")]
    Truncated(String),
    /// A length or data CRC does not match.
    #[error("{0} CRC mismatch")]
    Crc(&'static str),
    /// A record is not an `Event` protobuf.
    #[error("not an Event: {0}")]
    NotAnEvent(String),
}

/// Splits an event file into its records, checking the length and data CRCs (masked CRC-32C,
/// as TensorFlow's reader does). Used by tests and by `apical` tools that read runs back.
pub fn read_records(bytes: &[u8]) -> Result<Vec<Vec<u8>>, EventFileError> {
    use tensorboard_rs::masked_crc32c::masked_crc32c;
    let mut records = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 12 {
            return Err(EventFileError::Truncated(format!(
                "header ({} bytes left)",
                rest.len()
            )));
        }
        let len = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes")) as usize;
        let len_crc = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes"));
        if masked_crc32c(&rest[..8]) != len_crc {
            return Err(EventFileError::Crc("length"));
        }
        if rest.len() < 12 + len + 4 {
            return Err(EventFileError::Truncated("body".into()));
        }
        let data = &rest[12..12 + len];
        let data_crc = u32::from_le_bytes(rest[12 + len..16 + len].try_into().expect("4 bytes"));
        if masked_crc32c(data) != data_crc {
            return Err(EventFileError::Crc("data"));
        }
        records.push(data.to_vec());
        rest = &rest[16 + len..];
    }
    Ok(records)
}

/// Decodes the scalars of an event file: `(step, tag, value)`.
pub fn read_scalars(bytes: &[u8]) -> Result<Vec<(i64, String, f32)>, EventFileError> {
    let mut out = Vec::new();
    for record in read_records(bytes)? {
        let event = Event::parse_from_bytes(&record)
            .map_err(|e| EventFileError::NotAnEvent(e.to_string()))?;
        if event.has_summary() {
            for value in event.get_summary().get_value() {
                out.push((
                    event.get_step(),
                    value.get_tag().to_string(),
                    value.get_simple_value(),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricRow;

    #[test]
    fn encoded_scalars_read_back_with_valid_crcs() {
        let log = MetricLog {
            rows: vec![MetricRow {
                step: 5,
                epoch: 0.5,
                split: "test".into(),
                loss: 0.25,
                accuracy: 0.75,
            }],
        };
        let bytes = encode(&log, &[], 1.0);
        assert_eq!(read_records(&bytes).unwrap().len(), 3);
        let scalars = read_scalars(&bytes).unwrap();
        assert_eq!(
            scalars,
            vec![
                (5, "test/loss".to_string(), 0.25),
                (5, "test/accuracy".to_string(), 0.75)
            ]
        );
        let mut corrupt = bytes.clone();
        let last = corrupt.len() - 6;
        corrupt[last] ^= 0xFF;
        assert!(read_records(&corrupt).is_err());
    }
}
