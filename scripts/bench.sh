#!/bin/bash
# CPU benchmark of the d2l models, d2ltrain against PyTorch, all numbers from
# one run on this machine, both sides on the same number of threads
# (BENCH_THREADS, default the cores available to the process, d2ltrain's own
# default):
#  - configs/mlp_fashion.yaml (d2l 4.3): d2ltrain's seconds per epoch (median
#    of epochs 2..N; epoch 1 pays the first-touch costs) and the whole
#    process's wall time;
#  - where the time goes: the share of CPU samples in oneDNN (perf) and each
#    op of the training step timed alone, then the floor: the epoch's GEMMs
#    alone at the best oneDNN gives (scripts/bench_ops.c, run when BENCH_OPS
#    names its binary, as `make bench` does); d2ltrain's epoch as a multiple
#    of the floor, and again from BENCH_PAIRS (default 5) floors and epochs
#    interleaved (a VM's speed drifts between minutes): best against best,
#    and the median of the rounds; and both on one thread;
#  - PyTorch (Debian's python3-torch; `make bench` installs it, with
#    python3-pandas for the k-fold program): for the MLP, softmax regression
#    (configs/softmax_fashion.yaml, d2l 3.7) and dropout
#    (configs/dropout_fashion.yaml, d2l 4.6) the data-resident version
#    (scripts/bench_torch.py), twice when libblas.so.3 is OpenBLAS: as Debian
#    ships it (OpenBLAS picks its kernels from the processor's model and falls
#    back to older ones for models 0.3.21 does not know: "shipped") and with
#    OPENBLAS_CORETYPE set to the kernels the processor's instructions allow
#    ("own kernels"); for the MLP also the d2l DataLoader version; and the
#    ratios;
#  - the Kaggle house 5-fold run (configs/kaggle_house.yaml, d2l 4.10):
#    d2ltrain kfold's wall time against the book's PyTorch program
#    (scripts/bench_torch_kaggle.py), shipped and own kernels;
#  - over MPI (scripts/bench_mpi.sh): the Kaggle 5-fold on 1 and 2 ranks, and
#    the MLP alone against run --data-parallel on 2 ranks;
#  - a 12-point sweep of the MLP grid at 3 epochs: 12 `run`s in a loop
#    against one `sweep` (scripts/bench_sweep.sh, which runs alone too);
#  - the load average before and after: the machine may be shared, and
#    OpenMP's threads suffer most from that (docs/BENCH.md).
# Usage: scripts/bench.sh [EPOCHS]   (default 10; D2LTRAIN=path picks the
# binary; BENCH_KFOLD_EPOCHS=N shortens the k-fold runs, default the book's
# 100; BENCH_PERF=0 skips perf: a quick check of the script itself is
# `BENCH_PERF=0 BENCH_KFOLD_EPOCHS=5 scripts/bench.sh 2`)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${D2LTRAIN:-./d2ltrain}
epochs=${1:-10}
kfold_epochs=${BENCH_KFOLD_EPOCHS:-100}
threads=${BENCH_THREADS:-$(nproc)}
export BENCH_THREADS=$threads
cache=build/bench-data
out=build/bench
mkdir -p "$out"
"$bin" fetch fashion_mnist --data-dir "$cache" --quiet >/dev/null

# median seconds of the `time Xs` fields of epochs 2..N (the median, since
# a shared machine's steal time makes single epochs jump)
epoch_median() {
    awk '/^epoch/ { n++; if (n > 1) { sub("s$", "", $NF); t[++k] = $NF } }
         END { if (!k) { print "nan"; exit }
               for (i = 2; i <= k; i++) for (j = i; j > 1 && t[j - 1] > t[j]; j--) { x = t[j]; t[j] = t[j - 1]; t[j - 1] = x }
               printf "%.3f", k % 2 ? t[(k + 1) / 2] : (t[k / 2] + t[k / 2 + 1]) / 2 }' "$1"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" info | grep '^CPU GEMM' || true
start=$(date +%s.%N)
"$bin" run configs/mlp_fashion.yaml --device cpu --threads "$threads" --data-dir "$cache" --quiet --timing \
    --set train.epochs="$epochs" >"$out/d2ltrain.txt" 2>"$out/d2ltrain.err"
end=$(date +%s.%N)
ours=$(epoch_median "$out/d2ltrain.txt")
tail -n 1 "$out/d2ltrain.txt"
printf 'd2ltrain cpu, %s threads: %s s/epoch, whole run %.2f s (%s epochs, data loading included)\n' \
    "$threads" "$ours" "$(echo "$end - $start" | bc)" "$epochs"
grep '^timing:' "$out/d2ltrain.err" || true

if [ "${BENCH_PERF:-1}" = 0 ]; then
    echo "where the time goes: perf skipped (BENCH_PERF=0)"
elif command -v perf >/dev/null && perf record -q -o "$out/perf.data" "$bin" run configs/mlp_fashion.yaml --device cpu \
    --threads "$threads" --data-dir "$cache" --quiet --set train.epochs=3 >/dev/null 2>&1; then
    # oneDNN's kernels are JIT code ("[JIT] tid N"), its threads libgomp's
    perf report -i "$out/perf.data" --sort dso --stdio 2>/dev/null | awk '
        /^ +[0-9.]+%/ { p = $1; sub("%", "", p); d = $2
                        if (d ~ /^\[JIT\]|libdnnl|libgomp/) dnnl += p; else if (d ~ /kernel/) kernel += p
                        else if (d == "d2ltrain") own += p; else other += p }
        END { printf "where the time goes (3 epochs, perf samples): oneDNN (JIT kernels, library, OpenMP) %.1f%%, kernel %.1f%%, d2ltrain'"'"'s own code %.1f%%, other libraries %.1f%%\n",
                     dnnl, kernel, own, other }'
    perf report -i "$out/perf.data" --dsos d2ltrain --sort sym --stdio 2>/dev/null | awk '
        /^ +[0-9.]+%/ { p = $1; sub("%", "", p); if (p >= 1) printf "  %-28s %.1f%% of all samples\n", $NF, p }'
else
    echo "where the time goes: perf not available here"
fi

if [ -x "${BENCH_OPS:-}" ]; then
    "$BENCH_OPS" | tee "$out/bench_ops.txt"
    echo "the floor again, OpenMP's threads spinning (GOMP_SPINCOUNT=300000, libgomp's default):"
    OMP_WAIT_POLICY=passive GOMP_SPINCOUNT=300000 "$BENCH_OPS" >"$out/bench_ops_spin.txt"
    grep '^floor_seconds' "$out/bench_ops_spin.txt"
    floor=$(awk '/^floor_seconds/ { if (!f || $2 < f) f = $2 } END { print f }' "$out/bench_ops.txt" "$out/bench_ops_spin.txt")
    awk -v o="$ours" -v f="$floor" 'BEGIN { printf "d2ltrain MLP epoch %.3f s = %.2fx the floor %.3f s (the epoch'"'"'s GEMMs alone)\n", o, o / f, f }'
    # A VM's speed drifts by tens of percent from one minute to the next,
    # and the floor is a best of 5 while the epoch above is a median: the
    # ratio again from floors and epochs interleaved, round after round,
    # best against best (the fastest epoch over the lowest floor: each at
    # the machine's best moment) and the median of the rounds' ratios.
    pairs=${BENCH_PAIRS:-5}
    echo "the floor and the MLP epoch interleaved, $pairs rounds (a floor, then epochs 2-6 of a 6-epoch run):"
    for i in $(seq "$pairs"); do
        pair_floor=$("$BENCH_OPS" | awk '/^floor_seconds/ { print $2 }')
        "$bin" run configs/mlp_fashion.yaml --device cpu --threads "$threads" --data-dir "$cache" --quiet \
            --set train.epochs=6 >"$out/pair.txt" 2>/dev/null
        pair_epoch=$(epoch_median "$out/pair.txt")
        pair_best=$(awk '/^epoch/ { n++; if (n > 1) { sub("s$", "", $NF); if (!b || $NF < b) b = $NF } } END { print b }' "$out/pair.txt")
        awk -v o="$pair_epoch" -v b="$pair_best" -v f="$pair_floor" \
            'BEGIN { printf "  floor %.3f s, epoch median %.3f s (fastest %.3f s): %.2fx\n", f, o, b, o / f }'
    done | tee "$out/pairs.txt"
    awk '{ f = $2; b = $(NF - 2); if (!bf || f < bf) bf = f; if (!be || b < be) be = b
           sub("x$", "", $NF); r[++n] = $NF }
         END { for (i = 2; i <= n; i++) for (j = i; j > 1 && r[j - 1] > r[j]; j--) { x = r[j]; r[j] = r[j - 1]; r[j - 1] = x }
               printf "d2ltrain MLP epoch against the floor, interleaved: best against best %.3f / %.3f s = %.2fx; median of the rounds %.2fx\n",
                      be, bf, be / bf, n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2 }' "$out/pairs.txt"
    # One thread, the same comparison: no wake-ups and no second core's
    # cache to fetch from, so what is left is the step's own ops. It runs on
    # the first processor this process may use (not always 0 in a container).
    one_cpu=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')
    one_floor=$(taskset -c "$one_cpu" "$BENCH_OPS" | awk '/^floor_seconds/ { print $2 }')
    taskset -c "$one_cpu" "$bin" run configs/mlp_fashion.yaml --device cpu --data-dir "$cache" --quiet \
        --set train.epochs=6 >"$out/pair1.txt" 2>/dev/null
    awk -v o="$(epoch_median "$out/pair1.txt")" -v f="$one_floor" \
        'BEGIN { printf "one thread (taskset -c '"$one_cpu"'): floor %.3f s, epoch median %.3f s: %.2fx the floor\n", f, o, o / f }'
fi

# PyTorch's runs: "shipped" (as Debian ships it) and, where libblas.so.3 is
# OpenBLAS, "own kernels" (OPENBLAS_CORETYPE for the processor's instructions).
torch_variants=()
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    blas=$(readlink -f "$(/sbin/ldconfig -p | awk '/libblas\.so\.3 .*x86-64/ { print $NF; exit }')")
    torch_variants=(shipped)
    echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), $threads threads; libblas.so.3 is $blas"
    if [[ $blas == *openblas* ]]; then
        core=Haswell
        grep -q avx512f /proc/cpuinfo && core=SkylakeX
        shipped=$(OPENBLAS_VERBOSE=2 /usr/bin/python3 -c 'import torch; torch.ones(8, 8) @ torch.ones(8, 8)' 2>&1 | awk '/^Core:/ { print $2; exit }')
        torch_variants+=(own)
        echo "  shipped: OpenBLAS picks Core: $shipped; own kernels: OPENBLAS_CORETYPE=$core"
    fi
else
    echo "PyTorch: not installed (apt-get install python3-torch to compare; make bench installs it)"
fi

# runs a PyTorch script as the variant $1 says, the rest its command line
torch_as() {
    local variant=$1
    shift
    case $variant in
        shipped) /usr/bin/python3 "$@" ;;
        own) OPENBLAS_CORETYPE=$core /usr/bin/python3 "$@" ;;
    esac
}

data=/usr/share/datasets/fashion-mnist
for model in mlp softmax dropout; do
    if [ "$model" = mlp ]; then
        mine=$ours
    else
        "$bin" run "configs/${model}_fashion.yaml" --device cpu --threads "$threads" --data-dir "$cache" --quiet \
            --set train.epochs="$epochs" >"$out/d2ltrain_$model.txt"
        mine=$(epoch_median "$out/d2ltrain_$model.txt")
    fi
    line="$model: d2ltrain $mine s/epoch"
    for variant in "${torch_variants[@]}"; do
        torch_as "$variant" scripts/bench_torch.py "$data" resident "$epochs" cpu "$model" >"$out/torch_${model}_$variant.txt"
        theirs=$(epoch_median "$out/torch_${model}_$variant.txt")
        line+=$(awk -v o="$mine" -v t="$theirs" -v v="$variant" \
                    'BEGIN { printf "; PyTorch resident (%s) %.3f s/epoch = %.1fx d2ltrain", v, t, t / o }')
    done
    echo "$line"
done
if [ ${#torch_variants[@]} -gt 0 ]; then
    d2l_epochs=$((epochs < 3 ? epochs : 3))
    /usr/bin/python3 scripts/bench_torch.py "$data" d2l "$d2l_epochs" >"$out/torch_d2l.txt"
    d2l=$(epoch_median "$out/torch_d2l.txt")
    awk -v o="$ours" -v d="$d2l" -v n="$d2l_epochs" \
        'BEGIN { printf "mlp: PyTorch with the d2l DataLoader (shipped) %.3f s/epoch (median of epochs 2..%d) = %.1fx d2ltrain\n", d, n, d / o }'
fi

kaggle=../shared/data/kaggle_house
if [ -d "$kaggle" ]; then
    kaggle=$(cd "$kaggle" && pwd)
    "$bin" fetch kaggle_house --data-dir "$cache" --mirror "file://$kaggle/" --quiet >/dev/null
    start=$(date +%s.%N)
    "$bin" kfold configs/kaggle_house.yaml --device cpu --threads "$threads" --data-dir "$cache" --quiet \
        --set train.epochs="$kfold_epochs" >"$out/kfold.txt"
    end=$(date +%s.%N)
    mine=$(echo "$end - $start" | bc)
    printf 'kfold: d2ltrain (5 folds x %s epochs, folds in parallel threads) %.2f s wall, %s\n' "$kfold_epochs" "$mine" \
        "$(tail -n 1 "$out/kfold.txt")"
    if [ ${#torch_variants[@]} -gt 0 ] && /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
        for variant in "${torch_variants[@]}"; do
            torch_as "$variant" scripts/bench_torch_kaggle.py "$kaggle/kaggle_house_pred_train.csv" \
                "$kaggle/kaggle_house_pred_test.csv" "$kfold_epochs" >"$out/torch_kfold_$variant.txt"
            theirs=$(awk '/^kfold time/ { sub("s$", "", $3); print $3 }' "$out/torch_kfold_$variant.txt")
            awk -v o="$mine" -v t="$theirs" -v v="$variant" \
                'BEGIN { printf "kfold: PyTorch, the d2l program (%s) %.2f s = %.1fx d2ltrain, ", v, t, t / o }'
            grep validation "$out/torch_kfold_$variant.txt"
        done
    else
        echo "kfold: PyTorch needs python3-torch and python3-pandas"
    fi
else
    echo "kfold: $kaggle not found (the Kaggle house CSVs)"
fi
scripts/bench_sweep.sh 3
scripts/bench_mpi.sh
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
