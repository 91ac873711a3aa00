#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each with libFuzzer through
# cargo fuzz, on the stable toolchain (RUSTC_BOOTSTRAP lets cargo fuzz pass
# its -Z flags; no sanitizer, so it runs at full speed), and prints the
# executions per target. Install once: cargo install cargo-fuzz --locked
#   fuzz/run.sh 60
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-60}"
export RUSTC_BOOTSTRAP=1
total=0
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    dict=()
    [[ -f "$target.dict" ]] && dict=("-dict=$target.dict")
    [[ "$target" == envelope_* && -f envelope.dict ]] && dict=("-dict=envelope.dict")
    log=$(cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" "${dict[@]}" -print_final_stats=1 2>&1) || {
        echo "$log" | tail -40
        echo "FAIL: $target found a crash; see fuzz/artifacts/$target" >&2
        exit 1
    }
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' <<<"$log" | grep -Eo '[0-9]+$' || echo 0)
    cov=$(grep -Eo 'cov: [0-9]+' <<<"$log" | tail -1)
    printf '%-24s %12s runs  %s  0 crashes\n' "$target" "$runs" "$cov"
    total=$((total + runs))
done
printf '%-24s %12s runs\n' "total" "$total"
