//! One org's run of every endpoint that accepts text, from every tier, with planted personal
//! data; it also checks what redaction must not break (tokens bind the original params,
//! idempotent replays, re-applying a policy document, values that are not personal).

use std::time::{Duration, Instant};

use oakallow_testkit::receiver::Receiver;
use oakallow_testkit::{OrgKeys, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::plant::{CardStyle, Plant};

/// Webhook events one run causes: three `approval.created`, one `approval.escalated`, two
/// `approval.decided`, one `approval.cancelled` and one `webhook.test`.
pub const EVENTS: usize = 8;

/// One org driven through the API.
pub struct Run<'a> {
    pub app: &'a TestApp,
    pub keys: &'a OrgKeys,
    pub plant: Plant,
    pub redact: bool,
}

impl Run<'_> {
    async fn expect(&self, method: Method, path: &str, key: &str, body: Option<&Value>, status: StatusCode) -> Value {
        let (got, answer) = self.app.call(method.clone(), path, Some(key), body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        answer
    }

    async fn manage(&self, method: Method, path: &str, body: Value, status: StatusCode) -> Value {
        self.expect(method, path, &self.keys.management, Some(&body), status).await
    }

    async fn standard(&self, path: &str, body: Value, status: StatusCode) -> Value {
        self.expect(Method::POST, path, &self.keys.standard, Some(&body), status).await
    }

    /// Everything, in order; the receiver gets [`EVENTS`] deliveries and answers them with
    /// planted text.
    pub async fn everything(&mut self, receiver: &Receiver) {
        receiver.answer_with(format!("thanks {}", self.plant.email("webhook.response_excerpt")));
        self.org_settings(receiver).await;
        self.policy_objects().await;
        self.policy_document().await;
        self.check_and_validate().await;
        self.approvals_and_execution().await;
        self.manage(Method::POST, "/v1/webhooks/test", json!({}), StatusCode::ACCEPTED).await;
        self.wait_for_deliveries(receiver).await;
    }

    async fn org_settings(&mut self, receiver: &Receiver) {
        let name = format!("Org of {}", self.plant.email("org.name"));
        let body = json!({"name": name, "webhook_url": receiver.url, "redact_pii": self.redact});
        self.manage(Method::PATCH, "/v1/org", body, StatusCode::OK).await;
        let key_name = format!("bot of {}", self.plant.email("key.name"));
        self.manage(Method::POST, "/v1/keys", json!({"name": key_name, "tier": "standard"}), StatusCode::CREATED).await;
        if self.redact {
            // A new org redacts by default, so this is planted for the redacting org only.
            let sibling = format!("Sibling of {}", self.plant.email("orgs.name"));
            self.manage(Method::POST, "/v1/orgs", json!({"name": sibling}), StatusCode::CREATED).await;
        }
    }

    fn refund_schema(&mut self) -> Value {
        json!({
            "type": "object",
            "title": self.plant.prose("schema.title"),
            "description": self.plant.prose("schema.description"),
            "$comment": self.plant.email("schema.comment"),
            "properties": {
                "amount": {"type": "integer", "description": self.plant.phone("schema.property.description"), "examples": [self.plant.card_number("schema.examples")]},
                "to": {"type": "string", "default": self.plant.email("schema.default")}
            },
            "additionalProperties": {"type": "integer", "maximum": 1000}
        })
    }

    async fn policy_objects(&mut self) {
        let p = &mut self.plant;
        let category = json!({"name": "payments", "description": p.prose("category.description")});
        let category = self.manage(Method::POST, "/v1/categories", category, StatusCode::CREATED).await;
        let schema = self.refund_schema();
        let p = &mut self.plant;
        let refund = json!({"name": "refund", "category": "payments", "description": p.prose("tool.description"), "tags": [p.email("tool.tags"), "money"], "parameters_schema": schema});
        let refund = self.manage(Method::POST, "/v1/tools", refund, StatusCode::CREATED).await;
        self.manage(Method::POST, "/v1/tools", json!({"name": "lookup", "approved": true}), StatusCode::CREATED).await;
        let transfer = json!({"name": "transfer", "requires_second_approval": true, "default_permission": "requires_approval"});
        self.manage(Method::POST, "/v1/tools", transfer, StatusCode::CREATED).await;
        let p = &mut self.plant;
        let tenant = json!({"external_id": "acme", "name": p.prose("tenant.name")});
        let tenant = self.manage(Method::POST, "/v1/tenants", tenant, StatusCode::CREATED).await;
        let p = &mut self.plant;
        let resource = json!({"name": "ledger", "description": p.prose("resource.description")});
        self.manage(Method::POST, "/v1/resources", resource, StatusCode::CREATED).await;
        let rule = json!({"tool": "refund", "tenant": "acme", "permission": "requires_approval", "note": self.plant.prose("rule.note")});
        let rule = self.manage(Method::POST, "/v1/rules", rule, StatusCode::CREATED).await;
        let patched = [
            ("categories", category, "category.description"),
            ("tools", refund, "tool.description"),
            ("tenants", tenant, "tenant.name"),
            ("rules", rule, "rule.note"),
        ];
        for (path, object, place) in patched {
            self.plant.gone(place);
            let field = place.split('.').nth(1).unwrap();
            let text = self.plant.prose(&format!("{path}.patch.{field}"));
            let id = object["id"].as_str().unwrap().to_owned();
            self.manage(Method::PATCH, &format!("/v1/{path}/{id}"), json!({ field: text }), StatusCode::OK).await;
        }
    }

    /// A document with personal data applies, and re-applying it (or its export) changes nothing.
    async fn policy_document(&mut self) {
        let p = &mut self.plant;
        let document = json!({"methods": [
            {"name": "write", "description": p.prose("document.method.description")},
            {"name": "read", "description": p.card("document.method.description", CardStyle::Dots)}
        ]});
        let applied = self.expect(Method::PUT, "/v1/policy", &self.keys.management, Some(&document), StatusCode::OK).await;
        assert_eq!(applied["applied"], true, "{applied}");
        let again = self.expect(Method::PUT, "/v1/policy", &self.keys.management, Some(&document), StatusCode::OK).await;
        assert_eq!(again["applied"], false, "re-applying the same document changes nothing: {again}");
        let exported = self.expect(Method::GET, "/v1/policy", &self.keys.management, None, StatusCode::OK).await;
        let back = self.expect(Method::PUT, "/v1/policy", &self.keys.management, Some(&exported), StatusCode::OK).await;
        assert_eq!(back["applied"], false, "the export re-applies as it is: {back}");
    }

    async fn check_and_validate(&mut self) {
        let params = self.plant.object("check.params");
        let p = &mut self.plant;
        let check = json!({"tool": "lookup", "tenant": "acme", "params": params, "context": p.object("check.context"), "reference_id": p.email("check.reference_id"), "mint_token": true});
        let answer = self.standard("/v1/check", check, StatusCode::OK).await;
        let verified =
            self.standard("/v1/tokens/verify", json!({"token": answer["token"], "tool": "lookup", "params": params}), StatusCode::OK).await;
        assert_eq!(verified["valid"], true, "a token binds the original params: {verified}");

        let mut params = self.invalid_params("validate.message");
        let path = self.plant.email("validate.path");
        params[path] = json!(self.plant.phone("validate.message"));
        let answer = self.standard("/v1/validate", json!({"tool": "refund", "params": params}), StatusCode::OK).await;
        assert_eq!(answer["valid"], false, "{answer}");
        self.not_echoed("the answer of POST /v1/validate", &answer);
        self.refused_params().await;
    }

    /// Params that fail the refund tool's schema, each error message quoting a planted value:
    /// some recognisable as text, some only by the key they are under (as the params are).
    fn invalid_params(&mut self, place: &str) -> Value {
        let p = &mut self.plant;
        json!({
            "amount": p.card(place, CardStyle::Spaces),
            "to": p.card_number(place),
            "api_key": p.opaque(place),
            "ssn": p.ssn_number(place),
            "mobile": p.phone_number(place),
            "password": {"old": p.opaque(place)},
        })
    }

    /// A check and an approval whose params fail the schema are refused (422, nothing stored);
    /// the refusal quotes the params redacted.
    async fn refused_params(&mut self) {
        for (path, place, extra) in
            [("/v1/check", "check.invalid_params", json!({})), ("/v1/approvals", "approval.invalid_params", json!({"reason": "refund"}))]
        {
            let mut body = extra;
            body["tool"] = json!("refund");
            body["params"] = self.invalid_params(place);
            self.plant.gone(place);
            let answer = self.standard(path, body, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(answer["error"]["code"], "invalid_params", "{answer}");
            self.not_echoed(&format!("the refusal of POST {path}"), &answer);
        }
    }

    /// For an org that redacts: `answer` quotes none of the planted values.
    fn not_echoed(&self, what: &str, answer: &Value) {
        if self.redact {
            let echoed = super::occurrences(&self.plant.needles, &[(what.to_owned(), answer.to_string())]);
            assert!(echoed.is_empty(), "{} personal values echoed:\n{}", echoed.len(), echoed.join("\n"));
        }
    }

    fn approval_request(&mut self, place: &str) -> Value {
        json!({
            "tool": "transfer",
            "params": self.plant.object(&format!("{place}.params")),
            "reason": self.plant.prose(&format!("{place}.reason")),
            "context": self.plant.object(&format!("{place}.context")),
            "reference_id": self.plant.email(&format!("{place}.reference_id")),
        })
    }

    /// An approval with an `Idempotency-Key`: answered, replayed, refused for another body.
    async fn idempotent_approval(&mut self) -> (Value, Value) {
        let request = self.approval_request("approval");
        let key = format!("idem-{}", self.plant.email("approval.idempotency_key"));
        self.plant.gone("approval.idempotency_key");
        let send = |body: &Value| {
            self.app
                .request(Method::POST, "/v1/approvals")
                .header("X-API-Key", &self.keys.standard)
                .header("Idempotency-Key", &key)
                .json(body)
                .send()
        };
        let first = send(&request).await.unwrap();
        assert_eq!(first.status(), StatusCode::CREATED);
        let approval: Value = first.json().await.unwrap();
        let replay = send(&request).await.unwrap();
        assert_eq!(replay.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
        assert_eq!(replay.json::<Value>().await.unwrap()["id"], approval["id"], "the replay answers the same approval");
        let mut other = request.clone();
        other["params"]["amount"] = json!(126);
        assert_eq!(send(&other).await.unwrap().status(), StatusCode::CONFLICT, "another body under the same key");
        (approval, request)
    }

    async fn decide(&mut self, id: &str, decision: &str, place: &str) -> Value {
        let key = self.keys.approver.clone();
        self.decide_with(&key, id, decision, place).await
    }

    async fn decide_with(&mut self, key: &str, id: &str, decision: &str, place: &str) -> Value {
        let p = &mut self.plant;
        let body = json!({"decision": decision, "decided_by": format!("{place} {}", p.email(&format!("{place}.decided_by"))), "note": p.prose(&format!("{place}.note"))});
        self.expect(Method::POST, &format!("/v1/approvals/{id}/decide"), key, Some(&body), StatusCode::OK).await
    }

    async fn approvals_and_execution(&mut self) {
        let (approval, request) = self.idempotent_approval().await;
        self.check_shape(&approval);
        let id = approval["id"].as_str().unwrap().to_owned();
        self.expect(Method::GET, &format!("/v1/approvals/{id}"), &self.keys.standard, None, StatusCode::OK).await;
        self.decide(&id, "approved", "Ana level one").await;
        // Level two needs another approver identity than level one.
        let second = self.manage(Method::POST, "/v1/keys", json!({"name": "level two", "tier": "approver"}), StatusCode::CREATED).await;
        self.decide_with(second["key"].as_str().unwrap(), &id, "approved", "Bo level two").await;
        let minted = self.standard("/v1/tokens", json!({"approval_id": id}), StatusCode::CREATED).await;
        let p = &mut self.plant;
        let execution = json!({"token": minted["token"], "tool": "transfer", "params": request["params"], "result": "failed", "duration_ms": 12, "output": p.object("execution.output"), "error": p.prose("execution.error")});
        let logged = self.standard("/v1/executions", execution, StatusCode::CREATED).await;
        assert_eq!(logged["authorized"], true, "the token binds the original params: {logged}");

        let cancelled = self.approval_request("cancelled");
        let cancelled = self.standard("/v1/approvals", cancelled, StatusCode::CREATED).await;
        self.standard(&format!("/v1/approvals/{}/cancel", cancelled["id"].as_str().unwrap()), json!({}), StatusCode::OK).await;
        let denied = self.approval_request("denied");
        let denied = self.standard("/v1/approvals", denied, StatusCode::CREATED).await;
        self.decide(denied["id"].as_str().unwrap(), "denied", "Cy denier").await;
    }

    /// What redaction keeps: values that are not personal, and every key (two that redact alike
    /// stay two).
    fn check_shape(&self, approval: &Value) {
        let params = &approval["params"];
        assert_eq!((params["amount"].as_u64(), params["order_id"].as_u64()), (Some(125), Some(1_732_760_000)), "{params}");
        assert_eq!(params["contacts"].as_object().map(serde_json::Map::len), Some(2), "{params}");
        assert_eq!(params.as_object().map(serde_json::Map::len), Some(15), "{params}");
        if self.redact {
            let markers = ["customer", "phone", "mobile", "total", "ssn", "tax_id", "api_key"].map(|key| params[key].as_str());
            let expected = ["email", "phone", "phone", "card", "ssn", "ssn", "secret"].map(|kind| format!("[REDACTED:{kind}]"));
            assert_eq!(markers, expected.each_ref().map(|m| Some(m.as_str())), "{params}");
        }
    }

    /// Waits until every delivery is recorded as delivered, so that attempts are stored.
    async fn wait_for_deliveries(&self, receiver: &Receiver) {
        receiver.wait_for(EVENTS, Duration::from_secs(20)).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let page = self.expect(Method::GET, "/v1/webhooks/deliveries?limit=100", &self.keys.management, None, StatusCode::OK).await;
            let deliveries = page["data"].as_array().unwrap();
            let delivered = deliveries.iter().filter(|d| d["status"] == "delivered").count();
            if delivered >= EVENTS {
                return;
            }
            assert!(Instant::now() < deadline, "{delivered} of {EVENTS} deliveries recorded: {page}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
