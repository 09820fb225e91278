# The two commands of the README: `make run` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CONFIG     ?= conf/orchd.json

TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz

.PHONY: deps build run demo test test-asan test-tsan fuzz bench clean

deps:
	@scripts/setup-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p var
	$(BUILD)/orchd serve --config $(CONFIG)

# One work item through the whole pipeline, with the fake agent and a fake
# Plane on loopback (scripts/demo).
demo: build
	@scripts/setup-deps python3
	@scripts/demo

# Unit and end-to-end tests, then the unit tests again under ASan+UBSan.
test: build test-asan
	cd $(BUILD) && ctest --output-on-failure

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DORCHD_SANITIZE=ON \
	  -DORCHD_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target orchd_unit
	cd $(ASAN_BUILD) && ctest --output-on-failure -R '^unit$$'

# The unit tests under ThreadSanitizer (not part of `make test`), with the
# suppressions of tests/tsan.supp (why each: in the file).
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DORCHD_TSAN=ON \
	  -DORCHD_BENCH=OFF >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target orchd_unit
	cd $(TSAN_BUILD) && TSAN_OPTIONS="halt_on_error=0 \
	  suppressions=$(CURDIR)/tests/tsan.supp $(TSAN_OPTIONS)" \
	  ctest --output-on-failure -R '^unit$$'

# The libFuzzer targets, built with clang (not part of `make test`); run
# them with scripts/fuzz.
fuzz: deps
	@scripts/setup-deps clang libclang-rt-14-dev
	@CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DORCHD_FUZZ=ON -DORCHD_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_http_request \
	  fuzz_payload fuzz_signature fuzz_config fuzz_agent_result

bench: build
	scripts/bench/storage

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
