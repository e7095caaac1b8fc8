//! The checks run before any timing: the fast resolver against the domain's scanning reference,
//! Cedar against oakallow, and which steps of the chain the request pool reaches.

use cedar_policy::Authorizer;
use oakallow_domain::ResolvedFrom;
use oakallow_domain::policy::resolve_by_scan;

use crate::cedar::{CedarRequest, CedarRuleSet};
use crate::{BenchError, Request, RuleSet};

/// Every request on which [`PolicyState::resolve`](oakallow_domain::policy::PolicyState::resolve)
/// and [`resolve_by_scan`] differ (permission, step or rule), described.
pub fn scan_mismatches(set: &RuleSet, pool: &[Request]) -> Vec<String> {
    pool.iter()
        .filter_map(|request| {
            let state = set.org(request.org);
            let fast = state.resolve(request.input());
            let reference = resolve_by_scan(state, request.input());
            let fast = (fast.permission, fast.resolved_from, fast.rule_id);
            (fast != reference).then(|| format!("{request:?}: resolve {fast:?}, scan {reference:?}"))
        })
        .collect()
}

/// Every request on which Cedar does not permit exactly oakallow's permission (or reports an
/// evaluation error), described with the policies that decided.
pub fn cedar_mismatches(set: &RuleSet, cedar: &CedarRuleSet, pool: &[Request]) -> Result<Vec<String>, BenchError> {
    let authorizer = Authorizer::new();
    let mut mismatches = Vec::new();
    for request in pool {
        let expected = set.org(request.org).resolve(request.input());
        let org = cedar.org(request.org);
        let cedar_request = CedarRequest::new(request)?;
        let answer = org.answer(&authorizer, &cedar_request);
        // Exactly oakallow's action permitted also means `CedarOrg::decide` returns it.
        if answer.permitted != [expected.permission] || !answer.errors.is_empty() {
            mismatches.push(format!(
                "{request:?}: oakallow {} ({}), Cedar permits {:?}; {:?}; errors {:?}",
                expected.permission.as_str(),
                expected.resolved_from.as_str(),
                answer.permitted,
                answer.reasons,
                answer.errors
            ));
        }
    }
    Ok(mismatches)
}

/// How many requests of the pool each step of the chain decides, in [`ResolvedFrom::ALL`] order.
pub fn steps_hit(set: &RuleSet, pool: &[Request]) -> [usize; 21] {
    let mut counts = [0; 21];
    for request in pool {
        let step = set.org(request.org).resolve(request.input()).resolved_from;
        if let Some(index) = ResolvedFrom::ALL.iter().position(|s| *s == step) {
            counts[index] += 1;
        }
    }
    counts
}

/// The steps no request of the pool reaches.
pub fn steps_missed(set: &RuleSet, pool: &[Request]) -> Vec<ResolvedFrom> {
    let counts = steps_hit(set, pool);
    ResolvedFrom::ALL.iter().zip(counts).filter(|(_, count)| *count == 0).map(|(step, _)| *step).collect()
}
