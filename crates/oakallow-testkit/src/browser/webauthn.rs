//! WebAuthn in the test browser: a virtual authenticator (the WebDriver extension commands of
//! the WebAuthn spec, which chromedriver implements) that creates and uses passkeys as a
//! platform authenticator would, with the user always verified.

use axum::http::Method;
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};
use url::{ParseError, Url};

use super::{Browser, done};

/// A WebDriver command under the session's URL.
#[derive(Debug)]
struct SessionCommand {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, ParseError> {
        base_url.join(&format!("session/{}/{}", session_id.unwrap_or_default(), self.path))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        (self.method.clone(), self.body.as_ref().map(Value::to_string))
    }
}

impl Browser {
    async fn session_command(&self, method: Method, path: String, body: Option<Value>) -> Value {
        let step = format!("{method} {path}");
        done(self.client.issue_cmd(SessionCommand { method, path, body }).await, || step)
    }

    /// Adds a virtual authenticator to the browser: CTAP2, built in ("internal"), holding
    /// discoverable credentials, and verifying its user (as a fingerprint reader would) every
    /// time. Answers its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        let id = self.session_command(Method::POST, "webauthn/authenticator".into(), Some(options)).await;
        id.as_str().expect("the authenticator's id is a string").to_owned()
    }

    /// The credentials the virtual authenticator `id` holds (WebDriver's credential parameters:
    /// `credentialId`, `isResidentCredential`, `rpId`, `userHandle`, `signCount`, …).
    pub async fn virtual_credentials(&self, id: &str) -> Vec<Value> {
        let credentials = self.session_command(Method::GET, format!("webauthn/authenticator/{id}/credentials"), None).await;
        credentials.as_array().cloned().expect("the credentials are a list")
    }
}
