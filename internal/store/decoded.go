package store

import (
	"crypto/sha256"
	"sync"

	"github.com/attribution-dev/attribution/internal/conversion"
)

// decoded keeps the last values decoded from stored bytes, by the bytes' hash. Every
// stream batch recomputes its hours from their conversions and its days from their hour
// rollups, most of which the previous batches decoded already: decoding them again was
// half of the conversions consumer's CPU. Keyed by content, an entry never goes stale.
// Values are shared: callers must only read them.
type decoded[T any] struct {
	mu    sync.Mutex
	max   int
	byKey map[[sha256.Size]byte]*T
	order [][sha256.Size]byte // oldest first, for eviction
}

func newDecoded[T any](max int) *decoded[T] {
	return &decoded[T]{max: max, byKey: make(map[[sha256.Size]byte]*T, max)}
}

// get returns the value data decodes to, decoding it only when not kept. A nil d keeps
// nothing: callers reading once (a precomputation) decode every time.
func (d *decoded[T]) get(data []byte) (*T, error) {
	if d == nil {
		v := new(T)
		if err := conversion.Decode(data, v); err != nil {
			return nil, err
		}
		return v, nil
	}
	key := sha256.Sum256(data)
	d.mu.Lock()
	v, ok := d.byKey[key]
	d.mu.Unlock()
	if ok {
		return v, nil
	}
	v = new(T)
	if err := conversion.Decode(data, v); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.byKey[key]; !ok {
		if len(d.order) >= d.max {
			delete(d.byKey, d.order[0])
			d.order = d.order[1:]
		}
		d.byKey[key] = v
		d.order = append(d.order, key)
	}
	return v, nil
}
