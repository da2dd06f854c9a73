# flowfleet — GNU make build.
#
#   make                     build the daemons and the CLI into build/bin
#   make SANITIZER=address   (or undefined, thread, address,undefined)
#   make test                install Debian deps, build under ASan+UBSan,
#                            check the layering, run unit, integration
#                            and fuzz tests
#   make lint                the module layering and the source map
#   make fuzz FUZZ_TIME=30   build the libFuzzer targets (clang), run each
#   make bench               benchmarks: print figures beside the peers'
#   make demo                start a local fleet, feed it, query it
#   make install             install the programs, the systemd units and
#                            the example configurations (DESTDIR, PREFIX)
#   V=1                      show full compiler command lines

CC ?= cc
FUZZ_CC ?= clang
SANITIZER ?=
WERROR ?= -Werror
FUZZ_TIME ?= 30
FUZZ_JOBS ?= 2
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD_SAN := build-address-undefined

ifeq ($(SANITIZER),)
BUILD ?= build
else
BUILD ?= build-$(subst $(comma),-,$(SANITIZER))
endif
comma := ,

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual $(WERROR)
OPT ?= -O2 -g
CPPFLAGS += -I. -D_GNU_SOURCE -MMD -MP
CFLAGS += -std=c11 $(OPT) $(WARN) -fno-strict-aliasing
# What each program links: the system libraries its code uses, no more
# (the controller and the CLI read no flow store: no libstore.a, no zstd;
# the controller keeps its inventory in LMDB). LDLIBS is added to every
# link line.
NODE_LDLIBS := -luv -lmbedtls -lmbedx509 -lmbedcrypto -llmdb -lmsgpackc \
	-lsodium -lpcap -lzstd -lpthread -lm
CTL_LDLIBS := -luv -lmbedtls -lmbedx509 -lmbedcrypto -llmdb -lmsgpackc \
	-lsodium -lpthread -lm
CLI_LDLIBS := -lmbedx509 -lmbedcrypto -lmsgpackc -lsodium -lm
# tests, benchmarks and fuzz targets link everything
ALL_LDLIBS := $(NODE_LDLIBS)

ifneq ($(SANITIZER),)
CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZER)
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

# --- sources, one per line --------------------------------------------------

COMMON_SRCS := \
	common/cmd.c \
	common/conf.c \
	common/ctlclient.c \
	common/ctlsock.c \
	common/daemon.c \
	common/err.c \
	common/json.c \
	common/log.c \
	common/mpcheck.c \
	common/strict.c \
	common/table.c \
	common/util.c

STORE_SRCS := \
	store/block_dec.c \
	store/block_enc.c \
	store/columns.c \
	store/maintain.c \
	store/scan.c \
	store/storage.c \
	store/store.c \
	store/write.c

QUERY_SRCS := \
	store/query/agg.c \
	store/query/compile.c \
	store/query/filter.c \
	store/query/filter_eval.c \
	store/query/filter_lex.c \
	store/query/filter_norm.c \
	store/query/filter_parse.c \
	store/query/filter_print.c \
	store/query/flowfmt.c \
	store/query/ktab.c \
	store/query/listing.c \
	store/query/names.c \
	store/query/order.c \
	store/query/pack.c \
	store/query/print.c \
	store/query/qargs.c \
	store/query/qident.c \
	store/query/qspec.c \
	store/query/result.c \
	store/query/run.c \
	store/query/tput.c

WIRE_SRCS := \
	wire/addr.c \
	wire/conn.c \
	wire/frame.c \
	wire/identity.c \
	wire/msg.c \
	wire/token.c

NODECONF_SRCS := \
	nodeconf/nodeconf.c

NODE_SRCS := \
	node/cmd_common.c \
	node/cmd_decode.c \
	node/cmd_query.c \
	node/cmd_run.c \
	node/cmd_stats.c \
	node/decode/decode.c \
	node/decode/exporter.c \
	node/decode/hold.c \
	node/ingest.c \
	node/listener.c \
	node/localsock.c \
	node/decode/nf5.c \
	node/decode/nf9.c \
	node/decode/packet.c \
	node/decode/pcapfile.c \
	node/decode/sflow.c \
	node/stats.c \
	node/decode/template.c \
	node/decode/tplfile.c \
	node/cmd_fingerprint.c \
	node/control.c \
	node/qengine.c \
	node/qserver.c \
	node/session.c \
	node/trust.c \
	node/writer.c

NODE_MAIN := node/main.c

CONTROLLER_SRCS := \
	controller/clisock.c \
	controller/config.c \
	controller/dquery.c \
	controller/fleet.c \
	controller/inventory.c \
	controller/peer.c \
	controller/req_nodes.c \
	controller/tput.c

CONTROLLER_MAIN := controller/main.c

CLI_SRCS := \
	controller/cli/client.c \
	controller/cli/format.c \
	controller/cli/json.c \
	controller/cli/nodes.c \
	controller/cli/options.c \
	controller/cli/query.c \
	controller/cli/request.c \
	controller/cli/status.c

CLI_MAIN := controller/cli/main.c
CLI_TESTS := \
	test_cli

CONTROLLER_TESTS := \
	test_inventory \
	test_controller_config \
	test_dquery

UNIT_TESTS := \
	test_conf \
	test_wire \
	test_block \
	test_store \
	test_config \
	test_writer \
	test_filter \
	test_nf5 \
	test_nf9 \
	test_sflow \
	test_query \
	test_result \
	test_trust \
	test_session \
	test_ctlsock \
	test_daemon \
	$(CONTROLLER_TESTS) \
	$(CLI_TESTS)

FUZZ_TARGETS := \
	fuzz_wire \
	fuzz_block \
	fuzz_conf \
	fuzz_config \
	fuzz_filter \
	fuzz_nf5 \
	fuzz_nf9 \
	fuzz_ipfix \
	fuzz_sflow \
	fuzz_tplfile \
	fuzz_result \
	fuzz_controller_config \
	fuzz_token \
	fuzz_invrecord \
	fuzz_trustfile \
	fuzz_qmsg \
	fuzz_roundtrip

# --- objects and libraries ---------------------------------------------------

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCOMMON := $(BUILD)/lib/libcommon.a
LIBSTORE := $(BUILD)/lib/libstore.a
LIBQUERY := $(BUILD)/lib/libquery.a
LIBWIRE := $(BUILD)/lib/libwire.a
LIBNODECONF := $(BUILD)/lib/libnodeconf.a
LIBNODE := $(BUILD)/lib/libnode.a
NODE_LIBS := $(LIBNODE) $(LIBNODECONF) $(LIBQUERY) $(LIBSTORE) $(LIBWIRE) \
	$(LIBCOMMON)
LIBCTL := $(BUILD)/lib/libcontroller.a
CTL_LIBS := $(LIBCTL) $(LIBNODECONF) $(LIBQUERY) $(LIBWIRE) $(LIBCOMMON)
LIBCLI := $(BUILD)/lib/libcli.a
# the CLI: its own files, the query engine (the query command's
# arguments and answers), wire and common
CLI_LIBS := $(LIBCLI) $(LIBQUERY) $(LIBWIRE) $(LIBCOMMON)

BINS := $(BUILD)/bin/flowfleet-node
BINS += $(BUILD)/bin/flowfleet-controller
BINS += $(BUILD)/bin/flowfleet

.PHONY: all clean deps test check unit unit-build integration fuzz fuzz-build bench \
	demo lint install check-testdata
all: $(BINS)

# The block encoder and decoder (the store's hot loops: min/max, packing,
# dictionaries over 32768-row columns) gain from GCC's vectorizer, which
# -O2 runs with its "very cheap" cost model only: with the block codec at -O3
# bench_store's encode went from 81 to 57-59 ns/flow and append+commit
# from 92 to 80 (the flow decoders and the rest gained nothing measurable and
# stay at -O2). Set HOT_OPT= to drop it.
HOT_OPT ?= -O3
$(BUILD)/obj/store/block_enc.o $(BUILD)/obj/store/block_dec.o: \
	CFLAGS += $(HOT_OPT)

# Packing a result (store/query/pack.c) loops over every key of a table
# through msgpack-c's inline writers: the same machine code ran 5-7%
# slower where the linker happened to place it otherwise (bench_merge's
# pack), so its functions start on 64-byte boundaries.
$(BUILD)/obj/store/query/pack.o: CFLAGS += -falign-functions=64

# The same holds for the decoders: moving the exporter table into its own
# file shifted where the v9/IPFIX decoder landed, and with unchanged
# machine code bench_decode's v9 went from 14.0 to 13.0 M flows/s and
# IPFIX from 13.4 to 12.6 (medians, pinned, alternating runs); with their
# functions on 64-byte boundaries: 14.1 and 13.6.
$(BUILD)/obj/node/decode/%.o: CFLAGS += -falign-functions=64

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRCS))
$(LIBSTORE): $(call obj,$(STORE_SRCS))
$(LIBQUERY): $(call obj,$(QUERY_SRCS))
$(LIBWIRE): $(call obj,$(WIRE_SRCS))
$(LIBNODECONF): $(call obj,$(NODECONF_SRCS))
$(LIBNODE): $(call obj,$(NODE_SRCS))
$(LIBCTL): $(call obj,$(CONTROLLER_SRCS))
$(LIBCLI): $(call obj,$(CLI_SRCS))

$(BUILD)/lib/%.a:
	$(call msg,AR,$@)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/flowfleet-node: $(call obj,$(NODE_MAIN)) $(NODE_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(NODE_LDLIBS) $(LDLIBS)

$(BUILD)/bin/flowfleet-controller: $(call obj,$(CONTROLLER_MAIN)) $(CTL_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CTL_LDLIBS) $(LDLIBS)

$(BUILD)/bin/flowfleet: $(call obj,$(CLI_MAIN)) $(CLI_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CLI_LDLIBS) $(LDLIBS)

# --- unit tests (cmocka) -----------------------------------------------------

UNIT_BINS := $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(NODE_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(ALL_LDLIBS) $(LDLIBS)

# the controller's unit tests link its library too
$(addprefix $(BUILD)/tests/,$(CONTROLLER_TESTS)): $(BUILD)/tests/%: \
	$(BUILD)/obj/tests/unit/%.o $(LIBCTL) $(NODE_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(ALL_LDLIBS) $(LDLIBS)

# the CLI's unit test links its own library, wire and common only
$(addprefix $(BUILD)/tests/,$(CLI_TESTS)): $(BUILD)/tests/%: \
	$(BUILD)/obj/tests/unit/%.o $(LIBCLI) $(LIBWIRE) $(LIBCOMMON)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(CLI_LDLIBS) $(LDLIBS)

unit-build: $(UNIT_BINS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do \
		echo "== $$t"; FF_TESTDATA=$(TESTDATA) $$t; done

# --- layering: modules depend one way, no two files call each other back

lint: all
	$(PYTHON) tests/lint/layering.py $(BUILD)
	$(PYTHON) tests/lint/sourcemap.py

# --- integration tests (real processes on loopback) -------------------------

# the shared captures: TESTDATA=DIR or FF_TESTDATA=DIR, by default
# ../shared/testdata/flows beside the top of the tree
TESTDATA ?= $(or $(FF_TESTDATA),$(abspath ../shared/testdata/flows))
PYTHON ?= /usr/bin/python3

integration: $(BINS) $(BUILD)/bench/flowgen
	FF_BIN=$(abspath $(BUILD)/bin) FF_TESTDATA=$(TESTDATA) \
		$(PYTHON) tests/integration/run.py

# --- fuzzing (libFuzzer, clang) ---------------------------------------------

FUZZ_BUILD ?= build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
# the project's sources are compiled once, instrumented for the fuzzer
# (fuzzer-no-link), into one library every target links
FUZZ_LIBFLAGS := -std=c11 -g -O1 -I. -D_GNU_SOURCE -MMD -MP \
	-fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_CFLAGS := -std=c11 -g -O1 -I. -D_GNU_SOURCE -fsanitize=fuzzer $(FUZZ_SAN)
FUZZ_SRCS := $(COMMON_SRCS) $(STORE_SRCS) $(QUERY_SRCS) $(WIRE_SRCS) \
	$(NODECONF_SRCS) $(NODE_SRCS) $(CONTROLLER_SRCS)
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRCS))
FUZZ_LIB := $(FUZZ_BUILD)/libfuzzsrc.a
FUZZ_BINS := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

$(FUZZ_BUILD)/obj/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_LIBFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_LIB)
	$(call msg,FUZZ,$@)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB) $(ALL_LDLIBS) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_JOBS=$(FUZZ_JOBS) FF_TESTDATA=$(TESTDATA) \
		tests/fuzz/run.sh $(FUZZ_BINS)

# --- benchmarks (built by `make bench`, not by `all`) -----------------------

BENCH_PROGS := \
	bench_store \
	bench_decode \
	bench_filter \
	bench_merge \
	bench_sflow \
	flowgen \
	ctlpeers

BENCH_BINS := $(addprefix $(BUILD)/bench/,$(BENCH_PROGS))

$(BUILD)/bench/flowgen: $(call obj,tests/bench/flowgen_main.c \
	tests/bench/flowgen.c) $(NODE_LIBS)
$(BUILD)/bench/bench_decode: $(call obj,tests/bench/bench_decode.c \
	tests/bench/flowgen.c) $(NODE_LIBS)
$(BUILD)/bench/bench_sflow: $(call obj,tests/bench/bench_sflow.c) $(NODE_LIBS)
$(BUILD)/bench/bench_store: $(call obj,tests/bench/bench_store.c \
	tests/bench/flowgen.c) $(NODE_LIBS)
$(BUILD)/bench/bench_filter: $(call obj,tests/bench/bench_filter.c) \
	$(LIBQUERY) $(LIBSTORE) $(LIBWIRE) $(LIBCOMMON)
$(BUILD)/bench/bench_merge: $(call obj,tests/bench/bench_merge.c) \
	$(LIBQUERY) $(LIBSTORE) $(LIBWIRE) $(LIBCOMMON)
$(BUILD)/bench/ctlpeers: $(call obj,tests/bench/ctlpeers.c) $(NODE_LIBS)

$(BUILD)/bench/%:
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LDLIBS) $(LDLIBS)

bench-build: $(BENCH_BINS)

# --- the two README commands -------------------------------------------------

deps:
	@deploy/install-deps.sh

# The capture tests fail without the captures: say so before anything
# else runs.
check-testdata:
	@if [ ! -d "$(TESTDATA)" ]; then \
		echo "make: the shared captures are missing: $(TESTDATA) is" \
		    "not a directory (set TESTDATA=DIR or FF_TESTDATA=DIR;" \
		    "the capture tests cannot pass without them)" >&2; \
		exit 1; \
	fi

test: check-testdata
	$(MAKE) deps
	$(MAKE) -j$(JOBS) SANITIZER=address,undefined all unit-build \
		$(BUILD_SAN)/bench/flowgen
	$(MAKE) SANITIZER=address,undefined lint unit integration
	$(MAKE) -j$(JOBS) fuzz-build
	$(MAKE) FUZZ_TIME=45 fuzz

check: test

bench: deps all
	$(MAKE) -C . bench-run

bench-run: $(BENCH_BINS)
	FF_BIN=$(abspath $(BUILD)/bin) FF_BENCH=$(abspath $(BUILD)/bench) \
		FF_TESTDATA=$(TESTDATA) tests/bench/run.sh

demo: deps all
	FF_BIN=$(abspath $(BUILD)/bin) FF_TESTDATA=$(TESTDATA) deploy/demo.sh

# --- install -----------------------------------------------------------------
#
# make install [DESTDIR=DIR] [PREFIX=/usr/local] [BINDIR=...] [UNITDIR=...]
#   [CONFDIR=...]: the three programs to BINDIR; the systemd units of
# deploy/ to UNITDIR, their ExecStart lines pointed at BINDIR; the example
# configurations to CONFDIR as node.conf (mode 0600: it may hold a join
# token) and controller.conf, never over a file already there. The
# daemons create their state directories themselves.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
CONFDIR ?= $(SYSCONFDIR)/flowfleet
UNITDIR ?= $(SYSCONFDIR)/systemd/system
INSTALL ?= install
UNITS := \
	deploy/flowfleet-node.service \
	deploy/flowfleet-controller.service

install: $(BINS)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(CONFDIR)
	$(INSTALL) -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	@set -e; for u in $(UNITS); do \
		f=$(DESTDIR)$(UNITDIR)/$${u##*/}; \
		sed 's|/usr/local/bin/|$(BINDIR)/|g' $$u >$$f.tmp; \
		chmod 0644 $$f.tmp && mv -f $$f.tmp $$f; \
		echo "installed $$f"; \
	done
	@set -e; for c in node:0600 controller:0644; do \
		n=$${c%%:*}; f=$(DESTDIR)$(CONFDIR)/$$n.conf; \
		if [ -e $$f ]; then \
			echo "kept $$f (exists; the example is" \
			    "deploy/flowfleet-$$n.conf)"; \
		else \
			$(INSTALL) -m $${c##*:} deploy/flowfleet-$$n.conf $$f; \
			echo "installed $$f"; \
		fi; \
	done

clean:
	rm -rf build build-* $(FUZZ_BUILD)

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
