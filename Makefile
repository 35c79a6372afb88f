# Vigil — build, test, benchmark, install.
# `make demo` and `make test` must work as root on a fresh Debian 12 host:
# they install the Debian packages they need (idempotently) first.

PREFIX    ?= /usr
SYSCONFDIR ?= /etc
DESTDIR   ?=
BIN       := bin
GO        ?= go
GOFLAGS   ?= -trimpath
export GOTOOLCHAIN ?= auto

# Debian packages the tests and benchmarks use (real services, compatibility oracles).
DEB_PKGS := tlog rsyslog systemd asciinema bsdutils util-linux procps gcc libc6-dev openssh-client git \
	openssh-server sshpass slapd ldap-utils dbus libpam0g-dev libpam-wrapper libnss-wrapper pamtester \
	valgrind expect sudo login passwd rsync checkpolicy semodule-utils setools m4 gawk \
	lintian postgresql
# Vigil's Cockpit page (play/web) and its browser test.
DEB_PKGS += cockpit-ws cockpit-bridge cockpit-system chromium acl


.PHONY: demo-fleet bench-fleet all build deps test test-go bench install deb pkg-files demo fuzz clean lint selinux-share sssd-root

all: build

# The version every program reports and the package carries: written here
# only (conf/version, set with -X).
VERSION    ?= 0.1.0

# Hardening, for every binary and module: position-independent, full RELRO
# (-z relro -z now, which needs the external linker), no symbol tables or
# DWARF (-s -w; panics still have their stack traces).
HARDEN_LDFLAGS := -Wl,-z,relro,-z,now
GO_LDFLAGS     := -s -w -X github.com/vigil-rec/vigil/conf/version.Version=$(VERSION) -linkmode=external -extldflags '$(HARDEN_LDFLAGS)'

build: $(BIN)/libnss_vigil.so.2 $(BIN)/pam_vigil.so
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS) -buildmode=pie -ldflags="$(GO_LDFLAGS)" -o $(BIN)/ ./rec/cmd/... ./play/cmd/... ./play/collector/cmd/... ./policyd/cmd/...

# The NSS module is plain C (design.md, section 3).
$(BIN)/libnss_vigil.so.2: $(wildcard nss/src/*.c nss/src/*.h)
	@mkdir -p $(BIN)
	gcc -O2 -g -D_FORTIFY_SOURCE=2 -fPIC -shared -Wall -Wextra -Werror -fvisibility=hidden -Wl,-soname,libnss_vigil.so.2 \
		$(HARDEN_LDFLAGS) -o $@ nss/src/*.c

# The PAM module is plain C as well (pam/README.md: a Go module would cost
# every login the Go runtime's start), exporting only pam_sm_open/close_session.
# pam/pamtest builds it with this rule (PAM_CFLAGS: its sanitized variant).
$(BIN)/pam_vigil.so: $(wildcard pam/src/*.c pam/src/*.h pam/src/pam_vigil.map nss/src/snapshot.*)
	@mkdir -p $(BIN)
	gcc $(PAM_CFLAGS) -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fcf-protection \
		-fPIC -shared -Wall -Wextra -Werror -fvisibility=hidden \
		-Wl,--version-script=pam/src/pam_vigil.map $(HARDEN_LDFLAGS) -o $@ pam/src/*.c nss/src/snapshot.c -lpam

# Install missing Debian packages only: apt-get update once, then install.
# openssh-server and slapd start their service on install; a policy-rc.d
# (only if the host has none) keeps the host as it was.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		rcd=; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; rcd=1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; st=$$?; \
		! echo "$$missing" | grep -qx cockpit-ws || systemctl disable --quiet cockpit.socket 2>/dev/null; \
		[ -z "$$rcd" ] || rm -f /usr/sbin/policy-rc.d; [ $$st = 0 ] || exit $$st; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go >= 1.21 is required (it fetches the 1.26 toolchain itself): see README"; exit 1; }
	@# The Cockpit page is bundled with npm (make web): Debian's, unless a
	@# node with npm is there already (NodeSource's nodejs ships its own).
	@command -v npm >/dev/null || { echo "installing: nodejs npm"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }

# The Cockpit page: play/web bundled from npm (esbuild, xterm.js) into
# play/web/dist, what is installed as /usr/share/cockpit/vigil.
.PHONY: web
WEB := play/web
web: $(WEB)/dist/index.js
$(WEB)/dist/index.js: $(WEB)/package-lock.json $(WEB)/build.mjs $(WEB)/index.html $(WEB)/manifest.json $(wildcard $(WEB)/src/*)
	@command -v npm >/dev/null || { echo "npm is required to build the Cockpit page (play/web/README.md)"; exit 1; }
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

# Unit, fuzz-seed and end-to-end tests (tests/ drives the real binaries).
test: deps build deb selinux-share sssd-root lint test-go

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt: $$out"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

test-go:
	VIGIL_SELINUX_SHARE=$(SELINUX_SHARE) $(GO) test -count=1 -timeout 15m ./...

# SELinux development files, unpacked from Debian's packages under bin/ rather
# than installed: their maintainer scripts would write /etc/selinux/config and
# build the host's policy store.
SELINUX_SHARE := $(CURDIR)/$(BIN)/selinux-share/usr/share/selinux
selinux-share: $(SELINUX_SHARE)/devel/Makefile
$(SELINUX_SHARE)/devel/Makefile:
	@rm -rf $(BIN)/selinux-share $(BIN)/selinux-debs && mkdir -p $(BIN)/selinux-debs
	cd $(BIN)/selinux-debs && apt-get download -qq selinux-policy-dev selinux-policy-default
	for d in $(BIN)/selinux-debs/*.deb; do dpkg-deb -x $$d $(BIN)/selinux-share; done

# Debian's sssd with the files provider, for tests/sssd_test.go: unpacked
# under bin/ rather than installed, since libnss-sss's and libpam-sss's
# maintainer scripts would rewrite the host's nsswitch.conf and PAM stacks.
# The test lays it under /usr with an overlay in its own mount namespace.
# lib/ is folded into usr/lib/ as on a merged-/usr host.
SSSD_ROOT := $(CURDIR)/$(BIN)/sssd-root
SSSD_DEBS := sssd-common sssd-proxy libsss-certmap0 libsss-idmap0 libsss-nss-idmap0 libnss-sss libpam-sss \
	libldb2 libtdb1 libtevent0 libtalloc2 libdhash1 libbasicobjects0 libcollection4 libini-config5 \
	libpath-utils1 libref-array1 libnl-3-200 libnl-route-3-200 libc-ares2 liblmdb0
sssd-root: $(SSSD_ROOT)/usr/sbin/sssd
$(SSSD_ROOT)/usr/sbin/sssd:
	@rm -rf $(BIN)/sssd-root $(BIN)/sssd-debs && mkdir -p $(BIN)/sssd-debs
	cd $(BIN)/sssd-debs && apt-get download -qq $(SSSD_DEBS)
	for d in $(BIN)/sssd-debs/*.deb; do dpkg-deb -x $$d $(BIN)/sssd-root; done
	cp -a $(BIN)/sssd-root/lib/. $(BIN)/sssd-root/usr/lib/ && rm -rf $(BIN)/sssd-root/lib

# The SELinux policy module (selinux/README.md), built with Debian's devel Makefile.
selinux: $(BIN)/vigil.pp
$(BIN)/vigil.pp: selinux/vigil.te selinux/vigil.if selinux/vigil.fc $(SELINUX_SHARE)/devel/Makefile
	@rm -rf $(BIN)/selinux && mkdir -p $(BIN)/selinux
	cp selinux/vigil.te selinux/vigil.if selinux/vigil.fc $(BIN)/selinux/
	cd $(BIN)/selinux && env -u MAKEFLAGS -u MAKELEVEL make -f $(SELINUX_SHARE)/devel/Makefile \
		SHAREDIR=$(SELINUX_SHARE) HEADERDIR=$(SELINUX_SHARE)/devel/include NAME=default vigil.pp
	cp $(BIN)/selinux/vigil.pp $@

bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem ./rec/... ./play/...
	tests/bench/recorder.sh
	nss/bench/run.sh
	tests/bench/policyd.sh
	cd tests && VIGIL_BENCH=1 $(GO) test -count=1 -v -run '^TestBenchLogin$$' . | grep -E '^ +(PAM|ssh) '
	cd tests && VIGIL_BENCH=1 VIGIL_SVCTEST_TIMEOUT=30m $(GO) test -count=1 -v -timeout 35m -run '^TestBenchCommands$$' . | grep -E 'round [0-9]'
	$(MAKE) bench-fleet

# The fleet's figures (issue 14): search over 10,000 recordings (10 GB), and
# ingest from 200 hosts at 100 KiB/s each: its latency with a 5 s collector
# outage (the hosts' files fit in tmpfs), its catch-up after a 10-minute one
# (12 GB written meanwhile: the hosts' files are the spool, on disk).
bench-fleet: deps build
	VIGIL_BENCH_SEARCH=$${VIGIL_BENCH_SEARCH:-10000:1048576} $(GO) test -count=1 -v -timeout 3h -run '^TestBenchSearch$$' ./play/collector/server | grep -E 'stored|lookup|search '
	for outage in 5s $${VIGIL_BENCH_OUTAGE:-10m}; do \
		(cd tests && VIGIL_BENCH_FLEET=$${VIGIL_BENCH_FLEET:-200:102400} VIGIL_BENCH_OUTAGE=$$outage $(GO) test -count=1 -v -timeout 3h -run '^TestBenchFleet$$' . | grep -E 'recordings are|hosts writing|acknowledged|busy|RSS|outage') || exit 1; \
	done

# Short fuzzing pass over every parser; corpora live in testdata/fuzz.
# A bare "context deadline exceeded" with no failing input written is Go's
# fuzz coordinator racing its own -fuzztime deadline (golang/go#75804, fixed
# in Go 1.27), not a finding: it is reported and the run goes on.
fuzz:
	@out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$t/*_test.go | cut -d' ' -f2); do \
			echo "== $$t $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} ./$$t >$$out 2>&1; rc=$$?; \
			cat $$out; [ $$rc -eq 0 ] && continue; \
			if grep -q 'context deadline exceeded' $$out && ! grep -q 'Failing input written' $$out; then \
				echo "== $$t $$f: the fuzz coordinator's deadline race (golang/go#75804), no failing input: not a finding"; \
			else exit 1; fi; \
		done; \
	done

# Installation layout (install, deb). Modules go where libpam and glibc look
# on Debian: the multiarch library directory (x86_64-linux-gnu on amd64).
MULTIARCH  ?= $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
DEB_ARCH   ?= $(shell dpkg --print-architecture)
LIBDIR     ?= $(PREFIX)/lib/$(MULTIARCH)
PAMDIR     ?= $(LIBDIR)/security
UNITDIR    ?= $(PREFIX)/lib/systemd/system
NFPM       := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

# Everything the package installs (conf/system/nfpm.yaml), without the
# package's postinst: that is, no account, directories, key or service start
# (see conf/system/README.md for those steps). Never overwrites an admin's
# /etc/vigil files.
install: build pkg-files
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PAMDIR)
	install -m 0755 $(BIN)/vigil-rec $(BIN)/vigil-rec-session $(BIN)/vigil-play $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(BIN)/vigil-policyd $(BIN)/vigilctl $(BIN)/vigil-ship $(BIN)/vigil-collector $(BIN)/vigil-cmdlog $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 $(BIN)/libnss_vigil.so.2 $(DESTDIR)$(LIBDIR)/libnss_vigil.so.2
	install -m 0644 $(BIN)/pam_vigil.so $(DESTDIR)$(PAMDIR)/pam_vigil.so
	install -D -m 0644 policyd/dbus/io.vigil.Policy1.conf $(DESTDIR)$(PREFIX)/share/dbus-1/system.d/io.vigil.Policy1.conf
	install -D -m 0644 policyd/systemd/vigil-policyd.service $(DESTDIR)$(UNITDIR)/vigil-policyd.service
	install -D -m 0644 conf/system/systemd/vigil-purge.service $(DESTDIR)$(UNITDIR)/vigil-purge.service
	install -D -m 0644 conf/system/systemd/vigil-purge.timer $(DESTDIR)$(UNITDIR)/vigil-purge.timer
	install -D -m 0644 conf/system/systemd/vigil-ship.service $(DESTDIR)$(UNITDIR)/vigil-ship.service
	install -D -m 0644 conf/system/systemd/vigil-cmdlog.service $(DESTDIR)$(UNITDIR)/vigil-cmdlog.service
	install -D -m 0644 conf/system/systemd/vigil-collector.service $(DESTDIR)$(UNITDIR)/vigil-collector.service
	install -D -m 0644 conf/system/sysusers.d/vigil.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/vigil.conf
	install -D -m 0644 conf/system/tmpfiles.d/vigil.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/vigil.conf
	install -D -m 0644 conf/system/pam-configs/vigil $(DESTDIR)$(PREFIX)/share/pam-configs/vigil
	install -d $(DESTDIR)$(SYSCONFDIR)/vigil
	[ -e $(DESTDIR)$(SYSCONFDIR)/vigil/policy.toml ] || install -m 0644 conf/policy.example.toml $(DESTDIR)$(SYSCONFDIR)/vigil/policy.toml
	[ -e $(DESTDIR)$(SYSCONFDIR)/vigil/rec.toml ] || install -m 0644 conf/rec.example.toml $(DESTDIR)$(SYSCONFDIR)/vigil/rec.toml
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/vigil-ship ] || install -D -m 0644 conf/system/default/vigil-ship $(DESTDIR)$(SYSCONFDIR)/default/vigil-ship
	@# 0640: it may come to hold the database's password.
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/vigil-collector ] || install -D -m 0640 conf/system/default/vigil-collector $(DESTDIR)$(SYSCONFDIR)/default/vigil-collector
	for f in $(DOC_FILES); do install -D -m 0644 $$f $(DESTDIR)$(PREFIX)/share/doc/vigil/$$f || exit 1; done
	install -D -m 0644 conf/ldap/vigil.schema $(DESTDIR)$(SYSCONFDIR)/ldap/schema/vigil.schema
	install -D -m 0644 conf/ldap/vigil.ldif $(DESTDIR)$(SYSCONFDIR)/ldap/schema/vigil.ldif
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man1 $(PKG)/man/man1/*
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man8 $(PKG)/man/man8/*
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(PKG)/bash-completion/*
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions $(PKG)/zsh/*
	@# The recorder must be setuid/setgid vigil: done here as root once the
	@# account exists; not into a DESTDIR (this host's vigil UID is not the
	@# target's: its package or image build does it there).
	@r=$(DESTDIR)$(PREFIX)/bin/vigil-rec-session; \
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && getent passwd vigil >/dev/null; then \
		chown vigil:vigil $$r && chmod 6755 $$r && echo "$$r: vigil:vigil 6755"; \
	else \
		echo "NOTE: $$r is root 0755; as root on the target, create the account and make it setuid/setgid vigil:"; \
		echo "  systemd-sysusers $(PREFIX)/lib/sysusers.d/vigil.conf && systemd-tmpfiles --create $(PREFIX)/lib/tmpfiles.d/vigil.conf"; \
		echo "  chown vigil:vigil $(PREFIX)/bin/vigil-rec-session && chmod 6755 $(PREFIX)/bin/vigil-rec-session"; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

# Documentation under /usr/share/doc/vigil, in the repository's layout so that
# README.md's links resolve: every file it links, and the files they link.
DOC_FILES := README.md conf/system/README.md conf/policy.example.toml conf/rec.example.toml \
	conf/ldap/vigil.schema conf/ldap/vigil.ldif conf/ldap/example.ldif \
	nss/README.md pam/README.md play/README.md play/web/README.md play/web/screenshots/list.png play/web/screenshots/player.png selinux/README.md \
	policyd/spec/dbus.md policyd/spec/nss.md policyd/dbus/io.vigil.Policy1.conf \
	rec/spec/integrity.md rec/spec/purge.md rec/spec/commands.md tests/bench/relay.c

# What the package ships besides bin/, made at `make deb` time in $(PKG):
# doc/ (DOC_FILES, copyright, changelog.gz), man/ (from the binaries' cobra
# definitions: conf/clidoc; vigil-rec-session's is written by hand),
# bash-completion/ and zsh/ (cobra's completion command), the stripped NSS
# and PAM modules (the build keeps their debug information), cockpit/ (the
# page, make web).
PKG := $(BIN)/pkg

pkg-files: build web
	rm -rf $(PKG) && mkdir -p $(PKG)/doc $(PKG)/man/man1 $(PKG)/man/man8 $(PKG)/bash-completion $(PKG)/zsh $(PKG)/cockpit
	install -m 0644 $(WEB)/dist/* $(PKG)/cockpit/
	for f in $(DOC_FILES); do install -D -m 0644 $$f $(PKG)/doc/$$f || exit 1; done
	install -m 0644 conf/system/deb/copyright $(PKG)/doc/copyright
	sed '1s/([^)]*)/($(VERSION))/' conf/system/deb/changelog | gzip -9n >$(PKG)/doc/changelog.gz
	$(BIN)/vigil-rec --man-pages $(PKG)/man/man1
	$(BIN)/vigil-play man-pages $(PKG)/man/man1
	$(BIN)/vigil-policyd --man-pages $(PKG)/man/man8
	$(BIN)/vigilctl man-pages $(PKG)/man/man8
	$(BIN)/vigil-ship man-pages $(PKG)/man/man8
	$(BIN)/vigil-cmdlog --man-pages $(PKG)/man/man8
	$(BIN)/vigil-collector man-pages $(PKG)/man/man8
	install -m 0644 rec/cmd/vigil-rec-session/vigil-rec-session.1 $(PKG)/man/man1/
	gzip -9n $(PKG)/man/man1/* $(PKG)/man/man8/*
	for c in vigil-play vigilctl; do \
		$(BIN)/$$c completion bash >$(PKG)/bash-completion/$$c && $(BIN)/$$c completion zsh >$(PKG)/zsh/_$$c || exit 1; \
	done
	for m in libnss_vigil.so.2 pam_vigil.so; do \
		strip --strip-unneeded --remove-section=.comment --remove-section=.note -o $(PKG)/$$m $(BIN)/$$m || exit 1; \
	done
	chmod -R u=rwX,go=rX $(PKG)

# bin/vigil_<version>_<arch>.deb (conf/system/nfpm.yaml; nfpm is fetched by go run).
deb: pkg-files
	VIGIL_VERSION=$(VERSION) VIGIL_ARCH=$(DEB_ARCH) VIGIL_MULTIARCH=$(MULTIARCH) VIGIL_BIN=$(abspath $(BIN)) VIGIL_PKG=$(abspath $(PKG)) \
		$(GO) run $(NFPM) pkg --packager deb --config conf/system/nfpm.yaml \
		--target $(BIN)/vigil_$(VERSION)_$(DEB_ARCH).deb

demo: deps build
	tests/demo.sh

# Three hosts shipping live to a collector on a private PostgreSQL cluster.
demo-fleet: deps build
	tests/demo-fleet.sh

clean:
	rm -rf $(BIN)
