package trigger

import (
	"fmt"
	"log/slog"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/segment"
)

// NewSegmentClient builds the Segment client the configuration describes:
// SEGMENT_WRITE_KEY and SEGMENT_ENDPOINT; without a write key it is a dry run that
// appends batches to outboxPath (segment.DefaultOutboxPath when empty).
//
// It lives here rather than in package segment so the client stays free of this
// service's configuration; whatever else comes to send to Segment can call it too.
func NewSegmentClient(cfg config.Config, outboxPath string, log *slog.Logger) (*segment.Client, error) {
	c, err := segment.New(segment.Config{
		WriteKey:   cfg.SegmentWriteKey,
		Endpoint:   cfg.SegmentEndpoint,
		OutboxPath: outboxPath,
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("segment client: %w", err)
	}
	return c, nil
}
