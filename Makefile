# xfer: one non-recursive Makefile. `make`, `make test`, `make demo`, `make install PREFIX=...`.
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
PREFIX  ?= /usr/local
BINDIR   = $(PREFIX)/bin
LIBDIR   = $(PREFIX)/lib
INCLUDEDIR = $(PREFIX)/include
MANDIR   = $(PREFIX)/share/man
PKGCONFIGDIR = $(LIBDIR)/pkgconfig
COMPLETIONDIR = $(PREFIX)/share/bash-completion/completions
VERSION  = 0.1.0

# Dependencies through pkg-config, each overridable on the command line.
pc = $(shell pkg-config $(1) $(2) 2>/dev/null)
MSGPACK_CFLAGS ?= $(or $(call pc,--cflags,msgpack-c),$(call pc,--cflags,msgpack))
MSGPACK_LIBS   ?= $(or $(call pc,--libs,msgpack-c),$(call pc,--libs,msgpack),-lmsgpackc)
BLAS_CFLAGS    ?= $(or $(call pc,--cflags,openblas),$(call pc,--cflags,blas))
BLAS_LIBS      ?= $(or $(call pc,--libs,openblas),$(call pc,--libs,blas),-lopenblas) -llapacke
DEP_PKGS        = libzstd libarchive jansson libpng libjpeg fftw3
DEP_CFLAGS     ?= $(call pc,--cflags,$(DEP_PKGS))
DEP_LIBS       ?= $(or $(call pc,--libs,$(DEP_PKGS)),-lzstd -larchive -ljansson -lpng16 -ljpeg -lfftw3)

# Sanitizer flags go in their own variable: CFLAGS given on the command line (as CI does)
# would override an addition to CFLAGS and leave the objects uninstrumented.
SANITIZE ?=
ifneq ($(SANITIZE),)
SAN_CFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fno-math-errno -DXF_VERSION='"$(VERSION)"' -Ilib $(WARN) $(CFLAGS) $(SAN_CFLAGS) \
             $(MSGPACK_CFLAGS) $(BLAS_CFLAGS) $(DEP_CFLAGS) -MMD -MP
ALL_LIBS   = $(MSGPACK_LIBS) $(DEP_LIBS) $(BLAS_LIBS) -lpthread -lm $(LDLIBS)

LIB_SRC   = $(sort $(wildcard lib/*.c))
LIB_OBJ   = $(LIB_SRC:.c=.o)
PROGRAMS  = $(patsubst bin/%.c,bin/xfer-%,$(sort $(wildcard bin/*.c)))
UNIT_SRC  = $(sort $(wildcard tests/unit/test-*.c))
UNIT_BIN  = $(UNIT_SRC:.c=)
HELPERS   = tests/helpers/xf-tool
MANPAGES  = $(PROGRAMS:=.1)
COMPLETION = completion/xfer.bash

ifeq ($(V),)
Q = @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

.DELETE_ON_ERROR:
# Keep the objects of programs and tests, so that a second make (make test) finds them current.
.SECONDARY:
.PHONY: all test check install uninstall clean deps demo bench fuzz test-regen valgrind

all: $(PROGRAMS) $(MANPAGES) $(COMPLETION) $(UNIT_BIN) $(HELPERS)

lib/libxfer.a: $(LIB_OBJ)
	$(call say,AR,$@)$(AR) rcs $@ $^

%.o: %.c
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -c -o $@ $<

bin/xfer-%: bin/%.o lib/libxfer.a
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< lib/libxfer.a $(ALL_LIBS)

tests/unit/test-%: tests/unit/test-%.o lib/libxfer.a
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< lib/libxfer.a $(ALL_LIBS)

tests/helpers/xf-tool: tests/helpers/xf-tool.o lib/libxfer.a
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< lib/libxfer.a $(ALL_LIBS)

# Man pages and bash completion take their synopsis, examples and options from the built
# programs' --help (tools/helpopts.awk), so they cannot drift; the prose is in bin/NAME.1.in.
bin/xfer-%.1: bin/%.1.in bin/xfer-% tools/mkman tools/helpopts.awk
	$(call say,MAN,$@)tools/mkman bin/$*.1.in bin/xfer-$* >$@

$(COMPLETION): completion/xfer.bash.in $(PROGRAMS) tools/mkcompletion tools/helpopts.awk
	$(call say,GEN,$@)tools/mkcompletion completion/xfer.bash.in $(PROGRAMS) >$@

# Unit tests first, then the shell tests that drive the real programs; one summary line.
test check: all
	@tests/run-tests $(UNIT_BIN) -- tests/cli/*.sh

test-regen: all
	@XF_REGEN=1 tests/run-tests -- tests/cli/*.sh

deps:
	@tools/install-deps

demo: deps
	@$(MAKE) --no-print-directory all
	@pipelines/demo.sh

bench: all
	@for b in tests/bench/*.sh; do $$b || exit 1; done

# Valgrind's memcheck (tests/run-valgrind, suppressions in tests/valgrind.supp): the unit tests, then
# the shell tests in VALGRIND_CLI with every program run under valgrind; any invalid access, use of
# uninitialised memory or definite/indirect leak fails. About 9 minutes; VALGRIND_SLOW are left
# out: 2 minutes each (nn-grad, tsne-fft), 30-40 (nn-ops, nn-winograd: their timings) and hours
# (knn-approx: 20000 rows); `make valgrind VALGRIND_SLOW=` runs them too.
VALGRIND_SLOW ?= $(addprefix tests/unit/test-,knn-approx nn-ops nn-winograd nn-grad tsne-fft)
VALGRIND_CLI  ?= $(addprefix tests/cli/,output.sh schema.sh common.sh prune.sh pack.sh cat.sh)
valgrind: all
	@tests/run-valgrind $(filter-out $(VALGRIND_SLOW),$(UNIT_BIN)) -- $(VALGRIND_CLI)

# libFuzzer (clang): one target per parser, tests/fuzz/fuzz-NAME.c, seeded from tests/fuzz/corpus-NAME/.
# `make fuzz` runs each for FUZZ_SECONDS; new inputs go to tests/out/fuzz-NAME/, and a crash, leak or
# timeout stops that target and leaves tests/out/fuzz-NAME-crash-* (replay: tests/fuzz/fuzz-NAME FILE).
# The library is built again for them, instrumented, with its documented size limits lowered so
# that what they allow fits in -malloc_limit_mb.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_SRC      = $(sort $(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BIN      = $(FUZZ_SRC:.c=)
FUZZ_OBJ      = $(patsubst lib/%.c,tests/fuzz/obj/%.o,$(LIB_SRC))
FUZZ_LIMITS   = -DXF_IMAGE_MAX_PIXELS='((int64_t)1 << 22)' -DXF_IMGSET_MAX_FILE='((int64_t)16 << 20)' \
                -DXF_NPZ_MAX_MEMBER='((uint64_t)64 << 20)'
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -DXF_VERSION='"$(VERSION)"' -Ilib -g -O1 -fno-omit-frame-pointer \
                -fno-sanitize-recover=all $(FUZZ_LIMITS) $(MSGPACK_CFLAGS) $(BLAS_CFLAGS) $(DEP_CFLAGS)
FUZZ_OPTS     = -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=60

fuzz: $(FUZZ_BIN)
	@status=0; for f in $(FUZZ_BIN); do n=$${f#tests/fuzz/fuzz-}; mkdir -p tests/out/fuzz-$$n; \
	  echo "== $$f: $(FUZZ_SECONDS) s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) $(FUZZ_OPTS) -artifact_prefix=tests/out/fuzz-$$n- \
	    tests/out/fuzz-$$n tests/fuzz/corpus-$$n 2>tests/out/fuzz-$$n.log || \
	    { status=1; tail -n 40 tests/out/fuzz-$$n.log; }; \
	  tail -n 1 tests/out/fuzz-$$n.log; done; exit $$status

tests/fuzz/obj/%.o: lib/%.c
	@mkdir -p tests/fuzz/obj
	$(call say,FUZZCC,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c -o $@ $<

tests/fuzz/libxfer-fuzz.a: $(FUZZ_OBJ)
	$(call say,AR,$@)$(AR) rcs $@ $^

tests/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h tests/fuzz/libxfer-fuzz.a
	$(call say,FUZZ,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
	  tests/fuzz/libxfer-fuzz.a $(ALL_LIBS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/xfer $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPLETIONDIR)
	install -m 755 $(PROGRAMS) $(DESTDIR)$(BINDIR)
	install -m 644 lib/libxfer.a $(DESTDIR)$(LIBDIR)
	install -m 644 lib/*.h $(DESTDIR)$(INCLUDEDIR)/xfer
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@VERSION@|$(VERSION)|' lib/xfer.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/xfer.pc
	install -m 644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(COMPLETION) $(DESTDIR)$(COMPLETIONDIR)/xfer
	for p in $(notdir $(PROGRAMS)); do ln -sf xfer $(DESTDIR)$(COMPLETIONDIR)/$$p || exit 1; done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(PROGRAMS))) $(DESTDIR)$(LIBDIR)/libxfer.a \
	  $(DESTDIR)$(PKGCONFIGDIR)/xfer.pc $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANPAGES))) \
	  $(addprefix $(DESTDIR)$(COMPLETIONDIR)/,xfer $(notdir $(PROGRAMS)))
	rm -rf $(DESTDIR)$(INCLUDEDIR)/xfer

clean:
	rm -f lib/*.o lib/*.d bin/*.o bin/*.d tests/*/*.o tests/*/*.d lib/libxfer.a \
	  $(PROGRAMS) $(MANPAGES) $(COMPLETION) $(UNIT_BIN) $(HELPERS) $(FUZZ_BIN) \
	  tests/fuzz/libxfer-fuzz.a
	rm -rf tests/out tests/fuzz/obj

-include $(wildcard lib/*.d bin/*.d tests/*/*.d tests/fuzz/obj/*.d)
