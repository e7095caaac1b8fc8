//! What every operation has in common, written once instead of in each handler's annotation: the
//! refusals any request can meet (no or wrong key, too many requests, a malformed query or body,
//! an unknown id, a database that cannot be reached), and the links from each create and each list to the
//! operations on the objects they name (for clients and for stateful API fuzzing).

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

/// The refusals an operation can meet because of how it is called, by status.
fn common_refusals(operation: &Operation) -> Vec<(&'static str, &'static str)> {
    let parameters =
        || operation.parameters.iter().flatten().filter_map(|p| if let RefOr::T(p) = p { Some(&p.parameter_in) } else { None });
    let mut refusals = Vec::new();
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        refusals.push(("401", "`unauthenticated`: no key, an unknown key or a revoked key"));
        refusals.push(("403", "`forbidden_tier`: this key's tier may not call this operation"));
        refusals.push(("429", "`rate_limited`: this key or its org made too many requests; retry after `Retry-After` seconds"));
        refusals.push(("500", "`internal`: a bug or unreadable data; nothing internal is returned"));
    }
    refusals.push(("503", "`unavailable`: the database cannot be reached, or the server is busy on every connection; retry"));
    if operation.request_body.is_some() {
        refusals.push(("400", "`invalid_request`: malformed JSON, unknown fields, wrong types or invalid values"));
        refusals.push(("413", "`payload_too_large`: the body is over 1 MiB"));
    }
    if parameters().any(|place| matches!(place, ParameterIn::Query)) {
        refusals.push(("400", "`invalid_request`: an unknown query parameter or an invalid value"));
    }
    if parameters().any(|place| matches!(place, ParameterIn::Path)) {
        refusals.push(("404", "`not_found`: no such id in this org"));
    }
    refusals
}

/// Documents [`common_refusals`] on every operation that does not already describe them.
pub(super) fn add_common_refusals(document: &mut OpenApi) {
    for item in document.paths.paths.values_mut() {
        for operation in super::operations_mut(item) {
            for (status, description) in common_refusals(operation) {
                let error = Content::new(Some(Ref::from_schema_name("ErrorBody")));
                let response = ResponseBuilder::new().description(description).content("application/json", error).build();
                operation.responses.responses.entry(status.to_owned()).or_insert(RefOr::T(response));
            }
        }
    }
}

/// Links each `POST <collection>` that answers 201 to the operations on `<collection>/{id}`, with
/// `id` taken from the answer, and each `GET <collection>` list to them, with the first item's id.
pub(super) fn add_links(document: &mut OpenApi) {
    let targets: Vec<(String, String)> = document
        .paths
        .paths
        .iter_mut()
        .flat_map(|(path, item)| super::operations_mut(item).filter_map(move |op| Some((path.clone(), op.operation_id.clone()?))))
        .collect();
    for (path, item) in document.paths.paths.iter_mut() {
        let prefix = format!("{path}/{{id}}");
        let linked: Vec<&String> =
            targets.iter().filter(|(target, _)| target == &prefix || target.starts_with(&format!("{prefix}/"))).map(|(_, id)| id).collect();
        let answers = [(item.post.as_mut(), "201", "$response.body#/id"), (item.get.as_mut(), "200", "$response.body#/data/0/id")];
        for (operation, status, id) in answers {
            let Some(RefOr::T(answer)) = operation.and_then(|op| op.responses.responses.get_mut(status)) else { continue };
            for operation_id in &linked {
                let link = LinkBuilder::new().operation_id(*operation_id).parameter("id", id).build();
                answer.links.insert((*operation_id).clone(), RefOr::T(link));
            }
        }
    }
}
