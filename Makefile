# The README's commands. Everything real happens in CMake (build), scripts/
# (installation, test orchestration) and the test runners.
JOBS ?= 2
BUILD ?= build
SAN_BUILD ?= build-san
FUZZ_BUILD ?= build-fuzz
HTTP_PORT ?= 8080

.PHONY: all build run test unit blackbox browser fuzz fuzz-quick bench deps clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/deps test

run:
	@scripts/deps run
	@$(MAKE) --no-print-directory build
	./$(BUILD)/hotline serve --http-port $(HTTP_PORT)

# Unit tests under ASan+UBSan, black-box and browser tests against the
# sanitized server, then a short libFuzzer run of every fuzz target.
test: deps
	@$(MAKE) --no-print-directory build
	@scripts/test-all

unit:
	@cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHL_SANITIZE=ON >/dev/null
	@cmake --build $(SAN_BUILD) -j$(JOBS)
	@cd $(SAN_BUILD) && ctest --output-on-failure -j$(JOBS)

fuzz-quick:
	@scripts/fuzz 5

fuzz:
	@scripts/fuzz $${FUZZ_SECONDS:-300}

bench: build
	@for b in $(BUILD)/bench/*; do \
	  [ -f "$$b" ] && [ -x "$$b" ] || continue; \
	  echo "== $$b"; "$$b" $${BENCH_ARGS:-} || exit 1; \
	done

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD)
