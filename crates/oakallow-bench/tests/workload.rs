//! The benchmark workload is what it claims to be: the generator is deterministic, its request
//! pool reaches every step of the chain, the fast resolver agrees with the reference scan, and
//! the Cedar encoding gives oakallow's answer on every request (so `cargo test` guards the
//! encoding that the benchmark compares against).

use oakallow_bench::agreement::{cedar_mismatches, scan_mismatches, steps_hit, steps_missed};
use oakallow_bench::cedar::CedarRuleSet;
use oakallow_bench::generate::{LEVELS, ORG_WILDCARD};
use oakallow_bench::{Request, RuleSet};
use oakallow_domain::ResolvedFrom;

const RULES: usize = 300;
/// Fewer for Cedar: unoptimised, it parses and evaluates slowly.
const CEDAR_RULES: usize = 120;
const SEED: u64 = 7;

/// Fails with the number of mismatches and the first few.
fn assert_none(mismatches: &[String]) {
    assert!(mismatches.is_empty(), "{} mismatches, the first: {:#?}", mismatches.len(), &mismatches[..mismatches.len().min(3)]);
}

fn pool(set: &RuleSet) -> Vec<Request> {
    set.requests(4096, SEED + 1)
}

#[test]
fn the_pool_reaches_every_step_and_the_scan_agrees() {
    let set = RuleSet::generate(RULES, SEED).unwrap();
    assert_eq!(set.base.rules().len(), RULES);
    assert_eq!(set.catch_all.rules().len(), RULES + 1);
    for level in 0..LEVELS {
        assert_eq!(set.levels[level].is_empty(), level == ORG_WILDCARD, "level {level}");
    }
    let pool = pool(&set);
    assert_eq!(steps_missed(&set, &pool), Vec::<ResolvedFrom>::new(), "steps hit: {:?}", steps_hit(&set, &pool));
    assert_none(&scan_mismatches(&set, &pool));
}

#[test]
fn the_generator_is_deterministic() {
    let one = RuleSet::generate(RULES, SEED).unwrap();
    let two = RuleSet::generate(RULES, SEED).unwrap();
    assert_eq!(one.levels, two.levels);
    assert_eq!(pool(&one), pool(&two));
    let specs = |set: &RuleSet| set.base.rules().values().map(|rule| set.base.rule_spec(rule)).collect::<Vec<_>>();
    assert_eq!(specs(&one), specs(&two));
    assert_eq!(
        one.base.tools().values().map(|t| one.base.tool_spec(t)).collect::<Vec<_>>(),
        two.base.tools().values().map(|t| two.base.tool_spec(t)).collect::<Vec<_>>()
    );
}

#[test]
fn cedar_gives_oakallows_answer() {
    let set = RuleSet::generate(CEDAR_RULES, SEED).unwrap();
    let cedar = CedarRuleSet::from_rule_set(&set).unwrap();
    // A sample that still reaches every step.
    let sample: Vec<Request> = pool(&set).into_iter().take(400).collect();
    assert_eq!(steps_missed(&set, &sample), Vec::<ResolvedFrom>::new());
    assert_none(&cedar_mismatches(&set, &cedar, &sample).unwrap());
}
