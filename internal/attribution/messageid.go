package attribution

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strconv"
)

// Message id prefixes. They make our messages recognisable in Segment's debugger and keep
// identify and track ids apart even if their hashed inputs ever coincided.
const (
	IdentifyMessageIDPrefix = "attr-identify-"
	TrackMessageIDPrefix    = "attr-track-"
	CreditMessageIDPrefix   = "attr-credit-"
)

// messageIDHashBytes is how much of the SHA-256 goes into an id: 128 bits (32 hex
// digits) make an accidental collision negligible and keep ids far below Segment's
// 100-character limit.
const messageIDHashBytes = 16

// IdentifyMessageID is the messageId of the identify call carrying Traits(s) for userID.
// It is a hash of the user id and the traits in canonical form (keys sorted, every
// string length-prefixed), so it changes if and only if the traits change: resending
// unchanged attribution is deduplicated by Segment, and any change is a new message.
func IdentifyMessageID(userID string, s Summary) string {
	traits := Traits(s)
	keys := make([]string, 0, len(traits))
	for k := range traits {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	h := newMessageHasher("identify")
	h.field(userID)
	h.count(len(keys))
	for _, k := range keys {
		h.field(k)
		h.field(traitString(traits[k]))
	}
	return h.id(IdentifyMessageIDPrefix)
}

// SupersedingMessageID is the messageId under which an identify (id) is sent again
// because an identify with older traits (stale) may have reached Segment after it:
// Segment drops a message whose id it has seen, so the resend needs an id of its own,
// deterministic so that a redelivered resend is still deduplicated.
func SupersedingMessageID(id, stale string) string {
	h := newMessageHasher("identify-supersede")
	h.field(id)
	h.field(stale)
	return h.id(IdentifyMessageIDPrefix)
}

// TrackMessageID is the messageId of the track call for touch t of person personID (a
// user id or an anonymous id, as the route named it). Resending the same touch for the
// same person yields the same id, so Segment drops the duplicate.
//
// A touch without a MessageID should not exist; rather than give all such touches of a
// person one id (and have Segment drop all but one), its time, url and referrer stand in.
func TrackMessageID(personID string, t Touch) string {
	h := newMessageHasher("track")
	h.field(personID)
	h.field(t.MessageID)
	if t.MessageID == "" {
		h.field(strconv.FormatInt(t.Timestamp.UnixNano(), 10))
		h.field(t.URL)
		h.field(t.Referrer)
	}
	return h.id(TrackMessageIDPrefix)
}

// CreditMessageID is the messageId of the track crediting touch touchID with credits
// (per model) of conversion conversionID. The credits are part of it, so a recomputed
// conversion sends again exactly the touches whose credits changed; an unchanged one
// repeats its ids, which Segment drops.
func CreditMessageID(conversionID, touchID string, credits map[Model]float64) string {
	h := newMessageHasher("credit")
	h.field(conversionID)
	h.field(touchID)
	h.count(len(credits))
	for _, m := range Models() {
		if c, ok := credits[m]; ok {
			h.field(string(m))
			h.field(strconv.FormatFloat(c, 'g', -1, 64))
		}
	}
	return h.id(CreditMessageIDPrefix)
}

// traitString renders a trait value for hashing. Traits hold only strings today; the
// fallback keeps the function total if that ever changes.
func traitString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// messageHasher hashes a sequence of length-prefixed fields under a domain label, so
// that ("ab", "c") and ("a", "bc") never hash alike and no two kinds of id share inputs.
type messageHasher struct {
	h   hash.Hash
	buf [binary.MaxVarintLen64]byte
}

func newMessageHasher(domain string) *messageHasher {
	m := &messageHasher{h: sha256.New()}
	m.field("attribution/" + domain + "/v1")
	return m
}

func (m *messageHasher) count(n int) {
	m.h.Write(m.buf[:binary.PutUvarint(m.buf[:], uint64(n))])
}

func (m *messageHasher) field(s string) {
	m.count(len(s))
	m.h.Write([]byte(s))
}

func (m *messageHasher) id(prefix string) string {
	sum := m.h.Sum(nil)
	return prefix + hex.EncodeToString(sum[:messageIDHashBytes])
}
