//go:build unix

package batchfile

import (
	"errors"
	"os"
	"syscall"
)

// errLocked is lockFile's answer when another open file holds the lock.
var errLocked = errors.New("locked")

// lockFile takes an exclusive flock on f without waiting. The lock goes with the open file and
// ends when it is closed, also when the process dies.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errLocked
		case errors.Is(err, syscall.EINTR):
			continue
		}
		return err
	}
}
