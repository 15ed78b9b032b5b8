# testbed — the two commands a new machine needs:
#   make up     build testbed and bring up the example stack on the sim provider
#   make test   vet, format check and every test (builds the sim control plane once)
#   make deps   what the tests need beyond Go, from Debian's packages: chromium
#               (timelines), debootstrap and libseccomp-dev (the kind node image)

GO      ?= go
BIN     := bin/testbed
EXAMPLE ?= examples/hello/testbed.yaml

.PHONY: build up down test vet fmt-check deps assets kind-node bench clean

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
# in CI (CI=true, as root) it fails rather than skips without it. The kind
# node image needs debootstrap (its Debian root filesystem) and libseccomp
# (runc's seccomp support, through cgo and pkg-config).
DEPS := chromium fonts-dejavu-core debootstrap libseccomp-dev pkg-config
deps:
	@missing=; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends $$missing; fi

# testbed's kind node image, built once into the Docker engine from the Go
# module proxy and Debian's packages (about 7 minutes on 2 cores the first
# time); the real kind tests use it. Without a Docker engine they skip.
kind-node: build
	@if docker info >/dev/null 2>&1; then $(BIN) assets build --kind-node; \
	else echo "no Docker engine answers: the kind node image is not built and the real kind tests will skip"; fi

# go test ./... leaves out the examples that are modules of their own:
# examples/ginkgo (its Ginkgo suite runs after, with 4 parallel processes)
# and the DataStorage service of examples/kubernaut-real (its unit tests).
test: deps fmt-check vet kind-node
	$(GO) test -count=1 -timeout 60m ./...
	cd examples/ginkgo && $(GO) vet ./... && $(GO) run github.com/onsi/ginkgo/v2/ginkgo --procs=4 -r
	cd examples/kubernaut-real/datastorage && $(GO) vet ./... && $(GO) test -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 60m ./...

clean:
	rm -rf bin
