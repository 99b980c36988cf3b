//go:build race

package main

// raceEnabled: the tests run under the race detector, so the corral binary
// they build is instrumented too, and the launcher's goroutines are checked
// where they really run.
const raceEnabled = true
