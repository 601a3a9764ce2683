//! A minimal HTTP/1.1 file server on the loopback address, for testing fetches without the
//! network (apical's own tests, and a user checking a mirror's files): each path answers with
//! its [`Reply`]; range requests are honoured for whole files.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// How the server answers one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The bytes, whole (200), or from the requested offset (206) for a range request.
    File(Vec<u8>),
    /// Announces the whole length, sends only the first `sent` bytes, then closes.
    Truncated {
        /// The whole file (its length is announced).
        bytes: Vec<u8>,
        /// Bytes sent before the connection is closed.
        sent: usize,
    },
    /// 404 Not Found.
    Missing,
    /// The whole file (200) whatever the Range header asks: a server without range support.
    IgnoringRange(Vec<u8>),
    /// Sends the first `sent` bytes of the whole file with a Content-Length of `sent`, as if
    /// that were all: a transfer closed early without an error.
    Short {
        /// The whole file.
        bytes: Vec<u8>,
        /// Bytes sent.
        sent: usize,
    },
}

/// The requests a server saw: (path without the leading `/`, the Range header if any).
type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A running server; it stops when the process ends (tests are short-lived).
pub struct Server {
    /// `http://127.0.0.1:PORT/`.
    pub base_url: String,
    replies: Arc<Mutex<HashMap<String, Reply>>>,
    requests: RequestLog,
}

impl Server {
    /// Starts a server answering `/NAME` with `replies[NAME]` (404 for any other path).
    pub fn start(replies: HashMap<String, Reply>) -> std::io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base_url = format!("http://{}/", listener.local_addr()?);
        let replies = Arc::new(Mutex::new(replies));
        let requests: RequestLog = Arc::new(Mutex::new(Vec::new()));
        let (r, q) = (replies.clone(), requests.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, q) = (r.clone(), q.clone());
                thread::spawn(move || {
                    let _ = serve(stream, &r, &q);
                });
            }
        });
        Ok(Server {
            base_url,
            replies,
            requests,
        })
    }

    /// Changes how `name` is answered from now on.
    pub fn set(&self, name: &str, reply: Reply) {
        self.replies
            .lock()
            .expect("the server's table")
            .insert(name.to_string(), reply);
    }

    /// The requests so far: (path without the leading `/`, the Range header if any).
    pub fn requests(&self) -> Vec<(String, Option<String>)> {
        self.requests.lock().expect("the request log").clone()
    }
}

fn serve(
    mut stream: TcpStream,
    replies: &Mutex<HashMap<String, Reply>>,
    requests: &Mutex<Vec<(String, Option<String>)>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    let mut range = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
        }
    }
    requests
        .lock()
        .expect("the request log")
        .push((path.clone(), range.clone()));
    let reply = replies
        .lock()
        .expect("the server's table")
        .get(&path)
        .cloned();
    match reply {
        None | Some(Reply::Missing) => {
            write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"
            )?;
        }
        Some(Reply::File(bytes)) => {
            let from = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
            match from {
                Some(from) if from >= bytes.len() => write!(
                    stream,
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    bytes.len()
                )?,
                Some(from) => {
                    write!(
                        stream,
                        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {from}-{}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        bytes.len() - 1,
                        bytes.len(),
                        bytes.len() - from
                    )?;
                    stream.write_all(&bytes[from..])?;
                }
                None => {
                    write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        bytes.len()
                    )?;
                    stream.write_all(&bytes)?;
                }
            }
        }
        Some(Reply::IgnoringRange(bytes)) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            )?;
            stream.write_all(&bytes)?;
        }
        Some(Reply::Short { bytes, sent }) => {
            let sent = sent.min(bytes.len());
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {sent}\r\nConnection: close\r\n\r\n"
            )?;
            stream.write_all(&bytes[..sent])?;
        }
        Some(Reply::Truncated { bytes, sent }) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            )?;
            stream.write_all(&bytes[..sent.min(bytes.len())])?;
        }
    }
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Both)
}
