//! `apical data fetch`: the public data sets apical reads, downloaded into a cache.
//!
//! Each data set is four gzip-compressed IDX files. A fetch downloads each `.gz` file into
//! `<name>.gz.part`, checks its size and SHA-256 against the published sums
//! ([`MNIST`], [`FASHION_MNIST`]; sources in their docs), renames it to `<name>.gz` only when
//! it matches, and decompresses it to `<name>` (what `task.kind = "idx"` reads) through a
//! temporary file renamed into place. So a file under its final name is always whole and
//! verified. An interrupted transfer leaves its `.part` file and the next fetch resumes it
//! with an HTTP range request (a resumed file that fails its checksum is fetched once more
//! from the start); a wrong checksum, an HTTP error or a refused connection is an error naming
//! the file and the URL. Files already there and verified are not fetched again.
//!
//! This is the only crate that talks to the network, and it writes only into the data
//! directory it is given.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// One file of a data set: its name on the server, size in bytes and published SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// The `.gz` file's name (the URL is the base URL + this name).
    pub name: &'static str,
    /// Size of the `.gz` file in bytes.
    pub size: u64,
    /// SHA-256 of the `.gz` file, lower-case hex.
    pub sha256: &'static str,
}

impl RemoteFile {
    /// The decompressed file's name (the `.gz` suffix removed).
    pub fn unpacked_name(&self) -> &'static str {
        self.name.strip_suffix(".gz").unwrap_or(self.name)
    }
}

/// A data set: its name on the command line, where it is served and its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSet {
    /// The name `apical data fetch` takes.
    pub name: &'static str,
    /// Where the files are served (ends in `/`); `--base-url` replaces it.
    pub base_url: &'static str,
    /// The four files: training images, training labels, test images, test labels.
    pub files: [RemoteFile; 4],
}

/// MNIST (LeCun, Cortes & Burges), served from the mirror TensorFlow Datasets uses
/// (`https://storage.googleapis.com/cvdf-datasets/mnist/`); sizes and SHA-256 sums as published
/// by TensorFlow Datasets: repository `tensorflow/datasets`, file
/// `tensorflow_datasets/url_checksums/mnist.txt` (commit 31f1255e). The same files' MD5 sums in
/// torchvision (`torchvision/datasets/mnist.py`) name the same bytes.
pub const MNIST: DataSet = DataSet {
    name: "mnist",
    base_url: "https://storage.googleapis.com/cvdf-datasets/mnist/",
    files: [
        RemoteFile {
            name: "train-images-idx3-ubyte.gz",
            size: 9_912_422,
            sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        },
        RemoteFile {
            name: "train-labels-idx1-ubyte.gz",
            size: 28_881,
            sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        },
        RemoteFile {
            name: "t10k-images-idx3-ubyte.gz",
            size: 1_648_877,
            sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        },
        RemoteFile {
            name: "t10k-labels-idx1-ubyte.gz",
            size: 4_542,
            sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ],
};

/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), served by Zalando Research; sizes and SHA-256
/// sums as published by TensorFlow Datasets: `tensorflow_datasets/url_checksums/fashion_mnist.txt`
/// (commit 90b66237).
pub const FASHION_MNIST: DataSet = DataSet {
    name: "fashion-mnist",
    base_url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    files: [
        RemoteFile {
            name: "train-images-idx3-ubyte.gz",
            size: 26_421_880,
            sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        },
        RemoteFile {
            name: "train-labels-idx1-ubyte.gz",
            size: 29_515,
            sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        },
        RemoteFile {
            name: "t10k-images-idx3-ubyte.gz",
            size: 4_422_102,
            sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        },
        RemoteFile {
            name: "t10k-labels-idx1-ubyte.gz",
            size: 5_148,
            sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ],
};

/// Every data set `apical data fetch` knows.
pub const DATA_SETS: [DataSet; 2] = [MNIST, FASHION_MNIST];

/// The data set named `name` (`None`: no such data set).
pub fn data_set(name: &str) -> Option<DataSet> {
    DATA_SETS.into_iter().find(|d| d.name == name)
}

/// What went wrong; every variant names the file.
#[derive(Debug, Error)]
pub enum FetchError {
    /// The server could not be reached or the request failed before a response.
    #[error("{url}: {source}")]
    Request {
        /// The file's URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The server answered with an HTTP error status.
    #[error("{url}: HTTP {status} (is --base-url right?)")]
    Status {
        /// The file's URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The transfer stopped before the whole file arrived; the part is kept for resuming.
    #[error("{url}: the transfer stopped after {received} of {expected} bytes ({source}); run the fetch again to resume it")]
    Interrupted {
        /// The file's URL.
        url: String,
        /// Bytes on disk in the `.part` file.
        received: u64,
        /// The file's published size.
        expected: u64,
        /// The read error.
        #[source]
        source: io::Error,
    },
    /// The downloaded file is not the published one (removed; nothing is kept under its name).
    #[error("{file}: {what} does not match the published one (expected {expected}, got {got}); the download was deleted — check --base-url, or retry")]
    Mismatch {
        /// The file's name.
        file: String,
        /// "SHA-256" or "size".
        what: &'static str,
        /// The published value.
        expected: String,
        /// What arrived.
        got: String,
    },
    /// Reading or writing a file in the data directory.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl FetchError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> FetchError + '_ {
        move |source| FetchError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Already there and verified: nothing fetched.
    Present,
    /// Downloaded from the start.
    Downloaded,
    /// A partial download resumed.
    Resumed,
}

/// One progress event, for the caller to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A file is about to be fetched from `url` (resuming after `from` bytes when > 0).
    Start {
        /// The `.gz` file's name.
        file: &'static str,
        /// Its URL.
        url: String,
        /// Bytes already on disk.
        from: u64,
    },
    /// A resumed file failed its checksum and is fetched once more from the start.
    Restart {
        /// The `.gz` file's name.
        file: &'static str,
    },
    /// A file is done (verified, decompressed).
    Done {
        /// The `.gz` file's name.
        file: &'static str,
        /// What happened.
        outcome: Outcome,
    },
}

/// Fetches every file of `set` from `base_url` (which must end in `/`; the set's own when
/// `None`) into `dir` (created if missing), calling `progress` as it goes. Returns each file's
/// outcome in the set's order.
pub fn fetch(
    set: &DataSet,
    dir: &Path,
    base_url: Option<&str>,
    mut progress: impl FnMut(Event),
) -> Result<Vec<Outcome>, FetchError> {
    fs::create_dir_all(dir).map_err(FetchError::io(dir))?;
    let base = base_url.unwrap_or(set.base_url);
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        // A transfer that stalls ends as an interruption (the part is kept for resuming).
        .timeout_recv_body(Some(Duration::from_secs(1800)))
        .build()
        .into();
    let mut outcomes = Vec::with_capacity(set.files.len());
    for file in &set.files {
        let outcome = fetch_file(
            &agent,
            file,
            dir,
            &format!("{base}{}", file.name),
            &mut progress,
        )?;
        // A new download replaces whatever was decompressed before; a verified one already
        // there is decompressed only if its IDX file is missing.
        unpack(file, dir, outcome != Outcome::Present)?;
        progress(Event::Done {
            file: file.name,
            outcome,
        });
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The SHA-256 of a file, lower-case hex.
pub fn sha256_of(path: &Path) -> Result<String, FetchError> {
    let mut reader = BufReader::new(File::open(path).map_err(FetchError::io(path))?);
    let mut hasher = Sha256::new();
    io::copy(&mut reader, &mut hasher).map_err(FetchError::io(path))?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a finished download against the published size and sum.
fn verify(file: &RemoteFile, path: &Path) -> Result<(), FetchError> {
    let size = fs::metadata(path).map_err(FetchError::io(path))?.len();
    if size != file.size {
        return Err(FetchError::Mismatch {
            file: file.name.to_string(),
            what: "size",
            expected: format!("{} bytes", file.size),
            got: format!("{size} bytes"),
        });
    }
    let sum = sha256_of(path)?;
    if sum != file.sha256 {
        return Err(FetchError::Mismatch {
            file: file.name.to_string(),
            what: "SHA-256",
            expected: file.sha256.to_string(),
            got: sum,
        });
    }
    Ok(())
}

fn fetch_file(
    agent: &ureq::Agent,
    file: &RemoteFile,
    dir: &Path,
    url: &str,
    progress: &mut impl FnMut(Event),
) -> Result<Outcome, FetchError> {
    let done = dir.join(file.name);
    if done.exists() {
        if verify(file, &done).is_ok() {
            return Ok(Outcome::Present);
        }
        // Not the published file (changed since): fetched again.
        fs::remove_file(&done).map_err(FetchError::io(&done))?;
    }
    let part = dir.join(format!("{}.part", file.name));
    let mut resumed = false;
    for attempt in 0..2 {
        let from = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        progress(Event::Start {
            file: file.name,
            url: url.to_string(),
            from,
        });
        let appended = download(agent, file, url, &part, from)?;
        resumed = appended;
        let size = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        if size < file.size {
            // The server closed the transfer early without an error: keep the part.
            return Err(FetchError::Interrupted {
                url: url.to_string(),
                received: size,
                expected: file.size,
                source: io::Error::new(io::ErrorKind::UnexpectedEof, "the connection closed early"),
            });
        }
        match verify(file, &part) {
            Ok(()) => break,
            Err(error) => {
                fs::remove_file(&part).map_err(FetchError::io(&part))?;
                if appended && attempt == 0 {
                    // The kept part may have been another file's: once more, from the start.
                    progress(Event::Restart { file: file.name });
                    continue;
                }
                return Err(error);
            }
        }
    }
    File::open(&part)
        .and_then(|f| f.sync_all())
        .map_err(FetchError::io(&part))?;
    fs::rename(&part, &done).map_err(FetchError::io(&done))?;
    Ok(if resumed {
        Outcome::Resumed
    } else {
        Outcome::Downloaded
    })
}

/// Appends the rest of `url` (from byte `from`) to `part`; a server that ignores the range
/// sends the whole file, which replaces the part. Returns whether it appended (resumed).
fn download(
    agent: &ureq::Agent,
    file: &RemoteFile,
    url: &str,
    part: &Path,
    from: u64,
) -> Result<bool, FetchError> {
    let mut request = agent.get(url);
    if from > 0 {
        request = request.header("Range", format!("bytes={from}-"));
    }
    let mut response = request.call().map_err(|e| FetchError::Request {
        url: url.to_string(),
        source: Box::new(e),
    })?;
    let status = response.status().as_u16();
    let append = match status {
        206 if from > 0 => true,
        200 => false,
        // The kept part is already as long as the file (or longer): verified as it is.
        416 if from > 0 => return Ok(true),
        _ => {
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
            })
        }
    };
    let mut out = OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(part)
        .map_err(FetchError::io(part))?;
    if append {
        out.seek(io::SeekFrom::End(0))
            .map_err(FetchError::io(part))?;
    }
    let mut out = BufWriter::new(out);
    let mut reader = response.body_mut().as_reader();
    let copied = io::copy(&mut reader, &mut out);
    let flushed = out.flush();
    let received = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    match (copied, flushed) {
        (Ok(_), Ok(())) => Ok(append),
        (Err(source), _) if source.kind() != io::ErrorKind::StorageFull => {
            Err(FetchError::Interrupted {
                url: url.to_string(),
                received,
                expected: file.size,
                source,
            })
        }
        (Err(source), _) | (Ok(_), Err(source)) => Err(FetchError::Io {
            path: part.to_path_buf(),
            source,
        }),
    }
}

/// Decompresses `<name>.gz` to `<name>` (through a temporary file renamed into place) when
/// `fresh` or when `<name>` is missing.
fn unpack(file: &RemoteFile, dir: &Path, fresh: bool) -> Result<(), FetchError> {
    let target = dir.join(file.unpacked_name());
    if target.exists() && !fresh {
        return Ok(());
    }
    let source = dir.join(file.name);
    let temporary = dir.join(format!("{}.unpacking", file.unpacked_name()));
    let result = (|| -> io::Result<()> {
        let mut decoder = flate2::read::GzDecoder::new(BufReader::new(File::open(&source)?));
        let mut out = BufWriter::new(File::create(&temporary)?);
        io::copy(&mut decoder, &mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&temporary, &target)
    })();
    result.map_err(|source_error| {
        let _ = fs::remove_file(&temporary);
        FetchError::Io {
            path: source.clone(),
            source: source_error,
        }
    })
}

pub mod loopback;
