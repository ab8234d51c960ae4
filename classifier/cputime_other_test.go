//go:build !unix

package classifier

// cpuSeconds cannot be read here; benchmarks then report no per-CPU throughput.
func cpuSeconds() float64 { return 0 }
