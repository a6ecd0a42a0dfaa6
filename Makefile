# mod_connect — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PORT ?= 8080

.PHONY: all deps build logids unit fuzz-replay fuzz test test-sqlite test-pgsql asan valgrind run stop bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@./apxs-build.sh

unit: build
	@$(MAKE) -s -C t/unit check CORE_LIB=../../build/libcncore.a

# The fuzz targets' seed corpora (t/fuzz), each input once; `make fuzz`
# fuzzes for a while (SECONDS per target, default 60).
fuzz-replay: build
	@$(MAKE) -s -C t/fuzz replay

fuzz: build
	@$(MAKE) -s -C t/fuzz fuzz

# Every log ID (CNLOGNO) names one call site: checked before the suites.
logids:
	@scripts/check-logids.sh

test: logids unit fuzz-replay
	@scripts/test.sh

asan: deps
	@CN_SANITIZE=1 ./apxs-build.sh
	@$(MAKE) -s -C t/unit clean
	@$(MAKE) -s -C t/unit check CORE_LIB=../../build-asan/libcncore.a \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	@$(MAKE) -s -C t/unit clean
	@CN_MODULE=build-asan/mod_connect.so CN_SANITIZE=1 scripts/test.sh

valgrind: build
	@$(MAKE) -s -C t/unit clean
	@$(MAKE) -s -C t/unit valgrind CORE_LIB=../../build/libcncore.a

run: build
	@PORT=$(PORT) scripts/run.sh

stop:
	@scripts/stop.sh

bench: build
	@bench/run

clean:
	rm -rf build build-asan
	-@$(MAKE) -s -C t/unit clean
	-@$(MAKE) -s -C t/fuzz clean
