//! `cairn configure`: the page in a real browser (Debian's Chromium driven
//! by playwright-core), and the local server's defences against other
//! origins, spoken to over raw HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support;
use support::World;

/// A running `cairn configure` and the address it printed.
struct Served {
    child: Child,
    url: String,
    port: u16,
    token: String,
}

impl Served {
    fn start(world: &World, config: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["configure", "--no-open", "--config"];
        let config = config.to_str().unwrap();
        args.push(config);
        args.extend_from_slice(extra);
        let mut child = world
            .cairn_process(world.dir.path(), &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cairn starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.contains("/?token="),
            "cairn configure printed {url:?}"
        );
        let port = url["http://127.0.0.1:".len()..url.find("/?").unwrap()]
            .parse()
            .unwrap();
        let token = url[url.find("token=").unwrap() + 6..].to_string();
        Self {
            child,
            url,
            port,
            token,
        }
    }

    /// Waits for it to stop on its own; returns its stderr.
    fn wait(mut self, seconds: u64) -> (std::process::ExitStatus, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                return (status, err);
            }
            if started.elapsed() > Duration::from_secs(seconds) {
                let _ = self.child.kill();
                panic!("cairn configure did not stop within {seconds}s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `head` (request line and headers, without the final blank
    /// line) and `body`; returns the status, the headers and the body.
    fn raw(&self, head: &str, body: &str) -> (u16, String, String) {
        self.send(&format!(
            "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    /// Sends `request` as it is; reads the response's head and as much
    /// body as its Content-Length says (a server refusing a body it has
    /// not read need not close the connection).
    fn send(&self, request: &str) -> (u16, String, String) {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        (&stream).write_all(request.as_bytes()).unwrap();
        let mut reader = BufReader::new(&stream);
        let mut headers = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            headers.push_str(&line);
        }
        let headers = headers.to_ascii_lowercase();
        let length: usize = headers
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |n| n.trim().parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let status = headers[9..12].parse().unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A cluster of the reference stack, with a comment of the user's.
fn cluster(world: &World) -> PathBuf {
    let repo = support::cluster_repo(world, "  gateway:\n    domain: example.com # ours\n");
    let config = repo.join("clusters/demo/cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("# the demo cluster\n{text}")).unwrap();
    config
}

fn node() -> std::process::Command {
    let browser = support::root().join("tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run tests/tools/install-browser-tools (make test does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").is_file() || std::env::var_os("CHROMIUM").is_some(),
        "Chromium is missing: run tests/tools/install-browser-tools (make test does)"
    );
    let mut cmd = std::process::Command::new("node");
    cmd.current_dir(browser);
    cmd
}

#[test]
fn the_page_configures_a_cluster_end_to_end_in_a_real_browser() {
    let world = World::new();
    let config = cluster(&world);
    let original = std::fs::read_to_string(&config).unwrap();
    // The catalog `make stack` puts beside the reference stack.
    let catalogs = support::reference_stack().parent().unwrap().to_path_buf();
    world
        .cairn()
        .args(["catalog", "add", catalogs.to_str().unwrap()])
        .assert()
        .success();
    let served = Served::start(&world, &config, &[]);
    let shots = support::root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let run = node()
        .arg("configure.mjs")
        .arg(&served.url)
        .arg(&shots)
        .output()
        .expect("node runs");
    let out = String::from_utf8_lossy(&run.stdout);
    let seen: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| {
        panic!(
            "the browser script said:\n{out}\n{}",
            String::from_utf8_lossy(&run.stderr)
        )
    });
    assert!(run.status.success(), "in the browser: {seen:#}");
    assert_eq!(seen["csp"], serde_json::json!([]), "CSP violations");
    assert_eq!(seen["console"], serde_json::json!([]), "console errors");
    assert_eq!(
        seen["foreign"],
        serde_json::json!([]),
        "requests off the machine"
    );
    // A secret field has no input for a value, and a reference to nothing
    // gets the CLI's message.
    assert_eq!(seen["secretInputs"], 0);
    let secret_error = seen["secretError"].as_str().unwrap();
    assert!(
        secret_error.contains("CAIRN_TEST_UNSET_PASSWORD"),
        "{secret_error}"
    );

    // The message at the field is the one the CLI gives for the same value.
    let field_error = seen["fieldError"].as_str().unwrap();
    let bad = world.path("bad/cairn.yaml");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(
        &bad,
        original.replace("domain: example.com", "domain: Not A Domain"),
    )
    .unwrap();
    let cli = world
        .cairn()
        .args(["lint", "--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let cli_err = support::stderr(&cli);
    assert!(
        cli_err.contains(&format!("values.gateway.domain: {field_error}")),
        "the page said {field_error:?}; the CLI:\n{cli_err}"
    );

    // The review is what `cairn diff` shows for the saved file.
    let patch = seen["patch"].as_str().unwrap();
    assert!(patch.contains("provider: gitlab"), "{patch}");

    let (status, err) = served.wait(20);
    assert!(status.success(), "{err}");
    assert!(err.contains("stopped"), "{err}");
    let saved = std::fs::read_to_string(&config).unwrap();
    let expected = format!(
        "# the demo cluster\nstack:\n  source: {}\nvalues:\n  cert-manager:\n    issuer:\n      email: ops@example.com\n      server: staging\n  namespaces:\n    enabled: false\n  gateway:\n    domain: apps.example.org # ours\n  oauth2-proxy:\n    enabled: true\n    emailDomains:\n      - '*'\n      - example.org\n    provider: gitlab\n",
        support::reference_stack().display()
    );
    assert_eq!(saved, expected);
    let diff = world
        .cairn()
        .args(["diff", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let printed = support::stdout(&diff);
    for line in patch.lines().filter(|l| l.starts_with(['+', '-'])) {
        assert!(
            printed.contains(line),
            "{line:?} not in cairn diff:\n{printed}"
        );
    }
    for shot in [
        "configure-tiles.png",
        "configure-component.png",
        "configure-review.png",
    ] {
        assert!(shots.join(shot).is_file(), "no screenshot {shot}");
    }
}

#[test]
fn the_server_admits_only_its_own_page() {
    let world = World::new();
    let config = cluster(&world);
    let before = std::fs::read_to_string(&config).unwrap();
    let served = Served::start(&world, &config, &[]);
    let host = format!("Host: 127.0.0.1:{}", served.port);
    let origin = format!("Origin: http://127.0.0.1:{}", served.port);
    let cookie = format!("Cookie: cairn-session={}", served.token);
    let json = "Content-Type: application/json";
    let draft = r#"{"draft":{"components":{"gateway":{"enabled":false,"values":null}}},"expected":"","quit":false}"#;

    // The token is traded for an HttpOnly, SameSite=Strict cookie.
    let (status, headers, _) = served.raw(
        &format!("GET /?token={} HTTP/1.1\r\n{host}", served.token),
        "",
    );
    assert_eq!(status, 303);
    assert!(headers.contains(&format!(
        "set-cookie: cairn-session={}; httponly; samesite=strict; path=/",
        served.token
    )));
    let (status, headers, body) = served.raw(&format!("GET / HTTP/1.1\r\n{host}\r\n{cookie}"), "");
    assert_eq!(status, 200);
    assert!(body.contains("<script type=\"module\" src=\"/app.js\">"));
    assert!(headers.contains("content-security-policy: default-src 'none'; script-src 'self'"));
    assert!(headers.contains("x-frame-options: deny"));

    let refused = [
        (
            "a foreign Host (DNS rebinding)",
            format!(
                "GET /api/state HTTP/1.1\r\nHost: evil.example:{}\r\n{cookie}",
                served.port
            ),
            "",
            421,
        ),
        (
            "no token or cookie",
            format!("GET /api/state HTTP/1.1\r\n{host}"),
            "",
            401,
        ),
        (
            "a wrong token",
            format!("GET /?token=0000 HTTP/1.1\r\n{host}"),
            "",
            401,
        ),
        (
            "a cross-site Origin",
            format!(
                "POST /api/save HTTP/1.1\r\n{host}\r\n{cookie}\r\nOrigin: http://evil.example\r\n{json}"
            ),
            draft,
            403,
        ),
        (
            "no Origin",
            format!("POST /api/save HTTP/1.1\r\n{host}\r\n{cookie}\r\n{json}"),
            draft,
            403,
        ),
        (
            "a form post",
            format!(
                "POST /api/save HTTP/1.1\r\n{host}\r\n{cookie}\r\n{origin}\r\nContent-Type: application/x-www-form-urlencoded"
            ),
            "draft=x",
            415,
        ),
        (
            "text/plain",
            format!(
                "POST /api/save HTTP/1.1\r\n{host}\r\n{cookie}\r\n{origin}\r\nContent-Type: text/plain"
            ),
            draft,
            415,
        ),
        (
            "a change without the cookie",
            format!("POST /api/save HTTP/1.1\r\n{host}\r\n{origin}\r\n{json}"),
            draft,
            401,
        ),
    ];
    for (what, head, body, want) in refused {
        let (status, headers, _) = served.raw(&head, body);
        assert_eq!(status, want, "{what}");
        assert!(
            headers.contains("content-security-policy:"),
            "{what}: no CSP on the refusal"
        );
    }

    // Admitted, but the file changed since the page read it: refused, so
    // no edit is lost.
    let (status, _, body) = served.raw(
        &format!("POST /api/save HTTP/1.1\r\n{host}\r\n{cookie}\r\n{origin}\r\n{json}"),
        draft,
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("changed since it was opened here"), "{body}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);

    // A body larger than a draft can be is refused before it is read.
    let (status, _, _) = served.send(&format!(
        "POST /api/check HTTP/1.1\r\n{host}\r\n{cookie}\r\n{origin}\r\n{json}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        8 << 20
    ));
    assert_eq!(status, 413);

    let (status, _, _) = served.raw(
        &format!("POST /api/quit HTTP/1.1\r\n{host}\r\n{cookie}\r\n{origin}\r\n{json}"),
        "{}",
    );
    assert_eq!(status, 200);
    let (status, _) = served.wait(10);
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[test]
fn ctrl_c_stops_the_server_and_writes_nothing() {
    let world = World::new();
    let config = cluster(&world);
    let before = std::fs::read_to_string(&config).unwrap();
    let served = Served::start(&world, &config, &[]);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(served.child.id() as libc::pid_t, libc::SIGINT) };
    let (status, err) = served.wait(10);
    assert!(status.success(), "{err}");
    assert!(err.contains("stopped (Ctrl-C)"), "{err}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[test]
fn init_starts_a_new_cluster_and_the_server_stops_when_idle() {
    let world = World::new();
    let config = world.path("new/cairn.yaml");
    let stack = support::reference_stack();
    let served = Served::start(
        &world,
        &config,
        &["--init", stack.to_str().unwrap(), "--idle-timeout", "1s"],
    );
    let (status, err) = served.wait(15);
    assert!(status.success(), "{err}");
    assert!(err.contains("no request from the page"), "{err}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(&format!("source: {}", stack.display())),
        "{text}"
    );
}

#[test]
fn editing_does_not_reach_the_stacks_git_host() {
    let world = World::isolated();
    let stack = world.stack_repo();
    let daemon = support::GitDaemon::serve(stack.parent().unwrap());
    let url = format!("git://127.0.0.1:{}/stack", daemon.1);
    let dir = world.path("gitops");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cairn.yaml"),
        format!(
            "stack:\n  source: {url}\n  version: v0.1.0\n{}values:\n  gateway:\n    domain: example.com\n",
            support::trusted()
        ),
    )
    .unwrap();
    let served = Served::start(&world, &dir.join("cairn.yaml"), &[]);
    let host = format!("Host: 127.0.0.1:{}", served.port);
    let cookie = format!("Cookie: cairn-session={}", served.token);
    let origin = format!("Origin: http://127.0.0.1:{}", served.port);
    // Loading the page fetches the stack once.
    let (status, _, body) = served.raw(
        &format!("GET /api/state HTTP/1.1\r\n{host}\r\n{cookie}"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    // The git host goes away; checking a draft still works.
    drop(daemon);
    let draft = r#"{"draft":{"components":{"gateway":{"enabled":true,"values":{"domain":"Not A Domain"}}}}}"#;
    let (status, _, body) = served.raw(
        &format!("POST /api/check HTTP/1.1\r\n{host}\r\n{cookie}\r\n{origin}\r\nContent-Type: application/json"),
        draft,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"field\":\"domain\""), "{body}");
}
