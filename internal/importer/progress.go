package importer

import (
	"fmt"
	"time"
)

// Progress is a snapshot of a running import.
type Progress struct {
	Summary
}

// ETA estimates the time left from the bytes read so far; ok is false when the total
// is unknown (stdin) or nothing has been read yet.
func (p Progress) ETA() (time.Duration, bool) {
	if p.BytesTotal <= 0 || p.Bytes <= 0 || p.Elapsed <= 0 {
		return 0, false
	}
	left := float64(p.BytesTotal-p.Bytes) / float64(p.Bytes) * float64(p.Elapsed)
	return max(0, time.Duration(left)).Round(time.Second), true
}

// Line is the progress as one short line, for a terminal or a log.
func (p Progress) Line() string {
	s := fmt.Sprintf("%d events, %.0f/s, stored %d, duplicates %d, rejected %d, %s read",
		p.Read, p.EventsPerSecond, p.Stored, p.Duplicates, p.Rejected, byteCount(p.Bytes))
	if p.BytesTotal > 0 {
		s += fmt.Sprintf(" of %s (%.0f%%)", byteCount(p.BytesTotal), 100*float64(p.Bytes)/float64(p.BytesTotal))
	}
	if eta, ok := p.ETA(); ok {
		s += fmt.Sprintf(", ETA %s", eta)
	}
	return s
}

func byteCount(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
