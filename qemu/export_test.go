package qemu

// WithHostForwards is withHostForwards, for the tests of package qemu_test.
var WithHostForwards = withHostForwards
