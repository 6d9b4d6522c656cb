#!/bin/bash
# The sweep benchmark (part of scripts/bench.sh, runnable alone): the
# 12-point MLP grid of issue 16 at 3 epochs (d2l 4.3's learning rates and
# init std, two batch sizes), as 12 `run`s one after another in a shell loop
# against one `sweep` (its points side by side on the CPU threads) and,
# when mpirun is here and the binary has MPI, `mpirun -np 2 sweep` (6
# points per rank, each rank on threads/2 threads); wall seconds and the
# ratios. A point that diverges fails in both the same way
# (the loop and the sweep then exit non-zero: counted, not fatal).
# Usage: scripts/bench_sweep.sh [EPOCHS]   (default 3; D2LTRAIN, BENCH_THREADS
# and the data cache build/bench-data as scripts/bench.sh; BENCH_MPIRUN the
# launcher, default mpirun --oversubscribe --allow-run-as-root --bind-to none)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${D2LTRAIN:-./d2ltrain}
epochs=${1:-3}
threads=${BENCH_THREADS:-$(nproc)}
cache=build/bench-data
out=build/bench
mkdir -p "$out"
"$bin" fetch fashion_mnist --data-dir "$cache" --quiet >/dev/null
lrs=(0.1 0.3 1)
stds=(0.01 1)
batches=(256 128)
common=(--device cpu --threads "$threads" --data-dir "$cache" --quiet --set train.epochs="$epochs")

failed=0
: >"$out/sweep_loop.txt"
start=$(date +%s.%N)
for lr in "${lrs[@]}"; do
    for std in "${stds[@]}"; do
        for batch in "${batches[@]}"; do
            "$bin" run configs/mlp_fashion.yaml "${common[@]}" --set optimizer.sgd.lr="$lr" \
                --set init.weight.normal.std="$std" --set data.batch_size="$batch" >>"$out/sweep_loop.txt" 2>&1 ||
                failed=$((failed + 1))
        done
    done
done
end=$(date +%s.%N)
loop=$(echo "$end - $start" | bc)

grid() { local IFS=,; echo "$*"; }
# one sweep of the grid: LAUNCHER... -- OUTPUT; its wall seconds into $seconds, exit into $status
timed_sweep() {
    local launcher=() start end
    while [ "$1" != -- ]; do launcher+=("$1"); shift; done
    start=$(date +%s.%N)
    status=0
    "${launcher[@]}" "$bin" sweep configs/mlp_fashion.yaml "${common[@]}" --grid optimizer.sgd.lr="$(grid "${lrs[@]}")" \
        --grid init.weight.normal.std="$(grid "${stds[@]}")" --grid data.batch_size="$(grid "${batches[@]}")" \
        >"$2" 2>&1 || status=$?
    end=$(date +%s.%N)
    seconds=$(echo "$end - $start" | bc)
}
timed_sweep -- "$out/sweep.txt"
sweep=$seconds
points=$(grep -c '^point ' "$out/sweep.txt" || true)
awk -v l="$loop" -v s="$sweep" -v e="$epochs" -v t="$threads" -v f="$failed" -v p="$points" -v st="$status" \
    'BEGIN { printf "sweep: 12 points of the MLP grid x %d epochs, %d threads: 12 runs in a loop %.2f s (%d failed), sweep %.2f s (%d point lines, exit %d) = %.2fx faster\n",
             e, t, l, f, s, p, st, l / s }'

if ! command -v mpirun >/dev/null || "$bin" info | grep -q 'MPI: not built in'; then
    echo "sweep: mpirun -np 2 left out (no mpirun, or d2ltrain built without MPI)"
    exit 0
fi
read -r -a mpirun <<<"${BENCH_MPIRUN:-mpirun --oversubscribe --allow-run-as-root --bind-to none}"
common[3]=$(((threads + 1) / 2)) # --threads: the cores shared by the 2 ranks
timed_sweep "${mpirun[@]}" -np 2 -- "$out/sweep_mpi.txt"
points=$(grep -c '^point ' "$out/sweep_mpi.txt" || true)
awk -v l="$loop" -v s="$sweep" -v m="$seconds" -v t="${common[3]}" -v p="$points" -v st="$status" \
    'BEGIN { printf "sweep: mpirun -np 2 sweep (%d threads a rank) %.2f s (%d point lines, exit %d) = %.2fx the loop, %.2fx the one-process sweep\n",
             t, m, p, st, l / m, s / m }'
