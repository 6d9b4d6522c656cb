# d2ltrain build. `make` builds ./d2ltrain (with the CUDA backend when nvcc
# is found, GPU=0 forces a CPU-only build); `make run` and `make test` first
# install the Debian packages they need (scripts/install-deps.sh).

CC      ?= gcc
NVCC    ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA    ?= /usr/local/cuda
GPU     ?= $(if $(NVCC),1,0)
SAN     ?= 0
# WERROR=1 (CI) turns warnings into errors: -Wswitch then stops a build
# that leaves a new layer, loss, initializer or optimizer kind unhandled.
WERROR  ?= 0
MAKEFLAGS += -j$(shell nproc)
BUILD   ?= build/$(if $(filter 1,$(SAN)),san,rel)$(if $(filter 1,$(GPU)),-cuda,)

# CFLAGS and LDFLAGS are the user's (`make CFLAGS=-O0` works); D2L_CFLAGS
# and D2L_LDFLAGS are what the build needs and come after them.
CFLAGS  ?= -O3 -g -fno-math-errno
D2L_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -MMD -MP
D2L_CFLAGS += $(shell pkg-config --cflags yaml-0.1 libcurl openssl jansson zlib check 2>/dev/null)
# libyaml, jansson and libdeflate are linked statically: the GPU machine lacks them.
# oneDNN (libdnnl-dev, which ships no pkg-config file: its headers are in the
# default path) is opened with dlopen (core/dnnl_lib.h).
LDLIBS  := -Wl,-Bstatic -lyaml -ljansson -ldeflate -Wl,-Bdynamic \
           $(shell pkg-config --libs libcurl libcrypto 2>/dev/null) -ldl -lpthread -lm
# zlib only writes the tests' gzip files.
TEST_LDLIBS := -Wl,-Bstatic -lcheck -lsubunit -Wl,-Bdynamic -lrt -lz

ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif

ifeq ($(SAN),1)
D2L_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
D2L_LDFLAGS += -fsanitize=address,undefined
endif

ifeq ($(GPU),1)
D2L_CFLAGS += -DD2L_CUDA -I$(CUDA)/include
NVFLAGS ?= -O3 -std=c++17 -Xcompiler -fPIC \
           -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
           -gencode arch=compute_90,code=compute_90
NVFLAGS += -DD2L_CUDA_LIB_DIR='"$(CUDA)/lib64"'
GPU_SRC := $(wildcard gpu/*.cu)
GPU_OBJ := $(GPU_SRC:%.cu=$(BUILD)/%.o)
# cuBLAS is opened with dlopen when a GPU backend starts (gpu/cublas_lib.h).
LDLIBS  += -L$(CUDA)/lib64 -lcudart -ldl -Wl,-rpath,$(CUDA)/lib64 -lstdc++
endif

# MPI (Open MPI's libopenmpi-dev): found through pkg-config, else mpicc;
# MPI=0 builds without it (one process; --data-parallel says how to get it).
MPI_PC  := $(shell pkg-config --exists ompi-c 2>/dev/null && echo ompi-c)
MPI     ?= $(if $(MPI_PC)$(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(if $(MPI_PC),$(shell pkg-config --cflags ompi-c),$(shell mpicc -showme:compile))
MPI_LIBS   := $(if $(MPI_PC),$(shell pkg-config --libs ompi-c),$(shell mpicc -showme:link))
D2L_CFLAGS += -DD2L_MPI
MPI_SRC    := $(wildcard mpi/*.c)
LDLIBS     += $(MPI_LIBS)
$(BUILD)/mpi/%.o: D2L_CFLAGS += $(MPI_CFLAGS)
endif

LIB_SRC  := $(wildcard core/*.c data/*.c) $(filter-out cmd/main.c,$(wildcard cmd/*.c)) $(MPI_SRC)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GPU_OBJ)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BIN      := $(BUILD)/d2ltrain
TEST_BIN := $(BUILD)/d2ltrain-tests
# Custom layers against include/d2ltrain/layer.h, one shared object each.
PLUGINS  := $(patsubst examples/plugins/%.c,$(BUILD)/plugins/%.so,$(wildcard examples/plugins/*.c))

.PHONY: all deps run test test-san check-unit bench gpu-carry clean d2ltrain
# ./d2ltrain is a copy of the last flavour built (CPU-only or CUDA, each in
# its own build directory).
all: d2ltrain $(PLUGINS)
d2ltrain: $(BIN)
	$(if $(filter 1,$(SAN)),,cp $(BIN) d2ltrain)

$(BIN): $(BUILD)/cmd/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) $(D2L_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(D2L_CFLAGS) -c -o $@ $<

$(BUILD)/gpu/%.o: gpu/%.cu $(wildcard gpu/*.h core/*.h)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c -o $@ $<

$(BUILD)/plugins/%.so: examples/plugins/%.c include/d2ltrain/layer.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude -shared -fPIC $(LDFLAGS) -o $@ $<

# Every tests/*.c defining `Suite *suite_NAME(void)` is run by tests/runner.c.
$(BUILD)/tests/suites.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	grep -ho 'Suite \*suite_[a-z0-9_]*(void)' $(TEST_SRC) | sed 's/Suite \*\(suite_[a-z0-9_]*\)(void)/X(\1)/' > $@.tmp
	mv $@.tmp $@
$(BUILD)/tests/runner.o: D2L_CFLAGS += -I$(BUILD)/tests
$(BUILD)/tests/runner.o: $(BUILD)/tests/suites.h

$(TEST_BIN): $(TEST_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) $(D2L_LDFLAGS) -o $@ $^ $(TEST_LDLIBS) $(LDLIBS)

deps:
	@scripts/install-deps.sh

run: deps
	$(MAKE) all
	./d2ltrain run configs/mlp_fashion.yaml

# The whole suite; tests that run the binary use D2LTRAIN. Then the GPU
# suite once more with the CPU in the GPU's seat, which checks the suite's
# own logic where there is no GPU (tests/test_gpu.c).
check-unit: $(BIN) $(TEST_BIN) $(PLUGINS)
	D2LTRAIN=$(abspath $(BIN)) D2L_ROOT=$(CURDIR) $(TEST_BIN)
	D2L_GPU_SUITE_ON_CPU=1 CK_RUN_SUITE=gpu $(TEST_BIN)

test: deps
	$(MAKE) check-unit

test-san: deps
	$(MAKE) SAN=1 check-unit

$(BUILD)/bench_ops: scripts/bench_ops.c $(LIB_OBJ)
	$(CC) $(CFLAGS) $(D2L_CFLAGS) $(LDFLAGS) $(D2L_LDFLAGS) -o $@ $^ $(LDLIBS)

# also installs PyTorch and pandas (Debian's), which the benchmark compares against
bench:
	@scripts/install-deps.sh --bench
	$(MAKE) all $(BUILD)/bench_ops
	BENCH_OPS=$(BUILD)/bench_ops scripts/bench.sh

# What scripts/gpu-check.sh needs on the GPU machine, which cannot build:
# the CUDA binary, the test runner, racecheck's control (race_canary), the
# data and, as one xz archive (oneDNN alone is 38 MB of the 64 MiB a call
# may carry), the shared libraries they load beyond glibc, which the script
# links in only where that machine lacks them (docs/GPU.md); oneDNN, opened
# with dlopen, is not in ldd's list of the binaries and is named here.
GPU_CARRY_LIBS := build/gpu-data/shared-libs.tar.xz
DNNL_LIB := $(shell /sbin/ldconfig -p | awk '/libdnnl\.so\.2 .*x86-64/ { print $$NF; exit }')
gpu-carry: deps
	$(MAKE) GPU=1 all build/rel-cuda/d2ltrain-tests build/rel-cuda/race_canary $(GPU_CARRY_LIBS)
	install -m 644 /usr/share/datasets/fashion-mnist/*-ubyte.gz build/gpu-data/
	if [ -d ../shared/data/kaggle_house ]; then install -m 644 ../shared/data/kaggle_house/*.csv build/gpu-data/; fi
	@du -sh d2ltrain build/rel-cuda/d2ltrain-tests build/rel-cuda/race_canary build/gpu-data

$(BUILD)/race_canary: scripts/race_canary.cu
	$(NVCC) $(NVFLAGS) -o $@ $< -Xlinker -rpath,$(CUDA)/lib64

$(GPU_CARRY_LIBS): build/rel-cuda/d2ltrain build/rel-cuda/d2ltrain-tests
	rm -rf build/gpu-libs && mkdir -p build/gpu-libs $(dir $@)
	for lib in $$({ ldd $^ $(DNNL_LIB); echo "libdnnl => $(DNNL_LIB)"; } \
	              | awk '$$2 == "=>" && $$3 ~ /^\// { print $$3 }' | sort -u \
	              | grep -v -E '/(libc|libm|libdl|libpthread|librt|libresolv)\.so'); do \
	    cp -L $$lib build/gpu-libs/ || exit 1; done
	tar cJf $@.tmp -C build/gpu-libs . && mv $@.tmp $@

clean:
	rm -rf build d2ltrain

-include $(shell find build -name '*.d' 2>/dev/null)

# libFuzzer harnesses (fuzz/fuzz_*.c) under ASan+UBSan, built with clang:
# the spec loader (with the effective-spec round trip as oracle), --set
# overrides, sweep --grid values and --points files on a spec (fuzz_set), the
# CSV/tabular reader, the IDX reader and the safetensors reader. `make fuzz`
# runs each for FUZZ_SECONDS from its checked-in seeds (fuzz/corpus/NAME)
# and keeps what it finds new in build/fuzz/corpus/NAME, a crash in
# build/fuzz/crash-NAME-*; `make fuzz-regress` runs each over its
# checked-in corpus once (seconds; .ci/run does, after test-san).
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 300
FUZZ_BUILD   := build/fuzz
FUZZ_CFLAGS  := $(filter-out -O3 -DD2L_CUDA -DD2L_MPI -fsanitize=%,$(CFLAGS) $(D2L_CFLAGS)) -O1 -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(wildcard core/*.c data/*.c) fuzz/input_file.c fuzz/round_trip.c tests/spec_same.c)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
.PHONY: fuzz fuzz-build fuzz-regress
.SECONDARY: $(FUZZ_LIB_OBJ) $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%.o)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

fuzz-build: deps
	$(MAKE) $(FUZZ_BINS)

fuzz: fuzz-build
	for name in $(FUZZ_NAMES); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$name && \
	    $(FUZZ_BUILD)/fuzz_$$name -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 \
	        $$(test -f fuzz/$$name.dict && echo -dict=fuzz/$$name.dict) \
	        -artifact_prefix=$(FUZZ_BUILD)/crash-$$name- $(FUZZ_BUILD)/corpus/$$name fuzz/corpus/$$name \
	        || exit 1; done

fuzz-regress: fuzz-build
	for name in $(FUZZ_NAMES); do \
	    $(FUZZ_BUILD)/fuzz_$$name -rss_limit_mb=4096 fuzz/corpus/$$name/* 2>$(FUZZ_BUILD)/regress-$$name.log \
	        || { tail -40 $(FUZZ_BUILD)/regress-$$name.log; exit 1; }; \
	    echo "fuzz-regress: $$name: $$(ls fuzz/corpus/$$name | wc -l) inputs ok"; done
