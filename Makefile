# SPDX-License-Identifier: Apache-2.0
# levqor — the README's two commands (make run, make test) and their helpers.
BUILD      ?= build
ASAN_BUILD ?= $(BUILD)/asan
FUZZ_BUILD ?= $(BUILD)/fuzz
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_TARGETS ?=
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
PROVE_ARGS ?= -r
# Suites run two at a time: each has its own ports (claimed machine-wide,
# t/lib/Test/Levqor/Util.pm), prefixes and temp dirs.
PROVE_JOBS ?= 2
export LEVQOR_BUILD := $(abspath $(BUILD))

.PHONY: all build deps install deb deb-check run test unit asan-build unit-asan t t-asan bench soak soak-asan fuzz fuzz-build fuzz-smoke format format-check docs-check license-check clean

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

# The sanitized tree: unit tests, module, levqor-controld and levqorctl, all
# with -fsanitize=address,undefined.
asan-build: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

unit-asan: asan-build
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# `make install DESTDIR=... [PREFIX=/usr]`: the release tree's files in
# Debian's layout (the install rules at the end of CMakeLists.txt; docs/
# OPERATIONS.md "Installing"). /etc/levqor and the systemd files keep their
# system paths whatever PREFIX is.
PREFIX ?= /usr
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# `make deb`: the two Debian packages in $(DEB_DIR) (conf/debian, laid out as
# debian/ next to links to the source folders and copies of the top-level
# files: a link would be packaged as a link, e.g. the README in the docs),
# from the release tree that `make build` built: debian/rules installs it
# (LEVQOR_PREBUILT) and compiles nothing. No -dbgsym packages (noautodbgsym): nothing here installs or
# tests them, and they would double the packaging time. nocheck: make test
# runs the tests. The log is $(DEB_DIR)/build.log.
DEB_DIR ?= $(BUILD)/deb
deb: build
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/levqor
	@for f in $$(ls -A); do case $$f in .git|build|$(notdir $(BUILD))) ;; \
	  *) if [ -d $$f ]; then ln -s $(CURDIR)/$$f $(DEB_DIR)/levqor/$$f; \
	     else cp -p $$f $(DEB_DIR)/levqor/$$f; fi ;; esac; done
	@cp -r conf/debian $(DEB_DIR)/levqor/debian
	@cd $(DEB_DIR)/levqor && DEB_BUILD_OPTIONS="noautodbgsym nocheck" LEVQOR_PREBUILT=$(abspath $(BUILD)) \
	  dpkg-buildpackage -b -uc -us >../build.log 2>&1 || { tail -30 ../build.log >&2; exit 1; }
	@ls $(DEB_DIR)/*.deb

# The packages checked: contents, modes, dependencies, lintian, and an
# install/purge on this machine when that leaves it as it was
# (scripts/deb-check.sh says when it skips).
deb-check: deb
	@DEB_DIR=$(abspath $(DEB_DIR)) scripts/deb-check.sh

t: build
	prove $(PROVE_ARGS) -j$(PROVE_JOBS) t/

# Every t/ suite again on the sanitized tree: the sanitized module loads into
# Debian's unsanitized nginx with libasan preloaded into nginx only; controld
# and levqorctl are the sanitized binaries. Any ASan/UBSan report fails the
# suite (scripts/t-asan-suite) and the block that caused it (docs/testing.md).
ASAN_LOG_DIR ?= $(ASAN_BUILD)/sanitizer-logs
t-asan: asan-build
	@rm -rf $(ASAN_LOG_DIR) && mkdir -p $(ASAN_LOG_DIR)
	LEVQOR_BUILD=$(abspath $(ASAN_BUILD)) LEVQOR_NGINX_PRELOAD=$$(gcc -print-file-name=libasan.so) \
	  LEVQOR_SANITIZER_LOG_DIR=$(abspath $(ASAN_LOG_DIR)) prove $(PROVE_ARGS) -j$(PROVE_JOBS) --exec scripts/t-asan-suite t/

# libFuzzer (clang) targets for every parser of untrusted or operator input
# (module/fuzz, controld/fuzz; docs/testing.md, "Fuzzing"): scripts/fuzz.sh
# runs each in turn. `make fuzz` gives each FUZZ_SECONDS, `make test` runs
# fuzz-smoke: FUZZ_SMOKE_SECONDS each (12 targets: about 53 s in all).
$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEVQOR_FUZZ=ON $(CMAKE_ARGS) >/dev/null

fuzz-build: $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	FUZZ_BUILD=$(abspath $(FUZZ_BUILD)) scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@FUZZ_BUILD=$(abspath $(FUZZ_BUILD)) scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# One style for the whole tree (.clang-format, module's 4-space style): the
# version is pinned because clang-format's output changes between releases.
CLANG_FORMAT ?= clang-format-14
FORMAT_FILES = $(shell git ls-files 'module/*.cpp' 'module/*.h' 'controld/*.cpp' 'controld/*.h' 2>/dev/null)

format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

# Every source file names its license (LICENSE, Apache-2.0) in an SPDX line.
license-check:
	@scripts/lint/spdx.sh

format-check:
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES) || \
	  { echo "format-check: run 'make format' (clang-format-14, .clang-format)" >&2; exit 1; }

# Every directive, variable, controld route and metric family registered in
# code is in docs/directives.md, docs/api.md and docs/metrics.md and vice
# versa; every metric the alerts, rule tests, dashboard and docs name exists
# (scripts/lint/docs-check.pl: reads the sources, about a second).
docs-check:
	@perl scripts/lint/docs-check.pl

# The compile steps one after the other (each uses every core); then the
# steps that mostly wait run side by side: the t/ suites (servers starting,
# requests, sleeps to expire a window: t and t-asan use about 0.3-0.7 of
# a core each), the fuzz smoke (one core) and the packages' check (dpkg,
# lintian, an install and purge). --output-sync prints each step's output as
# one block when it ends; -k lets the others finish when one fails, and make
# still exits non-zero (docs/testing.md, "make test and its time budget").
TEST_PARALLEL_STEPS ?= t t-asan fuzz-smoke deb-check
test: deps
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory license-check
	@$(MAKE) --no-print-directory docs-check
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory fuzz-build
	@$(MAKE) --no-print-directory -k -j$(words $(TEST_PARALLEL_STEPS)) --output-sync=target $(TEST_PARALLEL_STEPS)

run: deps
	@$(MAKE) --no-print-directory build
	@scripts/run.sh

bench: deps
	@$(MAKE) --no-print-directory build
	@scripts/bench/run-all.sh

# Not part of make test: SOAK_SECONDS (600) of mixed traffic while Redis,
# controld and nginx are restarted every SOAK_PERIOD (60) s; exits 1 if a
# goal is missed (scripts/soak/soak.pl, docs/testing.md "Soak").
soak: deps
	@$(MAKE) --no-print-directory build
	perl scripts/soak/soak.pl

# The same on the sanitized tree (nginx with libasan preloaded, as in t-asan).
soak-asan: deps asan-build
	@rm -rf $(ASAN_BUILD)/soak-logs
	LEVQOR_BUILD=$(abspath $(ASAN_BUILD)) LEVQOR_NGINX_PRELOAD=$$(gcc -print-file-name=libasan.so) \
	  LEVQOR_SANITIZER_LOG_DIR=$(abspath $(ASAN_BUILD))/soak-logs perl scripts/soak/soak.pl

clean:
	rm -rf $(BUILD)
