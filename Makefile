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

SANITIZE ?=
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fno-math-errno -DXF_VERSION='"$(VERSION)"' -Ilib $(WARN) $(CFLAGS) \
             $(MSGPACK_CFLAGS) $(BLAS_CFLAGS) $(DEP_CFLAGS) -MMD -MP
ALL_LIBS   = $(MSGPACK_LIBS) $(DEP_LIBS) $(BLAS_LIBS) -lpthread -lm $(LDLIBS)

LIB_SRC   = $(sort $(wildcard lib/*.c))
LIB_OBJ   = $(LIB_SRC:.c=.o)
PROGRAMS  = $(patsubst bin/%.c,bin/xfer-%,$(sort $(wildcard bin/*.c)))
UNIT_SRC  = $(sort $(wildcard tests/unit/test-*.c))
UNIT_BIN  = $(UNIT_SRC:.c=)
HELPERS   = tests/helpers/xf-tool

ifeq ($(V),)
Q = @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

.DELETE_ON_ERROR:
.PHONY: all test check install uninstall clean deps demo bench fuzz test-regen

all: $(PROGRAMS) $(UNIT_BIN) $(HELPERS)

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

# libFuzzer needs clang; the stream reader is the target.
FUZZ_SECONDS ?= 60
fuzz: tests/fuzz/fuzz-reader
	@mkdir -p tests/out/fuzz-corpus
	tests/fuzz/fuzz-reader -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 \
	  -malloc_limit_mb=256 tests/out/fuzz-corpus tests/fuzz/corpus schemas/examples

tests/fuzz/fuzz-reader: tests/fuzz/fuzz-reader.c $(LIB_SRC)
	$(call say,FUZZ,$@)clang -std=c11 -D_GNU_SOURCE -DXF_VERSION='"$(VERSION)"' -Ilib -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(MSGPACK_CFLAGS) \
	  $(BLAS_CFLAGS) $(DEP_CFLAGS) -o $@ $^ $(ALL_LIBS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/xfer $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(PROGRAMS) $(DESTDIR)$(BINDIR)
	install -m 644 lib/libxfer.a $(DESTDIR)$(LIBDIR)
	install -m 644 lib/*.h $(DESTDIR)$(INCLUDEDIR)/xfer
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@VERSION@|$(VERSION)|' lib/xfer.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/xfer.pc
	for page in $(wildcard bin/*.1); do \
	  install -m 644 $$page $(DESTDIR)$(MANDIR)/man1/xfer-$$(basename $$page); done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(PROGRAMS))) $(DESTDIR)$(LIBDIR)/libxfer.a \
	  $(DESTDIR)$(PKGCONFIGDIR)/xfer.pc $(addprefix $(DESTDIR)$(MANDIR)/man1/xfer-,$(notdir $(wildcard bin/*.1)))
	rm -rf $(DESTDIR)$(INCLUDEDIR)/xfer

clean:
	rm -f lib/*.o lib/*.d bin/*.o bin/*.d tests/*/*.o tests/*/*.d lib/libxfer.a \
	  $(PROGRAMS) $(UNIT_BIN) $(HELPERS) tests/fuzz/fuzz-reader
	rm -rf tests/out

-include $(wildcard lib/*.d bin/*.d tests/*/*.d)
