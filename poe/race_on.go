//go:build race

package poe

// raceEnabled turns the goroutine check on in race builds (see
// bridge.go): a race report says two goroutines touched the kernel; the
// check's panic says which entry point to use instead.
const raceEnabled = true
