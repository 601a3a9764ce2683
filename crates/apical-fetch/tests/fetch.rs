//! Fetches against a server on the loopback address (never the real hosts): a correct set, a
//! wrong checksum, a truncated transfer resumed, a 404.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use apical_fetch::loopback::{Reply, Server};
use apical_fetch::{fetch, DataSet, Event, FetchError, Outcome, RemoteFile};
use sha2::{Digest, Sha256};

const NAMES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// Four small gzip files (distinct contents) and the data set that publishes their sums.
fn files() -> (Vec<Vec<u8>>, Vec<Vec<u8>>, DataSet) {
    let raw: Vec<Vec<u8>> = (0..4u8)
        .map(|k| {
            (0..20_000u32)
                .map(|i| (i * 7 + k as u32 * 13) as u8 ^ k)
                .collect()
        })
        .collect();
    let gz: Vec<Vec<u8>> = raw
        .iter()
        .map(|r| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(r).unwrap();
            e.finish().unwrap()
        })
        .collect();
    let remote: Vec<RemoteFile> = NAMES
        .iter()
        .zip(&gz)
        .map(|(name, bytes)| RemoteFile {
            name,
            size: bytes.len() as u64,
            sha256: Box::leak(
                Sha256::digest(bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
                    .into_boxed_str(),
            ),
        })
        .collect();
    let set = DataSet {
        name: "toy",
        base_url: "http://127.0.0.1:9/",
        files: [remote[0], remote[1], remote[2], remote[3]],
    };
    (raw, gz, set)
}

fn serving(gz: &[Vec<u8>]) -> Server {
    Server::start(
        NAMES
            .iter()
            .zip(gz)
            .map(|(n, b)| (n.to_string(), Reply::File(b.clone())))
            .collect::<HashMap<_, _>>(),
    )
    .unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apical-fetch-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_correct_set_is_verified_unpacked_and_not_fetched_twice() {
    let (raw, gz, set) = files();
    let server = serving(&gz);
    let dir = temp_dir("ok");
    let mut events = Vec::new();
    let outcomes = fetch(&set, &dir, Some(&server.base_url), |e| events.push(e)).unwrap();
    assert_eq!(outcomes, vec![Outcome::Downloaded; 4]);
    for (file, bytes) in set.files.iter().zip(&raw) {
        assert_eq!(&fs::read(dir.join(file.unpacked_name())).unwrap(), bytes);
    }
    assert_eq!(listing(&dir).len(), 8, "{:?}", listing(&dir));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Start { from: 0, .. })));
    let again = fetch(&set, &dir, Some(&server.base_url), |_| {}).unwrap();
    assert_eq!(again, vec![Outcome::Present; 4]);
    assert_eq!(
        server.requests().len(),
        4,
        "a verified file is not fetched again"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_wrong_checksum_fails_naming_the_file_and_keeps_nothing_under_its_name() {
    let (_, gz, set) = files();
    let server = serving(&gz);
    let mut forged = gz[2].clone();
    let last = forged.len() - 1;
    forged[last] ^= 0xFF;
    server.set(NAMES[2], Reply::File(forged));
    let dir = temp_dir("sum");
    let err = fetch(&set, &dir, Some(&server.base_url), |_| {}).unwrap_err();
    assert!(
        matches!(&err, FetchError::Mismatch { file, what: "SHA-256", .. } if file == NAMES[2]),
        "{err}"
    );
    assert!(err.to_string().contains(NAMES[2]), "{err}");
    let left = listing(&dir);
    assert!(
        !left.iter().any(|n| n.starts_with("t10k-images")),
        "nothing of the bad file is kept: {left:?}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_truncated_transfer_keeps_its_part_and_the_next_fetch_resumes_it() {
    let (raw, gz, set) = files();
    let server = serving(&gz);
    let half = gz[0].len() / 2;
    server.set(
        NAMES[0],
        Reply::Truncated {
            bytes: gz[0].clone(),
            sent: half,
        },
    );
    let dir = temp_dir("cut");
    let err = fetch(&set, &dir, Some(&server.base_url), |_| {}).unwrap_err();
    assert!(
        matches!(&err, FetchError::Interrupted { received, .. } if *received == half as u64),
        "{err}"
    );
    assert!(err.to_string().contains("again to resume"), "{err}");
    assert_eq!(listing(&dir), vec![format!("{}.part", NAMES[0])]);
    server.set(NAMES[0], Reply::File(gz[0].clone()));
    let outcomes = fetch(&set, &dir, Some(&server.base_url), |_| {}).unwrap();
    assert_eq!(outcomes[0], Outcome::Resumed);
    assert!(server
        .requests()
        .contains(&(NAMES[0].to_string(), Some(format!("bytes={half}-")))));
    assert_eq!(
        fs::read(dir.join(set.files[0].unpacked_name())).unwrap(),
        raw[0]
    );
    assert_eq!(listing(&dir).len(), 8);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_resumed_part_of_another_file_is_fetched_again_from_the_start() {
    let (_, gz, set) = files();
    let server = serving(&gz);
    let dir = temp_dir("stale");
    fs::create_dir_all(&dir).unwrap();
    // A part left by something else: its first bytes are not the file's.
    fs::write(dir.join(format!("{}.part", NAMES[1])), vec![0u8; 10]).unwrap();
    let mut restarts = 0;
    let outcomes = fetch(&set, &dir, Some(&server.base_url), |e| {
        restarts += matches!(e, Event::Restart { .. }) as usize
    })
    .unwrap();
    assert_eq!(restarts, 1);
    assert_eq!(outcomes[1], Outcome::Downloaded);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_is_an_http_error_naming_its_url() {
    let (_, gz, set) = files();
    let server = serving(&gz);
    server.set(NAMES[1], Reply::Missing);
    let dir = temp_dir("404");
    let err = fetch(&set, &dir, Some(&server.base_url), |_| {}).unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 404, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(NAMES[1]), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_transfer_closed_early_without_an_error_is_kept_and_resumed() {
    let (raw, gz, set) = files();
    let server = serving(&gz);
    let cut = gz[2].len() / 3;
    server.set(
        NAMES[2],
        Reply::Short {
            bytes: gz[2].clone(),
            sent: cut,
        },
    );
    let dir = temp_dir("short");
    let err = fetch(&set, &dir, Some(&server.base_url), |_| {}).unwrap_err();
    assert!(
        matches!(&err, FetchError::Interrupted { received, .. } if *received == cut as u64),
        "{err}"
    );
    assert!(
        dir.join(format!("{}.part", NAMES[2])).exists(),
        "the part is kept"
    );
    server.set(NAMES[2], Reply::File(gz[2].clone()));
    let outcomes = fetch(&set, &dir, Some(&server.base_url), |_| {}).unwrap();
    assert_eq!(outcomes[2], Outcome::Resumed);
    assert_eq!(
        fs::read(dir.join(set.files[2].unpacked_name())).unwrap(),
        raw[2]
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_server_ignoring_the_range_replaces_the_part_and_a_complete_part_is_verified_as_is() {
    let (raw, gz, set) = files();
    let server = serving(&gz);
    let dir = temp_dir("norange");
    fs::create_dir_all(&dir).unwrap();
    // Half of the right file kept; the server sends the whole file anyway.
    fs::write(
        dir.join(format!("{}.part", NAMES[0])),
        &gz[0][..gz[0].len() / 2],
    )
    .unwrap();
    server.set(NAMES[0], Reply::IgnoringRange(gz[0].clone()));
    // The whole right file kept as a part: the range is past its end (416), verified as it is.
    fs::write(dir.join(format!("{}.part", NAMES[3])), &gz[3]).unwrap();
    let mut restarts = 0;
    let outcomes = fetch(&set, &dir, Some(&server.base_url), |e| {
        restarts += matches!(e, Event::Restart { .. }) as usize
    })
    .unwrap();
    assert_eq!(restarts, 0);
    assert_eq!(
        outcomes[0],
        Outcome::Downloaded,
        "not appended: a fresh download"
    );
    assert_eq!(outcomes[3], Outcome::Resumed);
    assert_eq!(
        fs::read(dir.join(set.files[0].unpacked_name())).unwrap(),
        raw[0]
    );
    assert_eq!(
        fs::read(dir.join(set.files[3].unpacked_name())).unwrap(),
        raw[3]
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_fresh_download_replaces_a_stale_decompressed_file() {
    let (raw, gz, set) = files();
    let server = serving(&gz);
    let dir = temp_dir("stale-idx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(set.files[1].unpacked_name()), b"not the labels").unwrap();
    fetch(&set, &dir, Some(&server.base_url), |_| {}).unwrap();
    assert_eq!(
        fs::read(dir.join(set.files[1].unpacked_name())).unwrap(),
        raw[1]
    );
    fs::remove_dir_all(&dir).unwrap();
}
