//go:build !unix

package batchfile

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked")

// lockFile does nothing where flock does not exist: two jobs on one output are not prevented.
func lockFile(*os.File) error { return nil }
