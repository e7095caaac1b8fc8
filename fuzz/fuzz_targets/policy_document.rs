//! Policy documents (`PUT /v1/policy`, `oakallow apply`), read from any bytes as JSON and as YAML
//! as the server reads them. A document that reads is planned onto an empty policy (the domain
//! path of the service) with its tool schemas compiled; when it applies, applying it again
//! changes nothing, and the exported policy is a backup that reads back and re-applies, to an
//! empty org and as a no-op to the same one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oakallow_domain::Timestamp;
use oakallow_domain::policy::{PolicyDocument, PolicyState, plan_document};
use oakallow_service::schema;

fuzz_target!(|data: &[u8]| {
    if let Ok(document) = serde_json::from_slice::<PolicyDocument>(data) {
        plan(document);
    }
    if let Ok(document) = serde_norway::from_slice::<PolicyDocument>(data) {
        plan(document);
    }
    // `oakallow apply -f policy.yaml` reads YAML as a generic value first.
    let _ = serde_norway::from_slice::<serde_json::Value>(data);
});

fn plan(document: PolicyDocument) {
    for tool in document.tools.iter().flatten() {
        if let Some(parameters_schema) = &tool.parameters_schema {
            let _ = schema::compile(parameters_schema);
        }
    }
    let now = Timestamp::from_micros(0);
    let Ok(plan) = plan_document(&PolicyState::default(), document.clone(), now) else { return };
    let again = plan_document(&plan.state, document, now).expect("a document that applied applies again");
    assert!(again.changes.is_empty() && again.diff.is_empty(), "applying a document twice changed something: {:?}", again.diff);

    let exported = plan.state.to_document();
    let text = serde_json::to_vec(&exported).expect("a policy serializes");
    let reread: PolicyDocument = serde_json::from_slice(&text).expect("an exported policy reads back");
    assert_eq!(reread, exported);
    plan_document(&PolicyState::default(), reread.clone(), now).expect("an exported policy applies to an empty org");
    let restored = plan_document(&plan.state, reread, now).expect("an exported policy applies to its own org");
    assert!(restored.changes.is_empty(), "re-applying the exported policy changed something: {:?}", restored.diff);
}
