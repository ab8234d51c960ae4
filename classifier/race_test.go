//go:build race

package classifier

// raceEnabled is set under the race detector, which makes sync.Pool drop items at random, so
// allocation counts mean nothing.
const raceEnabled = true
