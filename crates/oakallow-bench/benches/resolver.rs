//! Resolver benchmark (QUALITY.md, "resolver, in process" and "resolver vs. Cedar"): the median
//! time of one `PolicyState::resolve` decision at 100, 10,000 and 100,000 rules over a fixed pool
//! of 4,096 random requests (cycled), and of the same decision by `cedar-policy` on the same rule
//! set (see `oakallow_bench::cedar` for the encoding) over the first requests of that pool.
//!
//! Before any timing it asserts that `resolve` and the domain's `resolve_by_scan` agree on every
//! request of the pool (on its first 256 at 100,000 rules, where one scan takes about 50 ms), and
//! that Cedar permits exactly oakallow's answer on every request it is timed on (all 4,096 at 100
//! rules, 100 at 10,000, 20 at 100,000: Cedar evaluates every policy, 1 to 4 µs each, per
//! `is_authorized`); it panics otherwise. At the end it prints a Markdown table.
//!
//! ```sh
//! cargo bench -p oakallow-bench --bench resolver              # 100 / 10,000 / 100,000 rules
//! OAKALLOW_BENCH_QUICK=1 cargo bench -p oakallow-bench --bench resolver   # smoke run: 100 / 1,000
//! cargo bench -p oakallow-bench --bench resolver -- --quick   # the same
//! ```

#![expect(clippy::unwrap_used, reason = "a benchmark: a failed setup step is a failed run")]

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cedar_policy::Authorizer;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use oakallow_bench::agreement::{cedar_mismatches, scan_mismatches, steps_hit};
use oakallow_bench::cedar::{CedarRequest, CedarRuleSet, decision_calls};
use oakallow_bench::{Request, RuleSet};
use oakallow_domain::ResolvedFrom;

/// Requests in the pool (cycled by the timing loops).
const POOL: usize = 4096;
const RULE_SEED: u64 = 10;
const REQUEST_SEED: u64 = 11;

/// Sizes and times of a run.
struct Plan {
    sizes: &'static [usize],
    warm_up: Duration,
    measurement: Duration,
    samples: usize,
    quick: bool,
}

impl Plan {
    /// The full run, or the smoke run with `OAKALLOW_BENCH_QUICK=1`, `--quick`, or under
    /// `cargo test --benches` (where criterion runs each benchmark once).
    fn from_env() -> Self {
        let args: Vec<String> = std::env::args().collect();
        let has = |flag: &str| args.iter().any(|arg| arg == flag);
        let quick = std::env::var("OAKALLOW_BENCH_QUICK").is_ok_and(|v| v == "1") || has("--quick") || !has("--bench") || has("--test");
        if quick {
            Self { sizes: &[100, 1_000], warm_up: Duration::from_millis(100), measurement: Duration::from_millis(300), samples: 10, quick }
        } else {
            Self {
                sizes: &[100, 10_000, 100_000],
                warm_up: Duration::from_secs(1),
                measurement: Duration::from_secs(3),
                samples: 30,
                quick,
            }
        }
    }

    /// How many requests of the pool `resolve_by_scan` is compared on: it scans every rule 16
    /// times per request (about 50 ms at 100,000 rules), so the largest set gets a sample.
    fn scan_sample(&self, rules: usize) -> usize {
        if rules <= 10_000 { POOL } else { 256 }
    }

    /// How many requests of the pool Cedar answers (and is checked on): its cost per decision
    /// grows with the number of rules, so the larger sets get a sample.
    fn cedar_sample(&self, rules: usize) -> usize {
        if self.quick {
            return 400;
        }
        match rules {
            ..=1_000 => POOL,
            1_001..=10_000 => 100,
            _ => 20,
        }
    }
}

/// One line of the summary.
struct Row {
    rules: usize,
    oakallow_ns: Option<f64>,
    cedar_ns: Option<f64>,
    cedar_calls: f64,
    scan_compared: usize,
    cedar_compared: usize,
    steps: usize,
}

fn main() {
    let plan = Plan::from_env();
    let load_before = load_average();
    let mut criterion =
        Criterion::default().warm_up_time(plan.warm_up).measurement_time(plan.measurement).sample_size(plan.samples).configure_from_args();
    let rows: Vec<Row> = plan.sizes.iter().map(|&rules| bench_size(&mut criterion, &plan, rules)).collect();
    criterion.final_summary();
    print_table(&rows, &load_before, &load_average());
    if plan.quick {
        println!("Quick mode: a smoke run that checks agreement; its timings are not measurements.");
    }
}

/// Builds, checks and times one size.
fn bench_size(criterion: &mut Criterion, plan: &Plan, rules: usize) -> Row {
    let started = Instant::now();
    let set = RuleSet::generate(rules, RULE_SEED).unwrap();
    let pool = set.requests(POOL, REQUEST_SEED);
    eprintln!("{rules} rules: generated in {:.2?}", started.elapsed());

    let started = Instant::now();
    let scan_sample = &pool[..plan.scan_sample(rules)];
    let mismatches = scan_mismatches(&set, scan_sample);
    assert!(mismatches.is_empty(), "resolve and resolve_by_scan disagree on {} requests: {:#?}", mismatches.len(), first(&mismatches));
    let hits = steps_hit(&set, &pool);
    let missed: Vec<&str> = ResolvedFrom::ALL.iter().zip(hits).filter(|(_, n)| *n == 0).map(|(s, _)| s.as_str()).collect();
    eprintln!(
        "{rules} rules: resolve = resolve_by_scan on {} requests ({:.2?}); steps reached {}/21 {missed:?}",
        scan_sample.len(),
        started.elapsed(),
        21 - missed.len()
    );

    let mut group = criterion.benchmark_group(format!("resolve/{rules}"));
    let inputs: Vec<_> = pool.iter().map(|request| (set.org(request.org), request.input())).collect();
    let mut next = 0;
    let oakallow_ns = measure(&mut group, "oakallow", plan.samples, || {
        let (state, input) = &inputs[next];
        next = if next + 1 == inputs.len() { 0 } else { next + 1 };
        black_box(state.resolve(black_box(*input)));
    });
    let (cedar_ns, cedar_calls, cedar_compared) = bench_cedar(&mut group, plan, &set, &pool[..plan.cedar_sample(rules)]);
    group.finish();
    Row { rules, oakallow_ns, cedar_ns, cedar_calls, scan_compared: scan_sample.len(), cedar_compared, steps: 21 - missed.len() }
}

/// Encodes the set for Cedar, checks it on `sample` and times Cedar's decisions over it:
/// (median ns per decision, mean `is_authorized` calls per decision, requests compared).
fn bench_cedar(group: &mut BenchmarkGroup<'_, WallTime>, plan: &Plan, set: &RuleSet, sample: &[Request]) -> (Option<f64>, f64, usize) {
    let rules = set.base.rules().len();
    let started = Instant::now();
    let cedar = CedarRuleSet::from_rule_set(set).unwrap();
    eprintln!(
        "{rules} rules: Cedar policy sets built in {:.2?} ({} policies in the base org)",
        started.elapsed(),
        cedar.base.policy_count()
    );

    let started = Instant::now();
    let mismatches = cedar_mismatches(set, &cedar, sample).unwrap();
    assert!(
        mismatches.is_empty(),
        "Cedar disagrees with oakallow on {} of {} requests: {:#?}",
        mismatches.len(),
        sample.len(),
        first(&mismatches)
    );
    eprintln!("{rules} rules: Cedar = oakallow on {} requests ({:.2?})", sample.len(), started.elapsed());

    let requests: Vec<_> = sample.iter().map(|request| (cedar.org(request.org), CedarRequest::new(request).unwrap())).collect();
    let calls: usize = sample.iter().map(|request| decision_calls(set.org(request.org).resolve(request.input()).permission)).sum();
    let authorizer = Authorizer::new();
    // Slow decisions: the same number of calls per sample, so 10 samples cost 10 decisions, not 55.
    let samples = if rules > 1_000 { 10 } else { plan.samples };
    group.sample_size(samples);
    if rules > 1_000 {
        group.sampling_mode(SamplingMode::Flat);
    }
    let mut next = 0;
    let median = measure(group, "cedar", samples, || {
        let (org, request) = &requests[next];
        next = if next + 1 == requests.len() { 0 } else { next + 1 };
        black_box(org.decide(&authorizer, black_box(request)));
    });
    (median, calls as f64 / sample.len() as f64, sample.len())
}

/// Runs `step` under criterion and returns the median over the measured samples of the time per
/// call, the statistic criterion reports as "median" (`None` when a filter skipped it). The
/// measured samples are the last `samples` batches criterion asks for; the earlier ones are its
/// warm-up.
fn measure(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, samples: usize, mut step: impl FnMut()) -> Option<f64> {
    let recorded = RefCell::new(Vec::new());
    group.bench_function(name, |bencher| {
        bencher.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                step();
            }
            let elapsed = started.elapsed();
            recorded.borrow_mut().push(elapsed.as_nanos() as f64 / iters as f64);
            elapsed
        });
    });
    let recorded = recorded.into_inner();
    median(&recorded[recorded.len().saturating_sub(samples)..])
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

fn first(mismatches: &[String]) -> &[String] {
    &mismatches[..mismatches.len().min(3)]
}

/// `/proc/loadavg`'s three load averages (the machine is shared; the table says how busy it was).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

/// `12345` as `12,345`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut text = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

fn duration(ns: f64) -> String {
    match ns {
        _ if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        _ if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        _ => format!("{ns:.0} ns"),
    }
}

fn print_table(rows: &[Row], load_before: &str, load_after: &str) {
    println!();
    println!("| rules | oakallow median ns | Cedar median | ratio | agreement (n requests compared) |");
    println!("|---:|---:|---:|---:|---|");
    for row in rows {
        let oakallow = row.oakallow_ns.map_or("–".to_owned(), |ns| format!("{ns:.0}"));
        let cedar = row.cedar_ns.map_or("–".to_owned(), |ns| format!("{} ({:.2} calls)", duration(ns), row.cedar_calls));
        let ratio = match (row.oakallow_ns, row.cedar_ns) {
            (Some(ours), Some(theirs)) => format!("{}×", thousands((theirs / ours).round() as usize)),
            _ => "–".to_owned(),
        };
        println!(
            "| {} | {oakallow} | {cedar} | {ratio} | resolve = scan on {}, Cedar = oakallow on {}; {}/21 steps reached |",
            thousands(row.rules),
            thousands(row.scan_compared),
            thousands(row.cedar_compared),
            row.steps
        );
    }
    println!();
    println!("Cedar: per three-valued decision (`is_authorized` for `allowed`, then `requires_approval` if denied).");
    println!("Load average (1, 5, 15 min): {load_before} before, {load_after} after.");
    if let (Some(first), Some(last)) = (rows.first().and_then(|r| r.oakallow_ns), rows.last().and_then(|r| r.oakallow_ns)) {
        let (smallest, largest) = (thousands(rows[0].rules), thousands(rows[rows.len() - 1].rules));
        println!("oakallow growth from {smallest} to {largest} rules: {:.2}×", last / first);
    }
}
