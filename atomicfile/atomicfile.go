// Package atomicfile replaces files so that a reader, or a process that is killed at any
// moment, sees either the old content or the new one, never a part: checkpoints, exported
// models, reports and extracted datasets are all written through it.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// tempPrefix names the temporary files of writers of path: hidden, tied to the target's name
// and carrying the writer's process id, so that files left by killed writers can be recognised
// and removed. Readers only ever open the target itself, so a temporary file is never taken
// for it.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// Write writes path through fill: to a new temporary file in the same directory, which is
// synced, closed and renamed over path, after which the directory is synced so that the rename
// itself survives a crash. When fill fails, path is left as it was. A new file gets mode 0644,
// a replaced one keeps its mode.
func Write(path string, fill func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return errors.New("the path names a directory, not a file")
	}
	removeStaleTemps(dir, base)
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return errors.New("the path exists and is not a regular file")
		}
		mode = st.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. File systems that cannot sync a directory say so
// with EINVAL, which is not a failure of the write.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// removeStaleTemps deletes temporary files of earlier writers of base whose process has
// ended (killed or crashed mid-write). Files of live processes, this one included, are kept:
// they may be in the middle of their own write. Failures are ignored; a leftover file costs
// only disk space.
func removeStaleTemps(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
}
