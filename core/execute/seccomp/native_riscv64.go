package seccomp

var nativeTable = &table_riscv64
