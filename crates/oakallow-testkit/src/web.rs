//! A browser without a browser: a dashboard client that keeps cookies, does not follow
//! redirects (tests assert them), and fills in each form's CSRF token from the page it came
//! from, as a browser would. Every call takes the status the test expects.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// One answer of the dashboard.
#[derive(Debug, Clone)]
pub struct WebPage {
    /// The status.
    pub status: StatusCode,
    /// Where a redirect points.
    pub location: Option<String>,
    /// The body (HTML).
    pub body: String,
    /// The `Set-Cookie` headers, whole.
    pub set_cookies: Vec<String>,
}

impl WebPage {
    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let start = self.body.find(marker).map(|i| i + marker.len()).unwrap_or_else(|| panic!("no CSRF field on the page:\n{}", self.body));
        self.body[start..].split('"').next().unwrap_or_default().to_owned()
    }

    /// Whether the page's text contains `text` (HTML-escaped as the templates write it).
    pub fn shows(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

/// A dashboard client with its own cookie jar.
pub struct WebClient {
    base: String,
    http: reqwest::Client,
    cookies: Mutex<HashMap<String, String>>,
}

impl WebClient {
    /// A client of the server at `base` (`http://127.0.0.1:port`), with no cookies.
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base: base.to_owned(), http, cookies: Mutex::new(HashMap::new()) }
    }

    /// The jar's value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    /// Puts a cookie in the jar (to replay an old session, say).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies.lock().unwrap().insert(name.to_owned(), value.to_owned());
    }

    fn cookie_header(&self) -> String {
        self.cookies.lock().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&self, request: reqwest::RequestBuilder, expected: StatusCode, what: &str) -> WebPage {
        let response = request.header(COOKIE, self.cookie_header()).send().await.unwrap();
        let status = response.status();
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let set_cookies: Vec<String> =
            response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let mut jar = self.cookies.lock().unwrap();
                if value.is_empty() || cookie.contains("Max-Age=0") {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let body = response.text().await.unwrap();
        assert_eq!(status, expected, "{what}: unexpected status; body:\n{body}");
        WebPage { status, location, body, set_cookies }
    }

    /// `GET path`, expecting `expected`.
    pub async fn get(&self, path: &str, expected: StatusCode) -> WebPage {
        self.send(self.http.get(format!("{}{path}", self.base)), expected, &format!("GET {path}")).await
    }

    /// `POST path` with exactly `fields` (no token added), expecting `expected`.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)], expected: StatusCode) -> WebPage {
        self.send(self.http.post(format!("{}{path}", self.base)).form(fields), expected, &format!("POST {path}")).await
    }

    /// Opens `page`, then posts `fields` to `action` with the page's CSRF token, as a browser
    /// submitting the page's form would.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)], expected: StatusCode) -> WebPage {
        let token = self.get(page, StatusCode::OK).await.csrf();
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(action, &all, expected).await
    }

    /// Signs up through the form (on an instance that lets this visitor sign up); answers the
    /// redirect.
    pub async fn sign_up(&self, email: &str, name: &str, password: &str) -> WebPage {
        let fields = [("email", email), ("name", name), ("password", password), ("org_name", "My org")];
        self.submit("/sign-up", "/sign-up", &fields, StatusCode::SEE_OTHER).await
    }

    /// Signs in through the form; answers the redirect.
    pub async fn sign_in(&self, email: &str, password: &str) -> WebPage {
        self.submit("/sign-in", "/sign-in", &[("email", email), ("password", password)], StatusCode::SEE_OTHER).await
    }
}
