# hudong - build, run, test. Plain GNU make; libraries through pkg-config.
#   make run    install missing packages, build, start the server with demo data
#   make test   install what tests need, build with ASan+UBSan, run every test

PKGS     := sqlite3 libpq libmicrohttpd jansson libsodium libcurl
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC       ?= cc
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation -D_GNU_SOURCE
CFLAGS_REL  := -O2 -g
CFLAGS_ASAN := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -DHD_FAULTS=1
LIBS      = $(PKG_LIBS) -lpthread -lm
# the release binary allocates with jemalloc (as Redis does): requests are
# parsed on the polling threads and freed after the writer's commit, and
# glibc's arenas made those frees across threads queue on each other's locks
# (docs/benchmarks.md); the sanitizer builds keep the allocator ASan brings
REL_LIBS  = $(LIBS) $(shell pkg-config --libs jemalloc 2>/dev/null)

LIB_SRC  := $(sort $(wildcard src/base/*.c src/text/*.c src/expr/*.c src/store/*.c src/domain/*.c src/analytics/*.c src/api/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
GEN_SRC  := build/gen/openapi.c build/gen/schema.c
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
API_SRC  := $(sort $(wildcard tests/api/test_*.c))
API_LIB  := $(filter-out $(API_SRC),$(wildcard tests/api/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

REL_OBJ  := $(patsubst %.c,build/rel/%.o,$(LIB_SRC) $(GEN_SRC))
ASAN_OBJ := $(patsubst %.c,build/asan/%.o,$(LIB_SRC) $(GEN_SRC))
FUZZ_OBJ := $(patsubst %.c,build/fuzz/%.o,$(LIB_SRC) $(GEN_SRC))

UNIT_BIN := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRC))
API_BIN  := $(patsubst tests/api/%.c,build/asan/tests/api_%,$(API_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
BENCH_BIN := $(patsubst bench/%.c,build/rel/bench/%,$(BENCH_SRC))

.SECONDARY:
.PHONY: web all run test deps test-deps build-test format format-check clean bench unit api fuzz
all: hudong

deps:
	@sh scripts/deps.sh build
test-deps:
	@sh scripts/deps.sh test

# --- generated sources: the OpenAPI document and the SQL migrations, embedded
OPENAPI_PARTS := $(sort $(wildcard src/api/openapi/*.json))
build/tools/openapi_merge: tools/openapi_merge.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -o $@ $< -ljansson
build/gen/openapi.json: $(OPENAPI_PARTS) build/tools/openapi_merge
	@mkdir -p $(@D)
	build/tools/openapi_merge $(OPENAPI_PARTS) > $@.tmp && mv $@.tmp $@
build/gen/openapi.c: build/gen/openapi.json
	cd build/gen && xxd -i openapi.json > openapi.c.tmp && mv openapi.c.tmp openapi.c
build/gen/schema.c: $(sort $(wildcard sql/*.sql)) scripts/embed_sql.sh
	@mkdir -p $(@D)
	sh scripts/embed_sql.sh sql > $@.tmp && mv $@.tmp $@

# --- release build
build/rel/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS_REL) -Isrc $(PKG_CFLAGS) -MMD -MP -c $< -o $@
build/rel/libhudong.a: $(REL_OBJ)
	ar rcs $@ $^
hudong: $(patsubst %.c,build/rel/%.o,$(CLI_SRC)) build/rel/libhudong.a
	$(CC) $(CFLAGS_REL) -o $@ $^ $(REL_LIBS)

# --- sanitizer build, used by every test
build/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS_ASAN) -Isrc -Itests $(PKG_CFLAGS) -MMD -MP -c $< -o $@
build/asan/libhudong.a: $(ASAN_OBJ)
	ar rcs $@ $^
build/asan/hudong: $(patsubst %.c,build/asan/%.o,$(CLI_SRC)) build/asan/libhudong.a
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS)
build/asan/tests/%: build/asan/tests/unit/%.o build/asan/libhudong.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS) -lcmocka
build/asan/tests/api_%: build/asan/tests/api/%.o $(patsubst %.c,build/asan/%.o,$(API_LIB)) build/asan/libhudong.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ASAN) -o $@ $^ $(LIBS) -lcmocka

# --- fuzz targets (clang + libFuzzer)
build/fuzz/%.o: %.c
	@mkdir -p $(@D)
	clang $(WARN) -Wno-unknown-warning-option -O1 -g -fsanitize=fuzzer-no-link,address,undefined -Isrc $(PKG_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/%: build/fuzz/tests/fuzz/%.o $(FUZZ_OBJ)
	clang -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# --- benchmarks (release flags)
build/rel/bench/%: build/rel/bench/%.o build/rel/libhudong.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_REL) -o $@ $^ $(LIBS)
bench: hudong $(BENCH_BIN)

build-test: hudong build/asan/hudong $(UNIT_BIN) $(API_BIN) $(FUZZ_BIN)

# the console's front-end packages (ECharts; playwright-core for browser tests)
web: web/node_modules/.installed
web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --silent
	touch $@

run: deps
	$(MAKE) hudong web
	./hudong serve --demo

test: test-deps
	$(MAKE) format-check
	$(MAKE) web
	$(MAKE) -j2 build-test
	sh scripts/test.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h') $(wildcard src/*/*.c src/*/*.h tests/*/*.c tests/*/*.h bench/*.c)
format-check:
	@clang-format --dry-run -Werror $(sort $(wildcard src/*/*.c src/*/*.h tests/*/*.c tests/*/*.h bench/*.c tools/*.c)) && echo "format-check: ok"

clean:
	rm -rf build hudong

-include $(shell find build -name '*.d' 2>/dev/null)
