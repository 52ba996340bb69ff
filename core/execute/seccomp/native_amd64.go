package seccomp

var nativeTable = &table_amd64
