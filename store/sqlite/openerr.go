package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// openError wraps an error met while opening the database at path. When
// SQLite could not open or write the file (a read-only file or directory,
// a volume owned by another user), it says which file and what to check:
// left alone, a read-only file opens fine and only the first write fails.
func openError(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
			abs, aerr := filepath.Abs(path)
			if aerr != nil {
				abs = path
			}
			return fmt.Errorf("open sqlite: cannot write the database file %s: "+
				"check the permissions and owner of the file and of its directory %s "+
				"(both must be writable by this process, user id %d; SQLite creates "+
				"%s-wal and %s-shm beside the file) and that the file system is not "+
				"mounted read-only: %w",
				abs, filepath.Dir(abs), os.Geteuid(), filepath.Base(abs), filepath.Base(abs), err)
		}
	}
	return fmt.Errorf("open sqlite: %w", err)
}
