//! A server on `127.0.0.1:0` that plays Stripe for tests, in Stripe's documented shapes:
//! `POST /v1/checkout/sessions` (form-encoded, `Authorization: Bearer sk_…`) answers a
//! `checkout.session` object whose `url` is a payment page on this server, and
//! [`FakeStripe::complete`] pays a session and writes the `checkout.session.completed` event
//! Stripe would send, signed with the endpoint's secret as Stripe signs
//! (`t=…,v1=HMAC-SHA256(secret, "t.body")`). `POST /v1/refunds` refunds a PaymentIntent once
//! per `Idempotency-Key` (the same key answers the same refund), or refuses or fails as a test
//! asks.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use oakallow_domain::stripe::signature_header;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The API key the fake accepts.
pub const SECRET_KEY: &str = "sk_test_oakallow_fake";
/// The signing secret of the endpoint the fake's events are for.
pub const WEBHOOK_SECRET: &str = "whsec_test_oakallow_fake_signing_secret";

#[derive(Default)]
struct Inner {
    /// Checkout Sessions by id, as created.
    sessions: Mutex<BTreeMap<String, Value>>,
    /// Every form a session was created from, in order.
    requests: Mutex<Vec<Vec<(String, String)>>>,
    /// Refunds made, by idempotency key: `(payment_intent, refund)`.
    refunds: Mutex<BTreeMap<String, (String, Value)>>,
    /// How the next refund requests are answered.
    refund_answers: Mutex<Vec<RefundAnswer>>,
}

/// How the fake answers a refund request (the default is to refund).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundAnswer {
    /// 400 `charge_disputed`, Stripe's answer for a charge under dispute.
    Refuse,
    /// 503, as when Stripe is having trouble: nothing refunded.
    Fail,
}

/// The fake Stripe API.
pub struct FakeStripe {
    /// `http://127.0.0.1:port`: the API base oakallow is configured with.
    pub base: String,
    inner: Arc<Inner>,
    _server: tokio::task::JoinHandle<()>,
}

async fn create_session(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if bearer != format!("Bearer {SECRET_KEY}") {
        let error = json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let number = |name: &str| field(name).and_then(|v| v.parse::<i64>().ok());
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')).map(|k| (k.to_owned(), json!(v))))
        .collect();
    let mut sessions = inner.sessions.lock().unwrap();
    let id = format!("cs_test_{:04}", sessions.len() + 1);
    let port = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "mode": field("mode"),
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": number("line_items[0][price_data][unit_amount]").unwrap_or(0) * number("line_items[0][quantity]").unwrap_or(1),
        "currency": field("line_items[0][price_data][currency]"),
        "client_reference_id": field("client_reference_id"),
        "metadata": metadata,
        "payment_intent": null,
        "success_url": field("success_url"),
        "cancel_url": field("cancel_url"),
        "url": format!("http://{port}/pay/{id}"),
    });
    sessions.insert(id, session.clone());
    inner.requests.lock().unwrap().push(form);
    Json(session).into_response()
}

async fn refund(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {SECRET_KEY}")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})),
        )
            .into_response();
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let answer = {
        let mut answers = inner.refund_answers.lock().unwrap();
        (!answers.is_empty()).then(|| answers.remove(0))
    };
    match answer {
        Some(RefundAnswer::Refuse) => {
            let error =
                json!({"error": {"type": "invalid_request_error", "code": "charge_disputed", "message": "This charge is disputed."}});
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
        Some(RefundAnswer::Fail) => {
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": {"type": "api_error"}}))).into_response();
        }
        None => {}
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let intent = form.iter().find(|(k, _)| k == "payment_intent").map(|(_, v)| v.clone()).unwrap_or_default();
    let mut refunds = inner.refunds.lock().unwrap();
    let count = refunds.len();
    let (_, refund) = refunds.entry(key).or_insert_with(|| {
        let refund =
            json!({"id": format!("re_test_{:04}", count + 1), "object": "refund", "status": "succeeded", "payment_intent": intent});
        (intent.clone(), refund)
    });
    Json(refund.clone()).into_response()
}

impl FakeStripe {
    /// Starts the fake.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/refunds", post(refund))
            .with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, inner, _server: server }
    }

    /// The service settings that point oakallow at this fake, selling the product's packages.
    pub fn config(&self) -> oakallow_service::config::StripeConfig {
        oakallow_service::config::StripeConfig {
            api_base: self.base.clone(),
            secret_key: SECRET_KEY.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            packages: oakallow_domain::stripe::default_packages(),
        }
    }

    /// The forms sessions were created from, in order.
    pub fn requests(&self) -> Vec<Vec<(String, String)>> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// The refunds made: `(idempotency key, payment intent)`.
    pub fn refunds(&self) -> Vec<(String, String)> {
        self.inner.refunds.lock().unwrap().iter().map(|(key, (intent, _))| (key.clone(), intent.clone())).collect()
    }

    /// Answers the next refund requests this way, in order.
    pub fn answer_refunds(&self, answers: &[RefundAnswer]) {
        self.inner.refund_answers.lock().unwrap().extend_from_slice(answers);
    }

    /// A session as created.
    pub fn session(&self, id: &str) -> Value {
        self.inner.sessions.lock().unwrap()[id].clone()
    }

    /// Pays session `id` and answers the `checkout.session.completed` event Stripe would send
    /// about it (`event_id`), as its raw body.
    pub fn complete(&self, id: &str, event_id: &str) -> Vec<u8> {
        let mut sessions = self.inner.sessions.lock().unwrap();
        let session = sessions.get_mut(id).unwrap();
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        session["payment_intent"] = json!(format!("pi_{}", id.trim_start_matches("cs_")));
        event(event_id, "checkout.session.completed", session.clone())
    }

    /// The `Stripe-Signature` Stripe would put on `body` at `signed_at` (Unix seconds).
    pub fn sign(body: &[u8], signed_at: i64) -> String {
        signature_header(body, WEBHOOK_SECRET, signed_at)
    }
}

/// A Stripe event's raw body.
pub fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    let event = json!({
        "id": id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": 1_790_000_000,
        "livemode": false,
        "pending_webhooks": 1,
        "type": kind,
        "data": {"object": object},
    });
    serde_json::to_vec(&event).unwrap()
}
