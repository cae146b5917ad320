//! The local web front end of `cairn configure`: a page served from the
//! binary and a small JSON API over [`crate::ops::configure`]. It listens
//! on 127.0.0.1 only, admits only its own page (see [`guard`]), and stops
//! when told to quit, on Ctrl-C, or after a while with no request. It never
//! prints; the caller says where it listens.

mod assets;
pub mod guard;
mod markdown;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Json, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::ops::Options;
use crate::ops::configure::{self, Draft};
use guard::{Admission, Guard};

/// The largest request body: a draft of every component's form.
const MAX_BODY: usize = 1 << 20;

/// A configure server bound to its port, not yet serving.
pub struct Server {
    listener: TcpListener,
    guard: Guard,
    addr: SocketAddr,
}

/// Why the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The page asked it to (Save and quit, or Quit).
    Quit,
    /// No request came for the idle timeout.
    Idle,
    /// Ctrl-C.
    Interrupted,
}

impl Server {
    /// Binds 127.0.0.1:`port` (0: a port the system picks) and makes the
    /// session's secret.
    pub fn bind(port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut secret = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
        let token: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            listener,
            guard: Guard::new(addr.port(), token),
            addr,
        })
    }

    /// The address to open: it carries the session's token, exchanged for a
    /// cookie on the first visit.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.guard.token())
    }

    /// Serves until the page quits, Ctrl-C, or `idle` passes without a
    /// request. `ready` is called with the address once Ctrl-C is handled
    /// and requests are answered: the moment to show it.
    pub fn run(
        self,
        options: Options,
        idle: Duration,
        ready: impl FnOnce(&str),
    ) -> anyhow::Result<Stopped> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(self.serve(options, idle, ready))
    }

    async fn serve(
        self,
        options: Options,
        idle: Duration,
        ready: impl FnOnce(&str),
    ) -> anyhow::Result<Stopped> {
        // One engine for the whole session: every check and review reuses
        // what the first one loaded.
        let options = Options {
            sandbox: options.sandbox.shared()?,
            ..options
        };
        let (stop, stopped) = watch::channel(None);
        let url = self.url();
        let app = App {
            options,
            guard: self.guard,
            last_request: Arc::new(Mutex::new(Instant::now())),
            stop: stop.clone(),
        };
        let last_request = app.last_request.clone();
        let router = Router::new()
            .route("/", get(index))
            .route(
                "/app.js",
                get(|| async { asset("text/javascript", assets::APP_JS) }),
            )
            .route(
                "/app.css",
                get(|| async { asset("text/css", assets::APP_CSS) }),
            )
            .route("/api/state", get(state))
            .route("/api/catalogs", get(catalogs))
            .route("/api/check", post(check))
            .route("/api/review", post(review))
            .route("/api/save", post(save))
            .route("/api/quit", post(quit))
            .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(middleware::from_fn_with_state(app.clone(), admit))
            .with_state(app);
        let listener = tokio::net::TcpListener::from_std(self.listener)?;

        let idle_stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1).min(idle)).await;
                let quiet = last_request.lock().map(|t| t.elapsed()).unwrap_or_default();
                if quiet >= idle {
                    let _ = idle_stop.send(Some(Stopped::Idle));
                    return;
                }
            }
        });
        // Handled from here on, before anyone is told the address.
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        tokio::spawn(async move {
            if interrupt.recv().await.is_some() {
                let _ = stop.send(Some(Stopped::Interrupted));
            }
        });
        ready(&url);
        let mut until = stopped.clone();
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = until.wait_for(Option::is_some).await;
            })
            .await?;
        let why = (*stopped.borrow()).unwrap_or(Stopped::Quit);
        Ok(why)
    }
}

impl App {
    /// The options for calls made as the user edits (checks, reviews,
    /// saves): from what loading the page fetched, never fetching again,
    /// so typing does not reach the stack's git host.
    fn cached(&self) -> Options {
        Options {
            offline: true,
            ..self.options.clone()
        }
    }
}

#[derive(Clone)]
struct App {
    options: Options,
    guard: Guard,
    last_request: Arc<Mutex<Instant>>,
    stop: watch::Sender<Option<Stopped>>,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Admits a request (see [`guard`]) and adds the security headers to
/// whatever is answered.
async fn admit(State(app): State<App>, request: Request, next: Next) -> Response {
    if let Ok(mut last) = app.last_request.lock() {
        *last = Instant::now();
    }
    let token = Query::<TokenQuery>::try_from_uri(request.uri())
        .ok()
        .and_then(|q| q.0.token);
    // A body that says it is too large is refused before it is read (the
    // limit on reading holds for the others).
    let too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|h| h.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY as u64);
    let mut response = match app
        .guard
        .admit(request.method(), request.headers(), token.as_deref())
    {
        Err(refusal) => (refusal.status, refusal.message).into_response(),
        Ok(_) if too_large => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "a request body may be at most 1 MiB",
        )
            .into_response(),
        // The first visit: trade the token for the cookie, and drop it from
        // the address bar and history.
        Ok(Admission::Token) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            headers.insert(header::LOCATION, HeaderValue::from_static("/"));
            if let Ok(cookie) = HeaderValue::from_str(&app.guard.session_cookie()) {
                headers.insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Ok(Admission::Session) => next.run(request).await,
    };
    guard::security_headers(response.headers_mut());
    response
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    ([(header::CONTENT_TYPE, content_type)], Body::from(body)).into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", assets::INDEX_HTML)
}

/// Runs a library call off the async thread; its error becomes a JSON
/// `{error}` with `status`.
async fn blocking<T: serde::Serialize + Send + 'static>(
    status: StatusCode,
    call: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(call).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(err)) => (status, Json(json!({ "error": format!("{err:#}") }))).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": "the request failed; see the terminal" })),
        )
            .into_response(),
    }
}

async fn state(State(app): State<App>) -> Response {
    blocking(StatusCode::UNPROCESSABLE_ENTITY, move || {
        let state = configure::state(&app.options)?;
        let mut value = serde_json::to_value(&state)?;
        // Readmes are a stack's text: rendered here, with any HTML in them
        // shown as text, never as markup.
        if let Some(components) = value.get_mut("components").and_then(Value::as_array_mut) {
            for (component, form) in components.iter_mut().zip(&state.components) {
                component["readme_html"] = Value::String(markdown::to_html(&form.readme));
            }
        }
        Ok(value)
    })
    .await
}

/// The catalogs the user follows, read as pinned (no fetch).
async fn catalogs(State(app): State<App>) -> Response {
    blocking(StatusCode::UNPROCESSABLE_ENTITY, move || {
        let options = Options {
            offline: true,
            ..app.options.clone()
        };
        crate::ops::catalog::list(&options)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftBody {
    draft: Draft,
}

async fn check(State(app): State<App>, Json(body): Json<DraftBody>) -> Response {
    blocking(StatusCode::UNPROCESSABLE_ENTITY, move || {
        configure::check(&app.cached(), &body.draft)
    })
    .await
}

async fn review(State(app): State<App>, Json(body): Json<DraftBody>) -> Response {
    blocking(StatusCode::UNPROCESSABLE_ENTITY, move || {
        Ok(match configure::review(&app.cached(), &body.draft)? {
            Ok(report) => json!({
                "diff": {
                    "patch": report.patch(),
                    "stack": report.stack,
                    "from": report.from,
                    "to": report.to,
                    "components": report.components,
                    "added": report.added,
                    "removed": report.removed,
                    "kept_edits": report.kept_edits,
                    "warnings": report.warnings,
                }
            }),
            Err(checked) => json!({ "check": checked }),
        })
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveBody {
    draft: Draft,
    /// The cairn.yaml text the page started from.
    expected: String,
    #[serde(default)]
    quit: bool,
}

async fn save(State(app): State<App>, Json(body): Json<SaveBody>) -> Response {
    let stop = app.stop.clone();
    let quit = body.quit;
    let response = blocking(StatusCode::CONFLICT, move || {
        Ok(
            match configure::save(&app.cached(), &body.draft, &body.expected)? {
                Ok(saved) => json!({ "saved": app.options.config, "check": saved }),
                Err(checked) => json!({ "check": checked }),
            },
        )
    })
    .await;
    if quit && response.status().is_success() {
        let _ = stop.send(Some(Stopped::Quit));
    }
    response
}

async fn quit(State(app): State<App>) -> Response {
    let _ = app.stop.send(Some(Stopped::Quit));
    Json(json!({ "quit": true })).into_response()
}
