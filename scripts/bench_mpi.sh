#!/bin/bash
# The MPI part of `make bench` (scripts/bench.sh runs it last; it runs
# alone too): wall times of one process against 2 ranks (mpirun, the same
# cores in all: each rank gets half the threads), interleaved and repeated
# BENCH_MPI_REPS times (default 3; medians), on the same data cache:
#  - the Kaggle house 5-fold (configs/kaggle_house.yaml, BENCH_KFOLD_EPOCHS
#    epochs, default the book's 100): kfold alone, and over 2 ranks;
#  - the MLP (configs/mlp_fashion.yaml, BENCH_MPI_EPOCHS epochs, default 3):
#    run alone, and run --data-parallel over 2 ranks.
# Usage: scripts/bench_mpi.sh   (D2LTRAIN=path picks the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${D2LTRAIN:-./d2ltrain}
threads=${BENCH_THREADS:-$(nproc)}
kfold_epochs=${BENCH_KFOLD_EPOCHS:-100}
mlp_epochs=${BENCH_MPI_EPOCHS:-3}
reps=${BENCH_MPI_REPS:-3}
cache=build/bench-data
out=build/bench
mkdir -p "$out"
if ! command -v mpirun >/dev/null || "$bin" info | grep -q 'MPI: not built in'; then
    echo "mpi: needs mpirun and d2ltrain built with MPI (scripts/install-deps.sh installs Open MPI)"
    exit 0
fi
half=$(( threads > 1 ? threads / 2 : 1 ))
# unbound, and waiting ranks yield their core: ranks bound to a core each,
# spinning in the all-reduce, ran 5-10x slower on a loaded 2-core machine
# (docs/MPI.md)
mpirun=(mpirun --oversubscribe --allow-run-as-root --bind-to none --mca mpi_yield_when_idle 1 -np 2)
"$bin" fetch fashion_mnist --data-dir "$cache" --quiet >/dev/null
kaggle=../shared/data/kaggle_house
have_kaggle=0
if [ -d "$kaggle" ]; then
    kaggle=$(cd "$kaggle" && pwd)
    "$bin" fetch kaggle_house --data-dir "$cache" --mirror "file://$kaggle/" --quiet >/dev/null
    have_kaggle=1
fi

# wall NAME CMD...: appends the command's wall seconds to $out/mpi-NAME.times
wall() {
    local name=$1 start end
    shift
    start=$(date +%s.%N)
    "$@" >"$out/mpi-$name.txt" 2>"$out/mpi-$name.err"
    end=$(date +%s.%N)
    echo "$end - $start" | bc >>"$out/mpi-$name.times"
}
median() { sort -g "$1" | awk '{ t[NR] = $1 } END { print NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'; }

rm -f "$out"/mpi-*.times
common=(--device cpu --data-dir "$cache" --quiet)
for _ in $(seq "$reps"); do
    if [ $have_kaggle = 1 ]; then
        wall kfold1 "$bin" kfold configs/kaggle_house.yaml "${common[@]}" --threads "$threads" \
            --set train.epochs="$kfold_epochs"
        wall kfold2 "${mpirun[@]}" "$bin" kfold configs/kaggle_house.yaml "${common[@]}" --threads "$half" \
            --set train.epochs="$kfold_epochs"
    fi
    wall mlp1 "$bin" run configs/mlp_fashion.yaml "${common[@]}" --threads "$threads" --set train.epochs="$mlp_epochs"
    wall mlp2 "${mpirun[@]}" "$bin" run configs/mlp_fashion.yaml "${common[@]}" --threads "$half" --data-parallel \
        --set train.epochs="$mlp_epochs"
done
# compare NAME1 NAME2 WHAT: medians and their ratio, and whether the two printed the same last line
compare() {
    local a b same
    a=$(median "$out/mpi-$1.times")
    b=$(median "$out/mpi-$2.times")
    same=$([ "$(tail -n 1 "$out/mpi-$1.txt" | sed 's/ time .*//')" = "$(tail -n 1 "$out/mpi-$2.txt" | sed 's/ time .*//')" ] &&
        echo "same last line" || echo "last lines differ")
    awk -v a="$a" -v b="$b" -v w="$3" -v s="$same" -v n="$reps" \
        'BEGIN { printf "mpi: %s: 1 process %.2f s, 2 ranks %.2f s wall (medians of %d) = %.2fx; %s\n", w, a, b, n, a / b, s }'
}
[ $have_kaggle = 1 ] && compare kfold1 kfold2 "kaggle 5-fold x $kfold_epochs epochs"
[ $have_kaggle = 1 ] || echo "mpi: $kaggle not found (the Kaggle house CSVs): no k-fold"
compare mlp1 mlp2 "mlp $mlp_epochs epochs, run vs run --data-parallel"
# the training itself, without the start-up (mpirun, each rank's data and device)
epoch_time() { awk '/^epoch/ && ++n > 1 { sub("s$", "", $NF); s += $NF; k++ } END { printf "%.3f", k ? s / k : 0 }' "$1"; }
echo "mpi: mlp per epoch (mean of epochs 2..$mlp_epochs, last repetition): 1 process $(epoch_time "$out/mpi-mlp1.txt") s," \
    "2 ranks $(epoch_time "$out/mpi-mlp2.txt") s"
