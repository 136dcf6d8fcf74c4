# Headroom — two commands:
#   make run    install what is missing, build, and start the desktop app
#   make test   install what the tests need, and run every test layer
# Also: make build (release binaries), make package (.deb files → target/packages/),
#       make test-package (lintian, install/purge in a fresh Debian root; CI runs it),
#       make bench (benchmarks → BENCHMARKS.md).

SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run build package test-package test bench deps-run deps-test deps-bench ui ui-test lint rust-build rust-test clean

run: deps-run ui
	$(CARGO) build -p headroom -p headroom-cli
	./target/debug/headroom $(ARGS)

# headroom-cli has its own profile, `release-cli` (size-optimized: it stays resident
# on mail servers; see Cargo.toml).
build: deps-run ui
	$(CARGO) build --release -p headroom
	$(CARGO) build --profile release-cli -p headroom-cli
	@ls -l target/release/headroom target/release-cli/headroom-cli

test: deps-test ui ui-test lint rust-build rust-test

# The desktop .deb (Tauri's bundler, finished by the script) and the CLI/agent .deb.
package: deps-run ui
	scripts/package.sh

# Needs root (it makes a chroot) and the Debian mirror; the packages are built first.
test-package: deps-test package
	tests/package/test.sh

deps-run:
	@scripts/deps.sh run
deps-test:
	@scripts/deps.sh test
deps-bench:
	@scripts/deps.sh bench

# The app embeds ui/dist at compile time, so the UI is built first.
ui:
	cd ui && npm run build

ui-test:
	cd ui && npm run check && npm test

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@# The engine and the CLI never depend on any tauri crate (the path src-tauri/ is no crate).
	@# No dependency cycles among the engine's modules (config <-> assess and the like).
	python3 scripts/module_cycles.py
	@for c in headroom-engine headroom-cli; do \
	  ! $(CARGO) tree -p $$c -e normal --prefix none | grep -qE '^tauri(-[a-z-]+)? v' || { echo "$$c must not depend on tauri"; exit 1; }; \
	done

# Binaries the system tests start (target/debug/headroom, headroom-cli).
rust-build:
	$(CARGO) build --workspace --bins

rust-test:
	@# A system test whose real server (or root, tmpfs, ::1) is missing fails here instead of passing as skipped.
	HEADROOM_REQUIRE_ALL=1 $(CARGO) test --workspace --no-fail-fast
	@# cargo test regenerated ui/src/bindings from the Rust types: they must match the commit.
	@git diff --quiet -- ui/src/bindings && test -z "$$(git ls-files --others --exclude-standard ui/src/bindings)" || \
	  { echo "ui/src/bindings is stale: the Rust types changed; commit the regenerated files"; git status --short ui/src/bindings; exit 1; }

bench: deps-bench ui
	$(CARGO) build --release -p headroom
	$(CARGO) build --profile release-cli -p headroom-cli
	bench/run.sh

clean:
	$(CARGO) clean
	rm -rf ui/dist ui/node_modules tests/artifacts
