# Run "make help" for the list of targets.
MODULES := $(shell git ls-files '*go.mod' | xargs -n1 dirname | sort)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: demo
demo: ## Run the demo on its embedded workspace.
	go run ./cmd/hotreload demo

.PHONY: build
build: ## Build the hotreload binary into ./bin.
	go build -o bin/hotreload ./cmd/hotreload

.PHONY: test
test: ## Run go test -race in every module.
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -race ./...) || exit 1; done

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: check
check: ## Run gofmt, go vet and staticcheck in every module.
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt needed"; exit 1)
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && go vet ./... && go run $(STATICCHECK) ./...) || exit 1; done

.PHONY: bench
bench: ## Run the benchmarks of the bench module (peers side by side).
	cd bench && go test -run '^$$' -bench . -benchmem -cpu 1,2 ./...

.PHONY: fuzz
fuzz: ## Fuzz every parser for 30 s each, 4 GiB of address space per process.
	@ulimit -v 4194304; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for t in $$(grep -h '^func Fuzz' $$f/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			go test -run '^$$' -fuzz "^$$t$$" -fuzztime 30s ./$$f || exit 1; done; done

.PHONY: ci
ci: ## Run what CI runs (installs packages; needs root).
	./.ci/run
