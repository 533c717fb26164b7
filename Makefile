# vigil - health-checking layer-4 load balancer and IP failover.
#
#   make              build/vigild and build/vigilctl
#   make test         unit + integration tests (pytest drives everything)
#   make check-asan   the same suite under AddressSanitizer + UBSan (build-asan/)
#   make bench        side-by-side benchmarks, see bench/README.md
#   make soak         SOAK_SECONDS (600) of flaps, reloads, failovers and 16 MiB
#                     transfers against build/vigild; make soak-asan: the ASan build
#   make man          build/man/: vigild.8, vigilctl.8, vigil.yaml.5 (from docs/)
#   make install      PREFIX (/usr/local) and DESTDIR: binaries, man pages, the
#                     systemd unit, /etc/vigil/vigil.yaml (kept if present)
#   make deb          build/vigil_VERSION_ARCH.deb with dpkg-buildpackage (debian/)

CC      ?= cc
BUILD   ?= build
PKGS     = libnl-route-3.0 libnl-3.0 yaml-0.1 openssl libcap libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(WARN) -I. $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(SAN)
LDLIBS   = -pthread -lev $(PKG_LIBS) -lm
PYTEST  ?= /usr/bin/python3 -m pytest

# recursive makes (check) print no "Entering/Leaving directory" lines, so the
# test runner's summary stays the last line of the output
MAKEFLAGS += --no-print-directory

MODULES  = common config lb checks vip notify ctl daemon
MAINS    = daemon/main.c ctl/vigilctl.c
LIB_SRC  = $(filter-out $(MAINS),$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# keep the test objects (make would delete them as intermediates)
.SECONDARY: $(TEST_OBJ)

.PHONY: all clean test unit check check-asan bench demo soak soak-asan
all: $(BUILD)/vigild $(BUILD)/vigilctl $(TEST_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libvigil.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vigild: $(BUILD)/daemon/main.o $(BUILD)/libvigil.a
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vigilctl: $(BUILD)/ctl/vigilctl.o $(BUILD)/libvigil.a
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libvigil.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

unit: all
	@set -e; for t in $(TEST_BIN); do echo "== $$t"; $$t; done

# pytest runs the unit binaries too (tests/test_unit.py), so its closing line
# counts every test.
test: all
	VIGIL_BUILD=$(BUILD) $(PYTEST) -q tests

# What CI runs: the suite, then the suite again under the sanitizers.
check:
	$(MAKE) test
	$(MAKE) check-asan

check-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	VIGIL_BUILD=build-asan VIGIL_SANITIZED=1 $(PYTEST) -q tests

bench: all
	bash bench/run.sh

# The soak (tests/soak/soak.py): bounded by SOAK_SECONDS, cleans up after itself,
# exits non-zero on any corrupted transfer, misrouted connection, leak or report.
# SOAK_ARGS passes more options (e.g. --json FILE, --idle N; see soak.py --help).
SOAK_SECONDS ?= 600
ASAN_BUILD = $(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
soak: all
	VIGIL_BUILD=$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) nice /usr/bin/python3 tests/soak/soak.py $(SOAK_ARGS)

soak-asan:
	$(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	VIGIL_BUILD=build-asan VIGIL_SANITIZED=1 SOAK_SECONDS=$(SOAK_SECONDS) nice /usr/bin/python3 tests/soak/soak.py $(SOAK_ARGS)

demo: all
	bash examples/demo.sh

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/daemon/main.d $(BUILD)/ctl/vigilctl.d
