# levqor — the README's two commands (make run, make test) and their helpers.
BUILD      ?= build
ASAN_BUILD ?= $(BUILD)/asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
PROVE_ARGS ?= -r
export LEVQOR_BUILD := $(abspath $(BUILD))

.PHONY: all build deps run test unit unit-asan t bench fuzz clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLEVQOR_SANITIZE=ON $(CMAKE_ARGS) >/dev/null

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

unit-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

t: build
	prove $(PROVE_ARGS) t/

test: deps
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory t

run: deps
	@$(MAKE) --no-print-directory build
	@scripts/run.sh

bench: deps
	@$(MAKE) --no-print-directory build
	@scripts/bench/run-all.sh

clean:
	rm -rf $(BUILD)
