package segment

import (
	"bytes"
	"encoding/json"

	"github.com/attribution-dev/attribution/internal/clip"
)

// Fit shortens the longest string values of m's traits and properties just enough for m
// to fit Segment's per-message limit, and reports whether it changed anything. Page URLs
// have no length limit of their own, and an identify carries several (first, last and
// last non-direct touch, each with url and referrer); refusing such a message would fail
// every push for that person, forever.
//
// Every value longer than one cap is cut to it at a character boundary and ends with
// clip.Ellipsis; the cap is the largest that fits, found by bisection, so short values are
// never touched and the result depends only on m. When even empty values would not fit
// (ids near their own limits), m is left as it is and encoding refuses it with a reason.
func Fit(m *Message) bool {
	if sizeBound(*m) <= MaxMessageBytes {
		return false // the common case, proven without encoding the message
	}
	size, err := marshalledSize(*m)
	if err != nil || size <= MaxMessageBytes {
		return false
	}
	type field struct {
		values map[string]any
		key    string
		value  string
	}
	var fields []field
	longest := 0
	for _, values := range []map[string]any{m.Traits, m.Properties} {
		for k, v := range values {
			if s, ok := v.(string); ok {
				fields = append(fields, field{values, k, s})
				longest = max(longest, len(s))
			}
		}
	}
	apply := func(limit int) {
		for _, f := range fields {
			f.values[f.key] = clip.String(f.value, limit)
		}
	}
	fits := func(limit int) bool {
		apply(limit)
		size, err := marshalledSize(*m)
		return err == nil && size <= MaxMessageBytes
	}
	if !fits(0) {
		apply(longest) // restores every value
		return false
	}
	// Invariant: cap lo fits, cap hi does not.
	lo, hi := 0, longest
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	apply(lo)
	return true
}

// sizeBound is more than m can take as JSON: every string at most six bytes per byte
// (\u00XX escapes), every other trait value a short literal, plus the envelope's keys.
func sizeBound(m Message) int {
	n := 256 + 6*(len(m.Type)+len(m.MessageID)+len(m.UserID)+len(m.AnonymousID)+len(m.Event))
	for _, values := range []map[string]any{m.Traits, m.Properties} {
		for k, v := range values {
			n += 6*len(k) + 8
			switch v := v.(type) {
			case string:
				n += 6 * len(v)
			case nil, bool:
				n += 5
			default:
				return MaxMessageBytes + 1 // numbers, maps, slices: measure them
			}
		}
	}
	if m.Context != nil {
		return MaxMessageBytes + 1
	}
	return n
}

// marshalledSize is the size of m as encode sends it.
func marshalledSize(m Message) (int, error) {
	raw, err := marshal(m)
	return len(raw), err
}

// marshal is m as sent: JSON without HTML escaping (URLs are common in our traits, and
// escaping & < > would cost 6 bytes each for nothing) and without a trailing newline.
func marshal(m Message) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
