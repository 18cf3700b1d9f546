# Entry points. The README's two set-up commands are `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build demo engine-demo test test-integration test-sanitize bench bench-quick format clean

deps:
	scripts/install-deps

configure: deps
	@test -f $(BUILD_DIR)/build.ninja || cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Main job: the embedded default (coordinator + one node in one process) with
# the Fashion-MNIST demo task: trains, streams the test set through predict,
# gives feedback, and prints a live summary per bundle version.
DEMO_LISTEN ?= 127.0.0.1:7070
demo: build
	$(BUILD_DIR)/mliot up --demo --listen $(DEMO_LISTEN) --data-dir .mliot

# The engine alone: train + evaluate Fashion-MNIST (120 s budget), a summary.
engine-demo: build
	scripts/demo

# Builds everything and runs every test; under CI (CI=true) the unit tests
# also run in a sanitizer build.
test: build
	cd $(BUILD_DIR) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure -j $(JOBS)
	@if [ "$${CI:-}" = "true" ]; then $(MAKE) bench-quick && $(MAKE) test-sanitize; fi

test-integration: build
	cd $(BUILD_DIR) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure -L integration

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, with
# assertions on (Eigen checks dimensions) and -O1 to keep them fast enough.
# Builds only what the unit tests run (their binaries and mliot), not the
# integration tests or the Google Benchmark programs.
test-sanitize: deps
	$(MAKE) configure BUILD_DIR=build-asan CMAKE_FLAGS="-DMLIOT_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG='-O1 -g' -DMLIOT_BUILD_BENCHMARKS=OFF"
	cmake --build build-asan -j $(JOBS) --target mliot $$(cd build-asan && ctest -N -L unit | sed -n 's/^ *Test *#[0-9]*: //p')
	cd build-asan && OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j $(JOBS) -L unit

bench: build
	scripts/install-deps --peers
	$(BUILD_DIR)/mliot bench engine --json

# Every benchmark in its quick mode, in seconds, so that none can rot (CI
# runs it). bench iot needs the real data sets (../shared/data) and is
# skipped without them.
SHARED_DATA ?= ../shared/data
QUICK_BENCHES = engine features transport cache stream-train data-parallel scheduler footprint lifecycle serving
bench-quick: build
	$(BUILD_DIR)/mliot bench list --json
	@set -e; for b in $(QUICK_BENCHES); do \
	  echo "== bench $$b --quick"; \
	  OPENBLAS_NUM_THREADS=1 $(BUILD_DIR)/mliot bench $$b --quick --json; \
	done
	OPENBLAS_NUM_THREADS=1 $(BUILD_DIR)/mliot bench paper --experiment all --quick --out $(BUILD_DIR)/paper-quick --json
	@if [ -d "$(SHARED_DATA)/dcase2016-task2" ]; then \
	  $(BUILD_DIR)/mliot bench iot --quick --data-dir $(SHARED_DATA) --json; \
	else echo "bench iot: skipped ($(SHARED_DATA) not here)"; fi

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-asan
