//! The published OpenAPI document held against real answers. [`Contract`] sends requests and
//! checks each answer against the document the server publishes: its status must be documented
//! for the operation, its content type must be one the document names, and its body must validate
//! against the schema *strictly*: every object is closed (a field the document does not name
//! fails, as it does in a strict generated client), `date-time` and the `int32`/`int64` ranges
//! are enforced, and `$ref`s resolve into `components`. A request the server accepted must
//! validate against the documented request body too (a schema that refuses what the server
//! takes, e.g. two component schemas of one name, fails here). The scenario in [`scenario`] calls
//! every operation until it succeeds, and the test fails if any documented operation never did.

mod scenario;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use oakallow_testkit::{Backend, TestApp};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

/// Checks real answers against the served OpenAPI document.
pub struct Contract<'a> {
    /// The server under test.
    pub app: &'a TestApp,
    document: Value,
    /// The document's components made strict, for answers.
    components: Value,
    succeeded: Mutex<BTreeSet<String>>,
    violations: Mutex<BTreeMap<String, String>>,
}

impl<'a> Contract<'a> {
    /// Reads the document the server publishes.
    pub async fn new(app: &'a TestApp) -> Self {
        let (status, document) = app.call(Method::GET, "/v1/openapi.json", None, None).await;
        assert_eq!(status, StatusCode::OK);
        let mut components = document["components"].clone();
        strict(&mut components);
        Self { app, document, components, succeeded: Mutex::new(BTreeSet::new()), violations: Mutex::new(BTreeMap::new()) }
    }

    /// Sends a request (key as `X-API-Key`), checks that it answers `expected` and that the answer
    /// is what the document says, and returns the body.
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<&Value>, expected: u16) -> Value {
        let mut request = self.app.request(method.clone(), path);
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        assert_eq!(status.as_u16(), expected, "{method} {path}: {text}");
        let operation = self.operation(&method, path);
        let answer = self.check(&operation, &method, path, status, content_type.as_deref(), &text);
        if status.is_success() {
            if let Some(body) = body {
                self.check_request(&operation, &method, status, body);
            }
            self.succeeded.lock().unwrap().insert(operation);
        }
        answer
    }

    /// `GET` with a key.
    pub async fn get(&self, path: &str, key: &str, expected: u16) -> Value {
        self.call(Method::GET, path, Some(key), None, expected).await
    }

    /// `POST` JSON with a key.
    pub async fn post(&self, path: &str, key: &str, body: Value, expected: u16) -> Value {
        self.call(Method::POST, path, Some(key), Some(&body), expected).await
    }

    /// `PATCH` JSON with a key.
    pub async fn patch(&self, path: &str, key: &str, body: Value, expected: u16) -> Value {
        self.call(Method::PATCH, path, Some(key), Some(&body), expected).await
    }

    /// `PUT` JSON with a key.
    pub async fn put(&self, path: &str, key: &str, body: Value, expected: u16) -> Value {
        self.call(Method::PUT, path, Some(key), Some(&body), expected).await
    }

    /// `DELETE` with a key.
    pub async fn delete(&self, path: &str, key: &str, expected: u16) -> Value {
        self.call(Method::DELETE, path, Some(key), None, expected).await
    }

    /// Every way an answer differed from the document so far: the first one of each operation
    /// and status.
    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().values().cloned().collect()
    }

    fn violated(&self, operation: &str, status: StatusCode, violation: String) {
        self.violations.lock().unwrap().entry(format!("{operation} {status}")).or_insert(violation);
    }

    /// The documented operations that never answered 2xx.
    pub fn never_succeeded(&self) -> Vec<String> {
        let succeeded = self.succeeded.lock().unwrap();
        let paths = self.document["paths"].as_object().unwrap();
        let all = paths
            .iter()
            .flat_map(|(template, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {template}", m.to_uppercase())));
        all.filter(|operation| !succeeded.contains(operation)).collect()
    }

    /// `"GET /v1/tools/{id}"`: the documented operation `path` calls (a literal path wins over
    /// a template); panics when the document has none.
    fn operation(&self, method: &Method, path: &str) -> String {
        let path = path.split('?').next().unwrap();
        let paths = self.document["paths"].as_object().unwrap();
        let mut candidates: Vec<&String> = paths.keys().filter(|template| matches_template(template, path)).collect();
        candidates.sort_by_key(|template| template.matches('{').count());
        let method_name = method.as_str().to_lowercase();
        let template = candidates.into_iter().find(|t| paths[t.as_str()].get(&method_name).is_some());
        let template = template.unwrap_or_else(|| panic!("{method} {path} is not documented"));
        format!("{method} {template}")
    }

    fn check(&self, operation: &str, method: &Method, path: &str, status: StatusCode, content_type: Option<&str>, text: &str) -> Value {
        let (_, template) = operation.split_once(' ').unwrap();
        let responses = &self.document["paths"][template][method.as_str().to_lowercase()]["responses"];
        let documented = responses.get(status.as_str()).or_else(|| responses.get("default"));
        let body = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
        let Some(documented) = documented else {
            self.violated(operation, status, format!("{operation}: status {status} is not documented ({path}: {text})"));
            return body;
        };
        let Some(content) = documented.get("content").and_then(Value::as_object) else {
            if !text.is_empty() {
                self.violated(operation, status, format!("{operation} {status}: the document says no body, the server sent {text}"));
            }
            return body;
        };
        let media = content_type.map(|c| c.split(';').next().unwrap().trim().to_owned()).unwrap_or_default();
        let Some(media_type) = content.get(&media) else {
            let documented: Vec<_> = content.keys().collect();
            self.violated(
                operation,
                status,
                format!("{operation} {status}: content type {media:?} is not documented (documented: {documented:?})"),
            );
            return body;
        };
        if let (Some(schema), "application/json") = (media_type.get("schema"), media.as_str()) {
            let mut schema = schema.clone();
            strict(&mut schema);
            self.validate(operation, status, "answer", &schema, &self.components, &body);
        }
        body
    }

    /// A body the server accepted must be one the document allows.
    fn check_request(&self, operation: &str, method: &Method, status: StatusCode, body: &Value) {
        let (_, template) = operation.split_once(' ').unwrap();
        let request = &self.document["paths"][template][method.as_str().to_lowercase()]["requestBody"];
        if let Some(schema) = request["content"]["application/json"].get("schema") {
            // As published: a request is held to what a client reads in the document.
            self.validate(operation, status, "accepted request", schema, &self.document["components"], body);
        }
    }

    fn validate(&self, operation: &str, status: StatusCode, what: &str, schema: &Value, components: &Value, body: &Value) {
        let root = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "components": components, "allOf": [schema]});
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{operation} {status}: the documented schema does not compile: {e}"));
        let errors: Vec<String> = validator.iter_errors(body).take(4).map(|e| format!("{e} at {:?}", e.instance_path().as_str())).collect();
        if !errors.is_empty() {
            self.violated(
                operation,
                status,
                format!("{operation} {status}: the {what} breaks the published schema:\n    {}\n    {what}: {body}", errors.join("\n    ")),
            );
        }
    }
}

fn matches_template(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b || (a.starts_with('{') && !b.is_empty()) => {}
            _ => return false,
        }
    }
}

/// Makes a schema as strict as a strict client: objects with named properties admit no others,
/// and integer formats bound their values.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            bound_integer_format(map);
            map.values_mut().for_each(strict);
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

fn bound_integer_format(map: &mut Map<String, Value>) {
    let (low, high) = match map.get("format").and_then(Value::as_str) {
        Some("int32") => (json!(i32::MIN), json!(i32::MAX)),
        Some("int64") => (json!(i64::MIN), json!(i64::MAX)),
        Some("uint32") => (json!(0), json!(u32::MAX)),
        Some("uint64") => (json!(0), json!(u64::MAX)),
        _ => return,
    };
    map.entry("minimum").or_insert(low);
    map.entry("maximum").or_insert(high);
}

async fn every_operation_answers_as_documented(backend: Backend) {
    let app = TestApp::start(backend, false).await;
    let contract = Contract::new(&app).await;
    scenario::run(&contract).await;
    let violations = contract.violations();
    assert!(violations.is_empty(), "{} answers differ from the published document:\n{}", violations.len(), violations.join("\n"));
    let missing = contract.never_succeeded();
    assert!(missing.is_empty(), "documented operations the scenario never saw succeed: {missing:#?}");
}

#[tokio::test]
async fn every_operation_answers_as_documented_on_sqlite() {
    every_operation_answers_as_documented(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn every_operation_answers_as_documented_on_postgres() {
    every_operation_answers_as_documented(Backend::Postgres).await;
}

/// Every `$ref` in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                found.push(reference.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[test]
fn the_published_document_is_well_formed() {
    let document = serde_json::to_value(oakallow_server::openapi()).unwrap();
    let mut ids = BTreeSet::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {template} has no operationId"));
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice ({method} {template})");
            for requirement in operation["security"].as_array().into_iter().flatten() {
                let tiers = requirement.as_object().unwrap().values().flat_map(|roles| roles.as_array().unwrap());
                assert!(tiers.clone().count() > 0, "{method} {template} does not name the key tiers it accepts");
                assert!(tiers.into_iter().all(|t| ["management", "standard", "approver"].contains(&t.as_str().unwrap())));
            }
        }
    }
    let mut found = Vec::new();
    references(&document, &mut found);
    for reference in found {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("{reference} points outside the document"));
        assert!(document.pointer(pointer).is_some(), "{reference} does not resolve");
    }
}
