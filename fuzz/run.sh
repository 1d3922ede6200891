#!/usr/bin/env bash
# `make fuzz`: builds the fuzz targets (cargo-fuzz, libFuzzer) and runs each one for a bounded
# time, one after the other, one process each; prints executions per target and any crash, and
# exits non-zero when a target crashed (or leaked, timed out, ran out of memory).
#
#   FUZZ_SECONDS=60        seconds per target
#   FUZZ_TARGETS="a b"     the targets to run (default: every target in fuzz/Cargo.toml)
#   FUZZ_SANITIZER=none    none (default: the parsers are safe Rust, and address is a second,
#                          slower full build) or address
#   FUZZ_ARGS="-max_len=4096"  more libFuzzer flags (after, so overriding, the script's own)
#   FUZZ_MERGE=1           after a clean run, add the inputs that reach new code edges to the
#                          corpus in the repository (fuzz/corpus/<target>); 0 leaves it alone
#   fuzz/run.sh --cmin     instead of fuzzing: minimise fuzz/corpus/<target> together with the
#                          cache's corpus (seed-* files kept); commit the result
#
# libFuzzer's flags are nightly-only; the stable toolchain takes them with RUSTC_BOOTSTRAP=1.
# Outside the repository, under $RELEASE_GATE_CACHE (~/.cache/release-gate):
#   fuzz-target/             CARGO_TARGET_DIR of the fuzz build (warm builds take seconds;
#                             another sanitizer rebuilds everything)
#   fuzz/corpus/<target>/     the inputs libFuzzer finds, carried from run to run
#   fuzz/artifacts/<target>/  crashing inputs (crash-*, timeout-*, oom-*, leak-*)
#   fuzz/logs/<target>.log    libFuzzer's output of the last run
# A crash is reproduced with `<binary> <artifact>` (printed), or
# `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none <target> <artifact>`.
set -euo pipefail

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${RELEASE_GATE_CACHE:-$HOME/.cache/release-gate}
SECONDS_PER=${FUZZ_SECONDS:-60}
SANITIZER=${FUZZ_SANITIZER:-none}
MERGE=${FUZZ_MERGE:-1}
CARGO_FUZZ_VERSION=0.13.2
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$CACHE/fuzz-target}
WORK=$CACHE/fuzz
NICE=(nice -n "${FUZZ_NICE:-10}")
read -r -a EXTRA_ARGS <<<"${FUZZ_ARGS:-}"

die() { printf 'fuzz: %s\n' "$*" >&2; exit 1; }
[[ $SECONDS_PER =~ ^[0-9]+$ && $SECONDS_PER -gt 0 ]] || die "FUZZ_SECONDS=$SECONDS_PER is not a positive number"
case $SANITIZER in none | address) ;; *) die "FUZZ_SANITIZER=$SANITIZER: use none or address" ;; esac
mode=fuzz
case ${1:-} in
  "") ;;
  --cmin) mode=cmin ;;
  *) die "usage: fuzz/run.sh [--cmin]" ;;
esac

# cargo-fuzz, installed once into the cache when it is not on PATH.
if command -v cargo-fuzz >/dev/null 2>&1; then
  CARGO_FUZZ=$(command -v cargo-fuzz)
else
  CARGO_FUZZ=$CACHE/tools/cargo-fuzz-$CARGO_FUZZ_VERSION/bin/cargo-fuzz
  if [[ ! -x $CARGO_FUZZ ]]; then
    printf '==> installing cargo-fuzz %s into %s\n' "$CARGO_FUZZ_VERSION" "${CARGO_FUZZ%/bin/*}" >&2
    "${NICE[@]}" cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" \
      --root "${CARGO_FUZZ%/bin/*}" >&2
  fi
fi

all_targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$FUZZ_DIR/Cargo.toml" | grep -v '^release-gate-fuzz$')
targets=${FUZZ_TARGETS:-$all_targets}
for t in $targets; do
  grep -qx "$t" <<<"$all_targets" || die "no fuzz target '$t' (targets: ${all_targets//$'\n'/ })"
done

printf '==> building the fuzz targets (sanitizer %s, CARGO_TARGET_DIR=%s)\n' "$SANITIZER" "$CARGO_TARGET_DIR" >&2
build_start=$SECONDS
# 16 codegen units: cargo-fuzz's default of 1 makes the release build of the gate and its
# dependencies several times slower on two cores, for little speed in the fuzzing itself.
(cd "$FUZZ_DIR" && "${NICE[@]}" "$CARGO_FUZZ" build -s "$SANITIZER" --codegen-units 16)
printf '==> built in %d s\n' $((SECONDS - build_start)) >&2
bin_dir=$CARGO_TARGET_DIR/$TRIPLE/release

# Corpus merges keep the smallest set of inputs that covers the same code edges (set cover;
# -use_counters=0: hit counts are not new code), so the repository's corpus stays small.
MERGE_FLAGS=(-set_cover_merge=1 -use_counters=0 -rss_limit_mb=2048 -timeout=10)

if [[ $mode == cmin ]]; then
  # Minimise each corpus in the repository, folding in what fuzzing found (the cache's corpus);
  # the seed-* files are always kept.
  for t in $targets; do
    corpus=$FUZZ_DIR/corpus/$t
    mkdir -p "$WORK/corpus/$t"
    tmp=$(mktemp -d)
    find "$corpus" -maxdepth 1 -type f -name 'seed-*' -exec cp {} "$tmp/" \;
    before=$(find "$corpus" -type f | wc -l)
    "${NICE[@]}" "$bin_dir/$t" "${MERGE_FLAGS[@]}" "$tmp" "$corpus" "$WORK/corpus/$t" \
      >"$tmp.log" 2>&1 || { cat "$tmp.log" >&2; die "$t: minimising failed"; }
    find "$corpus" -maxdepth 1 -type f -delete
    cp "$tmp"/* "$corpus/"
    printf '%-18s %5d -> %5d inputs, %s\n' "$t" "$before" "$(find "$corpus" -type f | wc -l)" \
      "$(du -sh --apparent-size "$corpus" | cut -f1)"
    rm -rf "$tmp" "$tmp.log"
  done
  exit 0
fi

printf '==> fuzzing %s s per target\n' "$SECONDS_PER" >&2
failed=()
summary=()
for t in $targets; do
  corpus=$FUZZ_DIR/corpus/$t
  work=$WORK/corpus/$t
  artifacts=$WORK/artifacts/$t
  log=$WORK/logs/$t.log
  mkdir -p "$corpus" "$work" "$artifacts" "$(dirname "$log")"
  marker=$(mktemp)
  started=$SECONDS
  rc=0
  # New inputs go to the first directory (the cache); the repository's corpus seeds the run.
  "${NICE[@]}" "$bin_dir/$t" "$work" "$corpus" \
    -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${EXTRA_ARGS[@]}" >"$log" 2>&1 || rc=$?
  took=$((SECONDS - started))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  new=$(find "$artifacts" -type f -newer "$marker" | sort)
  rm -f "$marker"
  if [[ $rc -ne 0 || -n $new ]]; then
    failed+=("$t")
    result="CRASH (exit $rc)"
    printf '\n--- %s crashed; the end of %s:\n' "$t" "$log" >&2
    grep -E -m1 -A12 "panicked at|==ERROR|ERROR: libFuzzer" "$log" >&2 || tail -30 "$log" >&2
    for a in $new; do
      printf 'input: %s\nreproduce: %s %s\n' "$a" "$bin_dir/$t" "$a" >&2
    done
  else
    result=ok
    if [[ $MERGE == 1 ]]; then
      # Only what reaches code the repository's corpus does not: the corpus stays small.
      before=$(find "$corpus" -type f | wc -l)
      "${NICE[@]}" "$bin_dir/$t" "${MERGE_FLAGS[@]}" "$corpus" "$work" \
        >>"$log" 2>&1 || die "$t: merging the corpus failed (see $log)"
      added=$(($(find "$corpus" -type f | wc -l) - before))
      [[ $added -gt 0 ]] && result="ok, +$added inputs in fuzz/corpus/$t"
    fi
  fi
  summary+=("$(printf '%-18s %5d s %12s runs %8s/s  %s' "$t" "$took" "${execs:-?}" "${per_sec:-?}" "$result")")
done

printf '\n==> fuzz summary (%s s per target, sanitizer %s; logs in %s)\n' "$SECONDS_PER" "$SANITIZER" "$WORK/logs" >&2
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  die "crashed: ${failed[*]} (inputs in $WORK/artifacts/<target>/; fix the parser and add the input as a regression test)"
fi
