//go:build !amd64 && !arm64 && !arm && !riscv64

package seccomp

var nativeTable *table
