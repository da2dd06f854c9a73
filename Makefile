# flowfleet — GNU make build.
#
#   make                     build the daemons and the CLI into build/bin
#   make SANITIZER=address   (or undefined, thread, address,undefined)
#   make test                install Debian deps, build under ASan+UBSan,
#                            run unit, integration and fuzz tests
#   make fuzz FUZZ_TIME=30   build the libFuzzer targets (clang), run each
#   make bench               benchmarks: print figures beside the peers'
#   make demo                start a local fleet, feed it, query it
#   V=1                      show full compiler command lines

CC ?= cc
FUZZ_CC ?= clang
SANITIZER ?=
WERROR ?= -Werror
FUZZ_TIME ?= 30
FUZZ_JOBS ?= 2

ifeq ($(SANITIZER),)
BUILD ?= build
else
BUILD ?= build-$(subst $(comma),-,$(SANITIZER))
endif
comma := ,

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual $(WERROR)
OPT ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -MMD -MP
CFLAGS += -std=c11 $(OPT) $(WARN) -fno-strict-aliasing
LDLIBS += -luv -lmbedtls -lmbedx509 -lmbedcrypto -llmdb -lmsgpack-c \
	-lsodium -lpcap -lpthread -lm

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
	common/err.c \
	common/log.c \
	common/util.c

STORE_SRCS := \
	store/flowfmt.c

WIRE_SRCS :=

NODE_SRCS := \
	node/cmd_decode.c \
	node/decode.c \
	node/nf5.c \
	node/nf9.c \
	node/packet.c \
	node/pcapfile.c \
	node/sflow.c

NODE_MAIN := node/main.c

CONTROLLER_SRCS :=

UNIT_TESTS := \
	test_decode

FUZZ_TARGETS := \
	fuzz_nf5 \
	fuzz_nf9 \
	fuzz_ipfix \
	fuzz_sflow

# --- objects and libraries ---------------------------------------------------

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCOMMON := $(BUILD)/lib/libcommon.a
LIBSTORE := $(BUILD)/lib/libstore.a
LIBNODE := $(BUILD)/lib/libnode.a
NODE_LIBS := $(LIBNODE) $(LIBSTORE) $(LIBCOMMON)

BINS := $(BUILD)/bin/flowfleet-node

.PHONY: all clean deps test check unit integration fuzz fuzz-build bench \
	demo
all: $(BINS)

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRCS))
$(LIBSTORE): $(call obj,$(STORE_SRCS))
$(LIBNODE): $(call obj,$(NODE_SRCS))

$(BUILD)/lib/%.a:
	$(call msg,AR,$@)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/flowfleet-node: $(call obj,$(NODE_MAIN)) $(NODE_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- unit tests (cmocka) -----------------------------------------------------

UNIT_BINS := $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(NODE_LIBS)
	$(call msg,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do \
		echo "== $$t"; FF_TESTDATA=$(TESTDATA) $$t; done

# --- integration tests (real processes on loopback) -------------------------

TESTDATA ?= $(abspath ../shared/testdata/flows)
PYTHON ?= /usr/bin/python3

integration: $(BINS)
	FF_BIN=$(abspath $(BUILD)/bin) FF_TESTDATA=$(TESTDATA) \
		$(PYTHON) tests/integration/run.py

# --- fuzzing (libFuzzer, clang) ---------------------------------------------

FUZZ_BUILD ?= build-fuzz
FUZZ_CFLAGS := -std=c11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SRCS := $(COMMON_SRCS) $(STORE_SRCS) $(NODE_SRCS)
FUZZ_BINS := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_SRCS) $(wildcard */*.h)
	$(call msg,FUZZ,$@)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_JOBS=$(FUZZ_JOBS) FF_TESTDATA=$(TESTDATA) \
		tests/fuzz/run.sh $(FUZZ_BINS)

# --- the two README commands -------------------------------------------------

deps:
	@deploy/install-deps.sh

test: deps
	$(MAKE) SANITIZER=address,undefined unit integration
	$(MAKE) FUZZ_TIME=60 fuzz

check: test

bench: deps all
	$(MAKE) -C . bench-run

bench-run:
	FF_BIN=$(abspath $(BUILD)/bin) FF_TESTDATA=$(TESTDATA) \
		tests/bench/run.sh

demo: deps all
	FF_BIN=$(abspath $(BUILD)/bin) FF_TESTDATA=$(TESTDATA) deploy/demo.sh

clean:
	rm -rf build build-* $(FUZZ_BUILD)

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
