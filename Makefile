# testbed — the two commands a new machine needs:
#   make up     build testbed and bring up the example stack on the sim provider
#   make test   vet, format check and every test (builds the sim control plane once)
#   make deps   what the tests need beyond Go: Debian's chromium, to render timelines

GO      ?= go
BIN     := bin/testbed
EXAMPLE ?= examples/hello/testbed.yaml

.PHONY: build up down test vet fmt-check deps assets bench clean

build:
	$(GO) build -o $(BIN) ./cmd/testbed

# The first run builds the pinned control plane from the Go module proxy
# (about 10 minutes on 2 cores); later runs reuse the cache.
assets: build
	$(BIN) assets build

up: build
	$(BIN) up -f $(EXAMPLE)

down: build
	$(BIN) down -f $(EXAMPLE)

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The timeline's rendering test screenshots an SVG with headless Chromium;
# in CI (CI=true, as root) it fails rather than skips without it.
deps:
	@command -v chromium >/dev/null || { \
	  sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends chromium fonts-dejavu-core; }

# go test ./... leaves out the examples that are modules of their own:
# examples/ginkgo (its Ginkgo suite runs after, with 4 parallel processes)
# and the DataStorage service of examples/kubernaut-real (its unit tests).
test: deps fmt-check vet
	$(GO) test -count=1 -timeout 60m ./...
	cd examples/ginkgo && $(GO) vet ./... && $(GO) run github.com/onsi/ginkgo/v2/ginkgo --procs=4 -r
	cd examples/kubernaut-real/datastorage && $(GO) vet ./... && $(GO) test -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 60m ./...

clean:
	rm -rf bin
