//! `apg-bench data fetch` against a tiny HTTP/1.1 server on 127.0.0.1 started by each
//! test (`--mirror`), so nothing here touches the real network.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use sha2::{Digest, Sha256};

/// The server never answers more than this many connections, nor lives longer than this.
const MAX_CONNECTIONS: usize = 16;
const MAX_LIFETIME: Duration = Duration::from_secs(120);

/// Serves fixed files over HTTP/1.1 on 127.0.0.1; 404 for any other path. Stops when
/// dropped, after `MAX_CONNECTIONS` connections, or after `MAX_LIFETIME`.
struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(files: &[(&str, Vec<u8>)]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        assert!(addr.ip().is_loopback());
        let files: BTreeMap<String, Vec<u8>> = files.iter().map(|(p, b)| (format!("/{p}"), b.clone())).collect();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut served = 0;
                while served < MAX_CONNECTIONS && !stop.load(Ordering::SeqCst) && started.elapsed() < MAX_LIFETIME {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            served += 1;
                            // A broken connection is the client's business; keep serving.
                            let _ = handle(stream, &files, &requests);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        Server { addr, requests, stop, thread: Some(thread) }
    }

    fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// The paths requested so far, in order.
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(stream: TcpStream, files: &BTreeMap<String, Vec<u8>>, requests: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("").to_string());
    requests.lock().unwrap().push(path.clone());
    let (status, body): (&str, &[u8]) = match files.get(&path) {
        Some(body) if method == "GET" => ("200 OK", body),
        _ => ("404 Not Found", b"not found\n"),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Write)
}

/// The files of the made-up MovieLens-100K archive, as they should land (prefix stripped).
fn movielens_files() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("u.data", b"1\t10\t5\t881250949\n2\t20\t3\t891717742\n3\t10\t1\t878887116\n"),
        ("u.user", b"1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n"),
        ("u.item", b"10|Movie A (1995)|01-Jan-1995||http://x|0|0|1\n20|Movie B (1996)|01-Jan-1996||http://y|0|1|0\n"),
        ("README", b"made-up test data, not MovieLens\n"),
    ]
}

/// A zip like GroupLens's: a `ml-100k/` folder entry, the files under it, and an entry
/// outside the prefix that must not be extracted.
fn movielens_zip() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.add_directory("ml-100k/", options).unwrap();
    for (name, contents) in movielens_files() {
        zip.start_file(format!("ml-100k/{name}"), options).unwrap();
        zip.write_all(contents).unwrap();
    }
    zip.start_file("__MACOSX/ml-100k/._u.data", options).unwrap();
    zip.write_all(b"resource fork junk").unwrap();
    zip.finish().unwrap().into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// `apg-bench data fetch ARGS...` run in `cwd`, with no proxy that could send the request
/// anywhere but 127.0.0.1.
fn fetch_command(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("apg-bench").unwrap();
    cmd.current_dir(cwd).args(["data", "fetch"]).args(args).timeout(Duration::from_secs(60));
    for var in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    cmd
}

struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

fn run(cwd: &Path, args: &[&str]) -> Outcome {
    let output = fetch_command(cwd, args).output().unwrap();
    Outcome {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn assert_movielens_unpacked(folder: &Path) {
    let mut expected: Vec<String> = movielens_files().iter().map(|(n, _)| n.to_string()).collect();
    expected.sort();
    assert_eq!(listing(folder), expected, "files of {}", folder.display());
    for (name, contents) in movielens_files() {
        assert_eq!(std::fs::read(folder.join(name)).unwrap(), contents, "contents of {name}");
    }
}

#[test]
fn fetches_checks_and_unpacks_from_a_mirror() {
    let zip = movielens_zip();
    let sha = sha256_hex(&zip);
    let server = Server::start(&[("ml-100k.zip", zip)]);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("datasets");
    let out = run(
        temp.path(),
        &["movielens-100k", "--dir", dir.to_str().unwrap(), "--mirror", &server.base_url(), "--sha256", &sha],
    );
    assert!(out.success, "fetch failed:\nstdout: {}\nstderr: {}", out.stdout, out.stderr);
    assert_eq!(server.requests(), ["/ml-100k.zip"]);
    assert_movielens_unpacked(&dir.join("movielens-100k"));
    // Only the dataset folder: no staging folder, no leftover download.
    assert_eq!(listing(&dir), ["movielens-100k"]);
    assert!(!dir.join(".movielens-100k.partial").exists());
    assert!(out.stdout.contains("GroupLens"), "licence not stated: {}", out.stdout);
    assert!(
        out.stdout.contains(&format!("checked SHA-256 of {}", server.url("ml-100k.zip"))),
        "checksum check not stated: {}",
        out.stdout
    );
    assert!(!out.stdout.contains("NOT verified"), "{}", out.stdout);
    assert!(out.stdout.contains("Done: 4 files"), "{}", out.stdout);
}

#[test]
fn wrong_checksum_keeps_nothing() {
    let zip = movielens_zip();
    let wrong = sha256_hex(b"something else");
    let server = Server::start(&[("ml-100k.zip", zip)]);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("datasets");
    let out = run(
        temp.path(),
        &["movielens-100k", "--dir", dir.to_str().unwrap(), "--mirror", &server.base_url(), "--sha256", &wrong],
    );
    assert!(!out.success, "a wrong checksum was accepted:\n{}", out.stdout);
    assert!(out.stderr.contains("SHA-256 mismatch"), "stderr: {}", out.stderr);
    assert!(out.stderr.contains(&wrong), "expected checksum not named: {}", out.stderr);
    assert_eq!(server.requests(), ["/ml-100k.zip"], "the file was never downloaded");
    assert!(!dir.join("movielens-100k").exists());
    assert!(!dir.join(".movielens-100k.partial").exists());
    assert_eq!(listing(&dir), Vec::<String>::new());
}

#[test]
fn second_fetch_without_force_downloads_nothing() {
    let zip = movielens_zip();
    let sha = sha256_hex(&zip);
    let server = Server::start(&[("ml-100k.zip", zip)]);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("datasets");
    let mirror = server.base_url();
    let args = ["movielens-100k", "--dir", dir.to_str().unwrap(), "--mirror", &mirror, "--sha256", &sha];
    let first = run(temp.path(), &args);
    assert!(first.success, "first fetch failed: {}", first.stderr);
    assert_eq!(server.requests().len(), 1);
    // A file the user added must survive a fetch that does nothing.
    let folder = dir.join("movielens-100k");
    std::fs::write(folder.join("u.data"), b"edited").unwrap();

    let second = run(temp.path(), &args);
    assert!(second.success, "second fetch failed: {}", second.stderr);
    assert!(second.stdout.contains("already exists"), "stdout: {}", second.stdout);
    assert!(second.stdout.contains("--force"), "stdout: {}", second.stdout);
    assert!(!second.stdout.contains("checked SHA-256"), "stdout: {}", second.stdout);
    assert_eq!(server.requests().len(), 1, "the second fetch downloaded again");
    assert_eq!(std::fs::read(folder.join("u.data")).unwrap(), b"edited");

    // --force fetches again and replaces the folder.
    let mut forced = args.to_vec();
    forced.push("--force");
    let third = run(temp.path(), &forced);
    assert!(third.success, "forced fetch failed: {}", third.stderr);
    assert_eq!(server.requests().len(), 2);
    assert_movielens_unpacked(&folder);
    assert_eq!(listing(&dir), ["movielens-100k"]);
}

#[test]
fn unknown_dataset_lists_known_names() {
    let server = Server::start(&[]);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("datasets");
    let out = run(temp.path(), &["no-such-set", "--dir", dir.to_str().unwrap(), "--mirror", &server.base_url()]);
    assert!(!out.success, "an unknown name was accepted: {}", out.stdout);
    assert!(out.stderr.contains("unknown dataset `no-such-set`"), "stderr: {}", out.stderr);
    for known in ["movielens-100k", "movielens-1m", "frappe"] {
        assert!(out.stderr.contains(known), "`{known}` not listed: {}", out.stderr);
    }
    assert_eq!(server.requests(), Vec::<String>::new());
    assert!(!dir.exists(), "the datasets folder was created for an unknown name");
}

#[test]
fn not_found_on_mirror_names_the_url_and_keeps_nothing() {
    let server = Server::start(&[("other.zip", movielens_zip())]);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("datasets");
    let out = run(temp.path(), &["movielens-100k", "--dir", dir.to_str().unwrap(), "--mirror", &server.base_url()]);
    assert!(!out.success, "a 404 was accepted: {}", out.stdout);
    assert_eq!(server.requests(), ["/ml-100k.zip"]);
    let url = server.url("ml-100k.zip");
    assert!(out.stderr.contains(&url), "URL not named: {}", out.stderr);
    assert!(out.stderr.contains("404"), "status not named: {}", out.stderr);
    assert!(!dir.join("movielens-100k").exists());
    assert!(!dir.join(".movielens-100k.partial").exists());
    assert_eq!(listing(&dir), Vec::<String>::new());
}

#[test]
fn sha256_for_a_dataset_of_several_files_is_refused() {
    let server = Server::start(&[
        ("frappe.train.libfm", b"1 0:1 1:1\n".to_vec()),
        ("frappe.validation.libfm", b"-1 0:1 1:1\n".to_vec()),
        ("frappe.test.libfm", b"1 0:1 1:1\n".to_vec()),
    ]);
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("datasets");
    let out = run(
        temp.path(),
        &["frappe", "--dir", dir.to_str().unwrap(), "--mirror", &server.base_url(), "--sha256", &sha256_hex(b"x")],
    );
    assert!(!out.success, "--sha256 for frappe was accepted: {}", out.stdout);
    assert!(
        out.stderr.contains("--sha256 needs a dataset made of one file; `frappe` has several"),
        "stderr: {}",
        out.stderr
    );
    assert_eq!(server.requests(), Vec::<String>::new(), "something was downloaded");
    assert!(!dir.join("frappe").exists());
    assert!(!dir.join(".frappe.partial").exists());
}
