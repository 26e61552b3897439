//! Starting `kgdb-host serve` on an ephemeral loopback port and talking to it over HTTP.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kgdb_tests::{host_binary, plugin_library};

/// A running server process; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stderr: Arc<Mutex<String>>,
}

/// Runs `kgdb-host` on plugin `stem` with data directory `dir/data` and waits for it.
pub fn host(dir: &Path, stem: &str, args: &[&str]) -> kgdb_tests::Run {
    kgdb_tests::run_plugin(dir, stem, args)
}

impl Server {
    /// Starts `kgdb-host serve --bind 127.0.0.1:0 ARGS` on plugin `stem` (data in `dir/data`)
    /// and waits until it listens.
    pub fn start(dir: &Path, stem: &str, args: &[&str]) -> Self {
        let library = plugin_library(stem);
        let mut child = Command::new(host_binary())
            .args(["--plugin", library.to_str().unwrap(), "--data-dir", "data"])
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env_remove("KGDB_CONFIG")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kgdb-host starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let stderr = Arc::clone(&stderr);
            let pipe = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut all = stderr.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let read = stdout.read_line(&mut line).unwrap_or(0);
        assert!(
            read > 0,
            "the server did not start: {}",
            stderr.lock().unwrap()
        );
        let base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
        });
        Self {
            child,
            base,
            stderr,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits at most `limit` for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The value of the metric line that starts with `series` (`name{labels}`), if any.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let text = get(&self.url("/metrics"), None).body;
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status: {self:#?}");
        self
    }

    /// Asserts an error: `status`, a plain-text body holding every fragment.
    #[track_caller]
    pub fn expect_error(&self, status: u16, fragments: &[&str]) {
        self.expect(status);
        assert!(
            self.content_type.starts_with("text/plain"),
            "an error is plain text: {self:#?}"
        );
        for fragment in fragments {
            assert!(
                self.body.contains(fragment),
                "the error lacks {fragment:?}: {self:#?}"
            );
        }
    }
}

/// The client: statuses are answers, not errors; bodies up to 256 MiB.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = response.expect("the request reaches the server");
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let content_type = headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let body = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        headers,
        body,
    }
}

/// GET `url` with an optional `Accept`.
pub fn get(url: &str, accept: Option<&str>) -> Reply {
    let mut request = agent().get(url);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    reply(request.call())
}

/// HEAD `url`.
pub fn head(url: &str) -> Reply {
    reply(agent().head(url).call())
}

/// DELETE `url`.
pub fn delete(url: &str) -> Reply {
    reply(agent().delete(url).call())
}

/// POST `body` as `content_type` to `url`, with an optional `Accept`.
pub fn post(url: &str, content_type: &str, body: &str, accept: Option<&str>) -> Reply {
    let mut request = agent().post(url).header("Content-Type", content_type);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    reply(request.send(body.as_bytes()))
}

/// PUT `body` as `content_type` to `url`.
pub fn put(url: &str, content_type: &str, body: &str) -> Reply {
    reply(
        agent()
            .put(url)
            .header("Content-Type", content_type)
            .send(body.as_bytes()),
    )
}

/// `text` percent-encoded for a URL query or a form.
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A query by GET on `endpoint`.
pub fn query(server: &Server, text: &str, accept: Option<&str>) -> Reply {
    get(
        &server.url(&format!("/query?query={}", encode(text))),
        accept,
    )
}

/// An update by POST of `application/sparql-update`.
pub fn update(server: &Server, text: &str) -> Reply {
    post(
        &server.url("/update"),
        "application/sparql-update",
        text,
        None,
    )
}

/// The single integer of a one-row JSON result, by variable `name`.
pub fn json_number(reply: &Reply, name: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {reply:#?}"));
    value["results"]["bindings"][0][name]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {reply:#?}"))
        .parse()
        .unwrap()
}

/// `n` triples as N-Triples: subjects `s0..`, predicate `p`, objects numbered.
pub fn triples(n: usize) -> String {
    (0..n)
        .map(|i| format!("<http://example.com/s{i}> <http://example.com/p> \"{i}\" .\n"))
        .collect()
}

/// A query that runs for a long time on a store of a few hundred triples: a cross product
/// of three patterns, counted (nothing is written until it ends).
pub const LONG_QUERY: &str =
    "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }";

/// PUT with a body and no `Content-Type`.
pub fn reply_without_content_type(url: &str) -> Reply {
    reply(agent().put(url).send(&b"<a> <b> <c> ."[..]))
}
