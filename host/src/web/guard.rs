//! Who may talk to the configure server, decided per request before any
//! handler runs. The server listens on the loopback address only, but that
//! alone does not keep other origins out: any web page the user visits can
//! make their browser send requests to 127.0.0.1 (cross-site request
//! forgery), or make a name it controls resolve there (DNS rebinding). So
//! every request must carry the session cookie (set only in exchange for
//! the secret token in the URL cairn printed), name the server itself as
//! its Host, and, when it changes anything, come from the page's own
//! origin as JSON.

use axum::http::{HeaderMap, Method, StatusCode, header};

/// The cookie the session token is kept in.
pub const COOKIE: &str = "cairn-session";

/// Why a request is refused: its status, and a line saying what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: &'static str,
}

impl Refusal {
    fn new(status: StatusCode, message: &'static str) -> Self {
        Self { status, message }
    }
}

/// The server's address and secret, against which requests are checked.
#[derive(Clone)]
pub struct Guard {
    port: u16,
    token: String,
}

/// What a request may do once admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// It carries the session cookie.
    Session,
    /// It presents the token in its URL: the first visit, which exchanges it
    /// for the cookie.
    Token,
}

impl Guard {
    pub fn new(port: u16, token: String) -> Self {
        Self { port, token }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The `Set-Cookie` value that starts a session: unreadable by scripts,
    /// never sent with a request another site starts.
    pub fn session_cookie(&self) -> String {
        format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", self.token)
    }

    /// Whether `host` (a Host or the authority of an Origin) is this server.
    fn is_self(&self, host: &str) -> bool {
        let port = self.port.to_string();
        ["127.0.0.1", "localhost"]
            .iter()
            .any(|name| host.strip_prefix(name).and_then(|r| r.strip_prefix(':')) == Some(&port))
    }

    /// Admits the request or says why not. `query_token` is the `token`
    /// parameter of the URL, if any.
    pub fn admit(
        &self,
        method: &Method,
        headers: &HeaderMap,
        query_token: Option<&str>,
    ) -> Result<Admission, Refusal> {
        // DNS rebinding: a page of another name that resolves here sends its
        // own name as Host.
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !self.is_self(host) {
            return Err(Refusal::new(
                StatusCode::MISDIRECTED_REQUEST,
                "this server answers only to 127.0.0.1 and localhost at its own port",
            ));
        }
        let state_changing = !matches!(*method, Method::GET | Method::HEAD);
        if state_changing {
            if *method != Method::POST {
                return Err(Refusal::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "only GET and POST",
                ));
            }
            // Cross-site requests: a same-origin Origin, or where a browser
            // sends none, its own word that the request is same-origin.
            let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
            let same_origin = match origin {
                Some(origin) => origin
                    .strip_prefix("http://")
                    .is_some_and(|authority| self.is_self(authority)),
                None => {
                    headers.get("sec-fetch-site").and_then(|h| h.to_str().ok())
                        == Some("same-origin")
                }
            };
            if !same_origin {
                return Err(Refusal::new(
                    StatusCode::FORBIDDEN,
                    "changes are accepted only from the configure page itself",
                ));
            }
            // A form or a simple request of another site cannot send JSON
            // without a preflight this server never answers.
            let json = headers
                .get(header::CONTENT_TYPE)
                .and_then(|h| h.to_str().ok())
                .and_then(|t| t.split(';').next())
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
            if !json {
                return Err(Refusal::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "send JSON (Content-Type: application/json)",
                ));
            }
        }
        if self.has_cookie(headers) {
            return Ok(Admission::Session);
        }
        if !state_changing && query_token.is_some_and(|t| same_secret(t, &self.token)) {
            return Ok(Admission::Token);
        }
        Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "no session: open the address `cairn configure` printed, with its token",
        ))
    }

    fn has_cookie(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == COOKIE && same_secret(value, &self.token))
    }
}

/// Compares secrets in time independent of where they differ.
fn same_secret(given: &str, secret: &str) -> bool {
    let (given, secret) = (given.as_bytes(), secret.as_bytes());
    given.len() == secret.len()
        && given
            .iter()
            .zip(secret)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// The headers of every response: a Content-Security-Policy that allows
/// only the page's own script and style and connections to itself, no
/// framing, no sniffing, no referrer, no caching.
pub fn security_headers(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.insert(name, header::HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    set(
        headers,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    /// What, how, which headers, the token in the URL, and the answer.
    type Case<'a> = (
        &'a str,
        Method,
        &'a [(&'static str, &'static str)],
        Option<&'a str>,
        Result<Admission, StatusCode>,
    );

    #[test]
    fn admits_only_its_own_page() {
        let guard = Guard::new(4000, "s3cret".into());
        let cookie = ("cookie", "other=1; cairn-session=s3cret");
        let host = ("host", "127.0.0.1:4000");
        let origin = ("origin", "http://127.0.0.1:4000");
        let json = ("content-type", "application/json; charset=utf-8");
        let cases: &[Case<'_>] = &[
            (
                "a session",
                Method::GET,
                &[host, cookie],
                None,
                Ok(Admission::Session),
            ),
            (
                "localhost",
                Method::GET,
                &[("host", "localhost:4000"), cookie],
                None,
                Ok(Admission::Session),
            ),
            (
                "the token",
                Method::GET,
                &[host],
                Some("s3cret"),
                Ok(Admission::Token),
            ),
            (
                "a wrong token",
                Method::GET,
                &[host],
                Some("s3creT"),
                Err(StatusCode::UNAUTHORIZED),
            ),
            (
                "no session",
                Method::GET,
                &[host],
                None,
                Err(StatusCode::UNAUTHORIZED),
            ),
            (
                "a wrong cookie",
                Method::GET,
                &[host, ("cookie", "cairn-session=x")],
                None,
                Err(StatusCode::UNAUTHORIZED),
            ),
            (
                "rebinding",
                Method::GET,
                &[("host", "evil.example:4000"), cookie],
                None,
                Err(StatusCode::MISDIRECTED_REQUEST),
            ),
            (
                "another port",
                Method::GET,
                &[("host", "127.0.0.1:4001"), cookie],
                None,
                Err(StatusCode::MISDIRECTED_REQUEST),
            ),
            (
                "no host",
                Method::GET,
                &[cookie],
                None,
                Err(StatusCode::MISDIRECTED_REQUEST),
            ),
            (
                "a change",
                Method::POST,
                &[host, cookie, origin, json],
                None,
                Ok(Admission::Session),
            ),
            (
                "same-origin fetch",
                Method::POST,
                &[host, cookie, ("sec-fetch-site", "same-origin"), json],
                None,
                Ok(Admission::Session),
            ),
            (
                "cross-site",
                Method::POST,
                &[host, cookie, ("origin", "http://evil.example"), json],
                None,
                Err(StatusCode::FORBIDDEN),
            ),
            (
                "a lookalike origin",
                Method::POST,
                &[host, cookie, ("origin", "http://127.0.0.1:40000"), json],
                None,
                Err(StatusCode::FORBIDDEN),
            ),
            (
                "cross-site fetch",
                Method::POST,
                &[host, cookie, ("sec-fetch-site", "cross-site"), json],
                None,
                Err(StatusCode::FORBIDDEN),
            ),
            (
                "no origin at all",
                Method::POST,
                &[host, cookie, json],
                None,
                Err(StatusCode::FORBIDDEN),
            ),
            (
                "a form",
                Method::POST,
                &[
                    host,
                    cookie,
                    origin,
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                None,
                Err(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ),
            (
                "text",
                Method::POST,
                &[host, cookie, origin, ("content-type", "text/plain")],
                None,
                Err(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ),
            (
                "a change with the token only",
                Method::POST,
                &[host, origin, json],
                Some("s3cret"),
                Err(StatusCode::UNAUTHORIZED),
            ),
            (
                "another method",
                Method::PUT,
                &[host, cookie, origin, json],
                None,
                Err(StatusCode::METHOD_NOT_ALLOWED),
            ),
        ];
        for (what, method, pairs, token, want) in cases {
            let got = guard
                .admit(method, &headers(pairs), *token)
                .map_err(|r| r.status);
            assert_eq!(&got, want, "{what}");
        }
    }
}
