package segment

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// outboxMu serialises dry-run writes of every client in the process, so concurrent
// batches never interleave within a line even when several clients share a path.
// O_APPEND keeps other processes' lines whole as long as each line is one write.
var outboxMu sync.Mutex

// appendOutbox writes one batch as one JSON line.
func appendOutbox(path string, line []byte) error {
	outboxMu.Lock()
	defer outboxMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create outbox directory: %w", err)
	}
	// 0600: the outbox holds people's traits.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open outbox: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("append to outbox %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close outbox %s: %w", path, err)
	}
	return nil
}
