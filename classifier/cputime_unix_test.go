//go:build unix

package classifier

import "syscall"

// cpuSeconds is the CPU time (user and system) the process has used so far, or 0 when it cannot
// be read. Benchmarks report throughput per CPU second beside throughput per wall second: on a
// machine shared with other work the two differ, and the first is what one core does.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
