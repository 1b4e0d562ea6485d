# PodSync for C and C++ users: build and install the library.
#
#   make                                  build .build/release/libpodsync.so (and the CLI, below)
#   make install [PREFIX=/usr/local]      install it; DESTDIR=/staging/dir is honoured
#   make uninstall [PREFIX=...]           remove what `make install` installed
#
# `make install` installs, under PREFIX:
#   include/podsync.h (every public header of include/, *.h)
#   lib/libpodsync.so.MAJOR.MINOR.PATCH   the library (version from include/podsync.h), with the
#                                         SONAME libpodsync.so.<PODSYNC_ABI_VERSION - 1>
#   lib/libpodsync.so.0 -> libpodsync.so.MAJOR.MINOR.PATCH, lib/libpodsync.so -> libpodsync.so.0
#   lib/libpodsync_nats.so.0 and lib/libpodsync_nats.so -> it: the NATS carrier, when built
#   lib/pkgconfig/podsync.pc              pkg-config --cflags --libs podsync
#   lib/cmake/PodSync/PodSyncConfig.cmake, PodSyncConfigVersion.cmake
#                                         find_package(PodSync) + target PodSync::podsync
#   bin/podsync                           the command-line tool, when it builds (CLI=auto)
#   share/doc/podsync/LICENSE*            the licence texts
#
# The SONAME rule: libpodsync.so.<PODSYNC_ABI_VERSION - 1>, libpodsync.so.0 while the ABI version is
# 1. It changes exactly when PODSYNC_ABI_VERSION does (an incompatible change of the header, see
# docs/ABI.md) and never with a minor or patch release, so a program built against 0.4 keeps
# running when 0.5 of the same ABI replaces it. .ci/build-lib sets it, .ci/check-exports checks it.
#
# Variables: PREFIX (default /usr/local), BINDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR, CMAKEDIR, DOCDIR,
# DESTDIR, CLI (auto: build and install the `podsync` tool when Sources/podsync-cli exists, and
# go on without it if it does not build; yes: it must build; no: neither build nor install it).
# Needs Swift (on PATH or at /opt/swift/usr/bin) and the packages of .ci/install-deps to build;
# installing needs only sh, sed, install, ln and readelf. Run `ldconfig` after installing into a
# system directory such as /usr/local/lib.

prefix ?= /usr/local
PREFIX ?= $(prefix)
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/PodSync
DOCDIR ?= $(PREFIX)/share/doc/podsync
DESTDIR ?=
CLI ?= auto
INSTALL ?= install
SWIFT ?= swift

# Swift from /opt/swift when it is not on PATH (as .ci/env.sh does).
export PATH := $(PATH):/opt/swift/usr/bin

HEADER := include/podsync.h
HEADERS := $(sort $(wildcard include/*.h))
# (".define": a number sign would start a make comment here.)
header_macro = $(shell sed -n 's/^.define $(1) \([0-9][0-9]*\).*/\1/p' $(HEADER))
VERSION_MAJOR := $(call header_macro,PODSYNC_VERSION_MAJOR)
VERSION_MINOR := $(call header_macro,PODSYNC_VERSION_MINOR)
VERSION_PATCH := $(call header_macro,PODSYNC_VERSION_PATCH)
ABI_VERSION := $(call header_macro,PODSYNC_ABI_VERSION)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
SONAME := libpodsync.so.$(shell expr $(ABI_VERSION) - 1)
REALNAME := libpodsync.so.$(VERSION)

BUILT_LIB := .build/release/libpodsync.so
BUILT_CLI := .build/release/podsync-cli
# Paths from the CMake package's directory to the library and headers, so that it is relocatable.
relpath = $(shell realpath -m -s --relative-to=$(1) $(2))
# In podsync.pc, directories under the prefix are written as ${prefix}/...
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' \
	-e 's|@ABI_VERSION@|$(ABI_VERSION)|g' -e 's|@SONAME@|$(SONAME)|g' -e 's|@REALNAME@|$(REALNAME)|g' \
	-e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PC_LIBDIR@|$(call pc_path,$(LIBDIR))|g' \
	-e 's|@PC_INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|g' \
	-e 's|@CMAKE_TO_LIBDIR@|$(call relpath,$(CMAKEDIR),$(LIBDIR))|g' \
	-e 's|@CMAKE_TO_INCLUDEDIR@|$(call relpath,$(CMAKEDIR),$(INCLUDEDIR))|g'

.PHONY: all lib cli install install-lib install-cli uninstall check-vars

all: lib cli

check-vars:
	@if [ -z "$(VERSION_MAJOR)" ] || [ -z "$(VERSION_MINOR)" ] || [ -z "$(VERSION_PATCH)" ] || [ -z "$(ABI_VERSION)" ]; then \
	    echo "make: cannot read the PODSYNC_VERSION_* / PODSYNC_ABI_VERSION macros of $(HEADER)" >&2; exit 1; fi
	@case "$(PREFIX)" in /*) ;; *) echo "make: PREFIX must be an absolute path (got '$(PREFIX)')" >&2; exit 1;; esac

# The release library (Swift runtime linked in statically, SONAME set, symlink .build/release/$(SONAME)).
lib: check-vars
	bash .ci/build-lib >/dev/null

# The `podsync` command-line tool, built the way the library is (static Swift runtime, same flags,
# so the two builds share their compiled modules). A shell snippet that leaves cli_ok=1 when the
# tool is built and up to date (shared by `make cli` and `make install`, so that install never
# copies a binary that did not build just now).
BUILD_CLI = cli_ok=0; \
	if [ "$(CLI)" != no ]; then \
	    if [ -d Sources/podsync-cli ]; then \
	        echo "$(SWIFT) build -c release -Xswiftc -static-stdlib --product podsync-cli"; \
	        if $(SWIFT) build -c release -Xswiftc -static-stdlib --product podsync-cli && [ -x $(BUILT_CLI) ]; then \
	            cli_ok=1; \
	        elif [ "$(CLI)" = yes ]; then \
	            echo "make: the podsync command-line tool did not build" >&2; exit 1; \
	        else \
	            echo "make: WARNING: the podsync command-line tool did not build; going on without it (CLI=yes makes this an error, CLI=no skips the tool)" >&2; \
	        fi; \
	    elif [ "$(CLI)" = yes ]; then \
	        echo "make: CLI=yes but there is no Sources/podsync-cli" >&2; exit 1; \
	    fi; \
	fi

cli: lib
	@$(BUILD_CLI)

install: install-lib install-cli

# The templates are filled in straight into the destination (no shared intermediate files, so
# concurrent installs into different prefixes do not mix).
install-lib: lib
	@test -f $(BUILT_LIB) || { echo "make: $(BUILT_LIB) is missing: run make first" >&2; exit 1; }
	@soname=$$(readelf -d $(BUILT_LIB) | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p'); \
	if [ "$$soname" != "$(SONAME)" ]; then \
	    echo "make: $(BUILT_LIB) has SONAME '$$soname', expected $(SONAME): rebuild it with bash .ci/build-lib" >&2; exit 1; fi
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 755 $(BUILT_LIB) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sfn $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libpodsync.so
	$(SUBST) packaging/podsync.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/podsync.pc
	$(SUBST) packaging/PodSyncConfig.cmake.in >$(DESTDIR)$(CMAKEDIR)/PodSyncConfig.cmake
	$(SUBST) packaging/PodSyncConfigVersion.cmake.in >$(DESTDIR)$(CMAKEDIR)/PodSyncConfigVersion.cmake
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/podsync.pc $(DESTDIR)$(CMAKEDIR)/PodSyncConfig.cmake $(DESTDIR)$(CMAKEDIR)/PodSyncConfigVersion.cmake
	$(INSTALL) -m 644 LICENSE LICENSE-MIT LICENSE-APACHE $(DESTDIR)$(DOCDIR)/
	@# The NATS carrier (include/podsync_nats.h), when it was built (it needs libnats-dev).
	@if [ -f .build/release/libpodsync_nats.so ]; then \
	    echo "$(INSTALL) -m 755 .build/release/libpodsync_nats.so $(DESTDIR)$(LIBDIR)/libpodsync_nats.so.0"; \
	    $(INSTALL) -m 755 .build/release/libpodsync_nats.so $(DESTDIR)$(LIBDIR)/libpodsync_nats.so.0 && \
	    ln -sfn libpodsync_nats.so.0 $(DESTDIR)$(LIBDIR)/libpodsync_nats.so; \
	else echo "make: the NATS carrier was not built (libnats-dev missing): libpodsync_nats.so is not installed"; fi

install-cli: lib
	@$(BUILD_CLI); \
	if [ "$$cli_ok" = 1 ]; then \
	    echo "$(INSTALL) -m 755 $(BUILT_CLI) $(DESTDIR)$(BINDIR)/podsync"; \
	    $(INSTALL) -d $(DESTDIR)$(BINDIR) && $(INSTALL) -m 755 $(BUILT_CLI) $(DESTDIR)$(BINDIR)/podsync; \
	else \
	    echo "make: the podsync command-line tool is not installed (CLI=$(CLI))"; \
	fi

uninstall: check-vars
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(HEADERS)))
	rm -f $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libpodsync.so
	rm -f $(DESTDIR)$(LIBDIR)/libpodsync_nats.so.0 $(DESTDIR)$(LIBDIR)/libpodsync_nats.so
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/podsync.pc
	rm -f $(DESTDIR)$(CMAKEDIR)/PodSyncConfig.cmake $(DESTDIR)$(CMAKEDIR)/PodSyncConfigVersion.cmake
	rm -f $(DESTDIR)$(DOCDIR)/LICENSE $(DESTDIR)$(DOCDIR)/LICENSE-MIT $(DESTDIR)$(DOCDIR)/LICENSE-APACHE
	rm -f $(DESTDIR)$(BINDIR)/podsync
	rmdir $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null || true
