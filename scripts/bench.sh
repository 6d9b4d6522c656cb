#!/bin/bash
# CPU benchmark of configs/mlp_fashion.yaml (d2l 4.3), all numbers from one
# run on this machine:
#  - d2ltrain: seconds per epoch (median of epochs 2..N; epoch 1 pays the
#    first-touch costs) and the whole process's wall time;
#  - where the time goes: the share of CPU samples in oneDNN (perf) and each
#    op of the training step timed alone, then the floor: the epoch's GEMMs
#    alone at the best oneDNN gives (scripts/bench_ops.c, run when BENCH_OPS
#    names its binary, as `make bench` does); d2ltrain's epoch as a multiple
#    of the floor;
#  - PyTorch, when Debian's python3-torch is installed (its GEMMs go to
#    whatever libblas.so.3 is: OpenBLAS when installed, else the reference
#    BLAS; the line says which): the data-resident version and the d2l
#    DataLoader version; and the ratios.
#  - the load average before and after: the machine may be shared, and
#    OpenMP's threads suffer most from that (docs/BENCH.md).
#  - the Kaggle house 5-fold run (d2l 4.10): d2ltrain's wall time and, with
#    python3-torch and python3-pandas, the book's PyTorch program's.
# Usage: scripts/bench.sh [EPOCHS]   (D2LTRAIN=path picks the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${D2LTRAIN:-./d2ltrain}
epochs=${1:-10}
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
"$bin" run configs/mlp_fashion.yaml --device cpu --data-dir "$cache" --quiet --timing --set train.epochs="$epochs" \
    >"$out/d2ltrain.txt" 2>"$out/d2ltrain.err"
end=$(date +%s.%N)
ours=$(epoch_median "$out/d2ltrain.txt")
tail -n 1 "$out/d2ltrain.txt"
printf 'd2ltrain cpu: %s s/epoch, whole run %.2f s (%s epochs, data loading included)\n' "$ours" "$(echo "$end - $start" | bc)" "$epochs"
grep '^timing:' "$out/d2ltrain.err" || true

if command -v perf >/dev/null && perf record -q -o "$out/perf.data" "$bin" run configs/mlp_fashion.yaml --device cpu \
    --data-dir "$cache" --quiet --set train.epochs=3 >/dev/null 2>&1; then
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
fi

if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    blas=$(readlink -f "$(/sbin/ldconfig -p | awk '/libblas\.so\.3 .*x86-64/ { print $NF; exit }')")
    data=/usr/share/datasets/fashion-mnist
    /usr/bin/python3 scripts/bench_torch.py "$data" resident "$epochs" >"$out/torch_resident.txt"
    resident=$(epoch_median "$out/torch_resident.txt")
    d2l_epochs=$((epochs < 3 ? epochs : 3))
    /usr/bin/python3 scripts/bench_torch.py "$data" d2l "$d2l_epochs" >"$out/torch_d2l.txt"
    d2l=$(epoch_median "$out/torch_d2l.txt")
    echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') as Debian ships it (libblas.so.3 is $blas), 2 threads:"
    echo "  data resident: $resident s/epoch ($(tail -n 1 "$out/torch_resident.txt"))"
    echo "  d2l DataLoader: $d2l s/epoch (median of epochs 2..$d2l_epochs)"
    awk -v o="$ours" -v r="$resident" -v d="$d2l" 'BEGIN { printf "ratios: d2ltrain is %.1fx PyTorch resident, %.1fx the d2l program\n", r / o, d / o }'
    # OpenBLAS 0.3.21 picks its kernels from the processor's model and falls
    # back to older ones for models it does not know (Core: Prescott on
    # current Xeons, Haswell on AMD Zen 4): the same run again with the
    # kernels the processor's instructions allow.
    if [[ $blas == *openblas* ]]; then
        core=Haswell
        grep -q avx512f /proc/cpuinfo && core=SkylakeX
        shipped=$(OPENBLAS_VERBOSE=2 /usr/bin/python3 -c 'import torch; torch.ones(8, 8) @ torch.ones(8, 8)' 2>&1 | awk '/^Core:/ { print $2; exit }')
        OPENBLAS_CORETYPE=$core /usr/bin/python3 scripts/bench_torch.py "$data" resident "$epochs" >"$out/torch_resident_$core.txt"
        real=$(epoch_median "$out/torch_resident_$core.txt")
        echo "  data resident, OPENBLAS_CORETYPE=$core (as shipped OpenBLAS picks $shipped): $real s/epoch"
        awk -v o="$ours" -v r="$real" 'BEGIN { printf "ratio: d2ltrain is %.1fx PyTorch resident on the processor'"'"'s own kernels\n", r / o }'
    fi
else
    echo "PyTorch: not installed (apt-get install python3-torch to compare)"
fi

kaggle=../shared/data/kaggle_house
if [ -d "$kaggle" ]; then
    kaggle=$(cd "$kaggle" && pwd)
    "$bin" fetch kaggle_house --data-dir "$cache" --mirror "file://$kaggle/" --quiet >/dev/null
    start=$(date +%s.%N)
    "$bin" kfold configs/kaggle_house.yaml --device cpu --data-dir "$cache" --quiet >"$out/kfold.txt"
    end=$(date +%s.%N)
    ours=$(echo "$end - $start" | bc)
    printf 'd2ltrain kfold (5 folds x 100 epochs, folds in parallel threads): %.2f s wall, %s\n' "$ours" "$(tail -n 1 "$out/kfold.txt")"
    if /usr/bin/python3 -c 'import torch, pandas' 2>/dev/null; then
        /usr/bin/python3 scripts/bench_torch_kaggle.py "$kaggle/kaggle_house_pred_train.csv" "$kaggle/kaggle_house_pred_test.csv" >"$out/torch_kfold.txt"
        theirs=$(awk '/^kfold time/ { sub("s$", "", $3); print $3 }' "$out/torch_kfold.txt")
        echo "PyTorch kfold (the d2l program): $theirs s, $(grep validation "$out/torch_kfold.txt")"
        awk -v o="$ours" -v t="$theirs" 'BEGIN { printf "ratio: d2ltrain kfold is %.1fx PyTorch\n", t / o }'
    else
        echo "PyTorch kfold: needs python3-torch and python3-pandas"
    fi
else
    echo "kfold: $kaggle not found (the Kaggle house CSVs)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
