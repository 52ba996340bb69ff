# sysmaster: build, boot and test. See README.md.
BOARD    ?= qemu-x86_64
GO       ?= go
OUT      ?= out
STATICCHECK_VERSION ?= v0.8.2
export SYSMASTER_CACHE ?= $(CURDIR)/.cache

.PHONY: all smbox smimage setup image run test lint bench clean

all: smbox smimage

# smbox for the host, handy for running the user-mode manager.
smbox:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(OUT)/smbox .

smimage:
	$(GO) build -o $(OUT)/smimage ./image/cmd/smimage

# QEMU, the board's kernel and busybox (for the console shell).
setup:
	scripts/setup $(BOARD)

image: smimage
	$(OUT)/smimage build --board $(BOARD) \
		--busybox cache \
		-o $(OUT)/$(BOARD)/initramfs.cpio.zst --compress zstd

run: setup image
	$(OUT)/smimage boot --board $(BOARD) $(OUT)/$(BOARD)/initramfs.cpio.zst

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	@# smbox must build for every board's arch (32-bit ARM catches int overflows).
	for a in arm64 arm riscv64; do GOOS=linux GOARCH=$$a CGO_ENABLED=0 $(GO) vet ./... || exit 1; done
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

test: lint
	$(GO) test -count=1 -timeout 20m ./...

bench:
	scripts/bench

clean:
	rm -rf $(OUT)
