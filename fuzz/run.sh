#!/usr/bin/env bash
# Runs the parser fuzz targets (cargo fuzz: libFuzzer, address sanitizer, debug assertions).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Builds every target once, then runs each (all of them unless named) for SECONDS seconds
# (default 20), starting from the checked-in seeds (fuzz/seeds/<target>) and from the working
# corpus of earlier runs (fuzz/corpus/<target>, not checked in). Fails if any target crashes,
# leaks or times out; the input that did it is kept in fuzz/artifacts/<target>/ and the command
# that replays it is printed. QUALITY.md's long run is `fuzz/run.sh 600`.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); RUSTC_BOOTSTRAP lets it use the
# sanitizer on the stable toolchain. OAKALLOW_FUZZ_FEATURES is passed to cargo as --features.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-20}"
shift || true
export RUSTC_BOOTSTRAP=1
features=()
if [[ -n "${OAKALLOW_FUZZ_FEATURES:-}" ]]; then
  features=(--features "$OAKALLOW_FUZZ_FEATURES")
fi

if (($# > 0)); then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

started=$SECONDS
cargo fuzz build "${features[@]}"
echo "fuzz: build took $((SECONDS - started)) s"

failed=()
mkdir -p target/logs
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="target/logs/$target.log"
  # The first corpus directory receives what the run discovers; the seeds are only read.
  if cargo fuzz run "${features[@]}" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $target ok: ${runs:-?} runs in $seconds s, corpus $(find "corpus/$target" -type f | wc -l) inputs"
  else
    failed+=("$target")
    echo "fuzz: $target FAILED; the end of its log ($log):"
    tail -n 60 "$log"
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: failed: ${failed[*]}. Replay with: RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>"
  exit 1
fi
echo "fuzz: every target ran $seconds s without a finding (total $((SECONDS - started)) s)"
