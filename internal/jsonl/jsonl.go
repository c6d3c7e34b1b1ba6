// Package jsonl appends records to JSON Lines files: the local Segment outbox and the
// stream emulator's failure log.
package jsonl

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// mu serialises appends within the process, so concurrent writers never interleave
// within a line even when several share a path. Across processes, O_APPEND keeps lines
// whole because each line is one write.
var mu sync.Mutex

// Append writes line, ending it with a newline if it has none, to the end of the file
// at path, creating the file (0600: these files hold people's data) and its directory.
func Append(path string, line []byte) error { return appendLine(path, line, false) }

// AppendSynced is Append, returning only once the line is on disk (fsync): for a record
// whose only other copy is about to be forgotten.
func AppendSynced(path string, line []byte) error { return appendLine(path, line, true) }

func appendLine(path string, line []byte, sync bool) error {
	if len(line) == 0 || line[len(line)-1] != '\n' {
		line = append(line[:len(line):len(line)], '\n')
	}
	mu.Lock()
	defer mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory of %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.Write(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("append to %s: %w", path, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return fmt.Errorf("sync %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
