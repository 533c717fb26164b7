# vigil - health-checking layer-4 load balancer and IP failover.
#
#   make              build/vigild and build/vigilctl
#   make test         unit + integration tests (pytest drives everything)
#   make check-asan   the same suite under AddressSanitizer + UBSan (build-asan/)
#   make bench        side-by-side benchmarks, see bench/README.md
#   make soak         SOAK_SECONDS (600) of flaps, reloads, failovers and 16 MiB
#                     transfers against build/vigild; make soak-asan: the ASan build
#   make fuzz         libFuzzer targets of tests/fuzz/, FUZZ_SECONDS each (clang, build-fuzz/)
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

MODULES  = common config lb checks vip sync notify ctl daemon
MAINS    = daemon/main.c ctl/vigilctl.c
LIB_SRC  = $(filter-out $(MAINS),$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# keep the test objects (make would delete them as intermediates)
.SECONDARY: $(TEST_OBJ)

.PHONY: all clean test unit check check-asan check-tsan bench demo soak soak-asan fuzz fuzz-bins
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
VIGIL_WORKERS ?=
test: all
	VIGIL_WORKERS=$(VIGIL_WORKERS) VIGIL_BUILD=$(BUILD) $(PYTEST) -q tests

# What CI runs: the suite with 4 proxy workers, again under ASan+UBSan with
# one (so both ends of global.workers run every test), then the proxy tests
# under ThreadSanitizer with 4. VIGIL_WORKERS overrides global.workers.
check:
	$(MAKE) test VIGIL_WORKERS=4
	$(MAKE) check-asan VIGIL_WORKERS=1
	$(MAKE) check-tsan

check-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	VIGIL_WORKERS=$(VIGIL_WORKERS) VIGIL_BUILD=build-asan VIGIL_SANITIZED=1 $(PYTEST) -q tests

# The data path's threads under ThreadSanitizer (build-tsan/): the proxy,
# scheduler, reload, limit, drain, lost-VIP and transparent tests with 4
# workers; any report fails the test (tests/integration/vigil.py).
TSAN_TESTS = tests/integration/test_proxy.py tests/integration/test_lb_local.py \
             tests/integration/test_sched.py tests/integration/test_reload.py \
             tests/integration/test_limits.py tests/integration/test_send_proxy.py \
             tests/integration/test_workers.py tests/integration/test_lifecycle.py \
             tests/integration/test_failover_conns.py tests/integration/test_transparent.py
check-tsan:
	$(MAKE) BUILD=build-tsan OPT=-O1 SAN="-fsanitize=thread -fno-omit-frame-pointer" \
		build-tsan/vigild build-tsan/vigilctl
	TSAN_OPTIONS=halt_on_error=0:exitcode=66:second_deadlock_stack=1 VIGIL_WORKERS=4 \
	VIGIL_BUILD=build-tsan VIGIL_SANITIZED=1 $(PYTEST) -q $(TSAN_TESTS)

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

# Fuzzing: the project's objects with -fsanitize=fuzzer-no-link,address,undefined
# in build-fuzz/, one binary per tests/fuzz/fuzz_*.c, each run FUZZ_SECONDS
# from tests/fuzz/corpus/<target>/ (0: replay the corpus only; FUZZ_RUNS=N
# also stops each after N executions; FUZZ_TARGETS="config peer_msg" runs
# only those; FUZZ_TIMEOUT=S is libFuzzer's -timeout, 2 by default).
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_TARGETS ?=
FUZZ_TIMEOUT ?= 2
FUZZ_BUILD   ?= build-fuzz
FUZZ_SAN      = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=undefined
FUZZ_SRC      = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN      = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: tests/fuzz/fuzz_%.c $(BUILD)/libvigil.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libvigil.a $(LDLIBS)

fuzz-bins: $(FUZZ_BIN)

fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 SAN="$(FUZZ_SAN)" fuzz-bins
	FUZZ_RUNS="$(FUZZ_RUNS)" FUZZ_TARGETS="$(FUZZ_TARGETS)" FUZZ_TIMEOUT="$(FUZZ_TIMEOUT)" \
		bash tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

# ---- man pages, install, Debian package ----
# The version has one source: VIGIL_VERSION in the C headers (debian/changelog
# must match; make deb and tests/integration/test_package.py check it).
VERSION := $(shell sed -n 's/^\#define[ \t]*VIGIL_VERSION[ \t]*"\([^"]*\)".*/\1/p' $(wildcard common/*.h daemon/*.h) | head -n 1)
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
BINDIR      = $(PREFIX)/bin
SBINDIR     = $(PREFIX)/sbin
MANDIR      = $(PREFIX)/share/man
MD2MAN      = /usr/bin/python3 scripts/md2man.py --version $(VERSION)
MAN_PAGES   = $(BUILD)/man/vigild.8 $(BUILD)/man/vigilctl.8 $(BUILD)/man/vigil.yaml.5

man: $(MAN_PAGES)

$(BUILD)/man/vigil.yaml.5: docs/configuration.md scripts/md2man.py
	@mkdir -p $(dir $@)
	$(MD2MAN) --name vigil.yaml --section 5 --summary "configuration file of vigild" \
		--see-also "**vigild**(8), **vigilctl**(8)" $< > $@.tmp && mv $@.tmp $@

$(BUILD)/man/vigild.8: docs/man/vigild.8.md scripts/md2man.py
	@mkdir -p $(dir $@)
	$(MD2MAN) --name vigild --section 8 --summary "health-checking layer-4 load balancer and IP failover daemon" \
		--see-also "**vigilctl**(8), **vigil.yaml**(5), **systemd.exec**(5)" $< > $@.tmp && mv $@.tmp $@

$(BUILD)/man/vigilctl.8: docs/man/vigilctl.8.md scripts/md2man.py
	@mkdir -p $(dir $@)
	$(MD2MAN) --name vigilctl --section 8 --summary "control a running vigild" \
		--see-also "**vigild**(8), **vigil.yaml**(5)" $< > $@.tmp && mv $@.tmp $@

# /etc/vigil/vigil.yaml (examples/default.yaml: no services) is installed only
# when absent, so a second make install keeps the operator's file.
install: $(BUILD)/vigild $(BUILD)/vigilctl man
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/vigil
	install -m 755 $(BUILD)/vigild $(DESTDIR)$(SBINDIR)/vigild
	install -m 755 $(BUILD)/vigilctl $(DESTDIR)$(BINDIR)/vigilctl
	install -m 644 $(BUILD)/man/vigild.8 $(BUILD)/man/vigilctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(BUILD)/man/vigil.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
		-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' systemd/vigil.service.in > $(DESTDIR)$(UNITDIR)/vigil.service
	chmod 644 $(DESTDIR)$(UNITDIR)/vigil.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/vigil/vigil.yaml ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/vigil/vigil.yaml"; \
	else \
		echo "install -m 644 examples/default.yaml $(DESTDIR)$(SYSCONFDIR)/vigil/vigil.yaml"; \
		install -m 644 examples/default.yaml $(DESTDIR)$(SYSCONFDIR)/vigil/vigil.yaml; \
	fi

# dpkg-buildpackage in a copy of the tree under $(BUILD)/deb-src (it writes
# next to the source directory), then the .deb into $(BUILD)/. The package
# builds from scratch with Debian's flags: nothing of this make's command line
# (BUILD=..., CFLAGS=...) reaches it.
DEB_ARCH = $(shell dpkg --print-architecture)
DEB_DIR  = $(BUILD)/deb-src/vigil-$(VERSION)
deb:
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); \
	if [ "$$v" != "$(VERSION)" ]; then \
		echo "make deb: debian/changelog says $$v, VIGIL_VERSION is $(VERSION)" >&2; exit 1; fi
	rm -rf $(BUILD)/deb-src
	mkdir -p $(DEB_DIR)
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_DIR)
	cd $(DEB_DIR) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		DEB_BUILD_OPTIONS="parallel=2 $(DEB_BUILD_OPTIONS)" nice dpkg-buildpackage -b -us -uc
	mv $(BUILD)/deb-src/vigil_$(VERSION)_$(DEB_ARCH).deb $(BUILD)/
	@echo "built $(BUILD)/vigil_$(VERSION)_$(DEB_ARCH).deb"

.PHONY: man install deb

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/daemon/main.d $(BUILD)/ctl/vigilctl.d
