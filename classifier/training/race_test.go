//go:build race

package training

// raceEnabled is set under the race detector, which slows training about tenfold and has no
// goroutines of ours to check in a byte comparison.
const raceEnabled = true
