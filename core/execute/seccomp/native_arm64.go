package seccomp

var nativeTable = &table_arm64
