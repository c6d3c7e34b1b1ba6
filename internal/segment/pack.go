package segment

import (
	"cmp"
	"slices"
)

// A request body is {"batch":[m1,m2,...],"sentAt":"2006-01-02T15:04:05.000Z"}.
// sentAt always has the same length (UTC, milliseconds), so a body's size is known
// exactly before it is built, even though sentAt changes on every retry.
const (
	sentAtLayout  = "2006-01-02T15:04:05.000Z07:00"
	sentAtLen     = len("2006-01-02T15:04:05.000Z")
	bodyPrefix    = `{"batch":[`
	bodySentAt    = `],"sentAt":"`
	bodySuffix    = `"}`
	envelopeBytes = len(bodyPrefix) + len(bodySentAt) + sentAtLen + len(bodySuffix)

	// batchCapacity is what the messages of one request may cost, counting each
	// message as its length plus one comma; the +1 pays back the comma the last
	// message does not have.
	batchCapacity = MaxRequestBytes - envelopeBytes + 1

	// Chunks are the unit of packing: consecutive messages of one person, small enough
	// that first-fit wastes little. 100 divides 2,500, so count-bound packing is exact.
	maxChunkCost  = MaxMessageBytes + 1
	maxChunkCount = 100
)

// bodySize is the exact size of a request body holding messages of these raw sizes.
func bodySize(msgs []encoded) int {
	n := envelopeBytes
	for i, m := range msgs {
		n += len(m.raw)
		if i > 0 {
			n++
		}
	}
	return n
}

type chunk struct {
	msgs []encoded
	cost int
}

type bin struct {
	chunks []*chunk
	cost   int
	count  int
}

// pack splits messages into requests within the byte and count limits.
//
// It is first-fit decreasing over chunks rather than plain in-order filling: in-order
// filling wastes up to one large message per request (a request closes as soon as the
// next message does not fit), which with messages near 32 KB costs several requests
// per hundred, while first-fit decreasing ends each request with the small messages
// that fill its gaps.
//
// What it keeps of the order: messages of one person (userId, else anonymousId) are
// cut into chunks of consecutive messages that always travel in the same request, and
// every request lists its messages in the caller's order. Different chunks of one
// person may travel in different, concurrent requests; Segment orders events by their
// timestamp, which our messages always carry.
//
// Requests come out ordered by their first message in the caller's order.
func pack(msgs []encoded) [][]encoded {
	if len(msgs) == 0 {
		return nil
	}
	chunks := chunkByPerson(msgs)
	slices.SortStableFunc(chunks, func(a, b *chunk) int { return cmp.Compare(b.cost, a.cost) })

	minCost := chunks[len(chunks)-1].cost
	var bins []*bin
	firstOpen := 0 // bins before it cannot take even the smallest chunk
	for _, c := range chunks {
		placed := false
		for i := firstOpen; i < len(bins); i++ {
			b := bins[i]
			if b.cost+c.cost <= batchCapacity && b.count+len(c.msgs) <= MaxBatchMessages {
				b.chunks = append(b.chunks, c)
				b.cost += c.cost
				b.count += len(c.msgs)
				placed = true
				break
			}
		}
		if !placed {
			bins = append(bins, &bin{chunks: []*chunk{c}, cost: c.cost, count: len(c.msgs)})
		}
		for firstOpen < len(bins) && (bins[firstOpen].cost+minCost > batchCapacity || bins[firstOpen].count == MaxBatchMessages) {
			firstOpen++
		}
	}

	batches := make([][]encoded, 0, len(bins))
	for _, b := range bins {
		batch := make([]encoded, 0, b.count)
		for _, c := range b.chunks {
			batch = append(batch, c.msgs...)
		}
		slices.SortFunc(batch, func(x, y encoded) int { return cmp.Compare(x.index, y.index) })
		batches = append(batches, batch)
	}
	slices.SortFunc(batches, func(x, y []encoded) int { return cmp.Compare(x[0].index, y[0].index) })
	return batches
}

// chunkByPerson groups messages by person in order of first appearance and cuts each
// group into runs of at most maxChunkCost bytes and maxChunkCount messages.
func chunkByPerson(msgs []encoded) []*chunk {
	groups := make(map[string][]encoded)
	var order []string
	for _, m := range msgs {
		if _, ok := groups[m.key]; !ok {
			order = append(order, m.key)
		}
		groups[m.key] = append(groups[m.key], m)
	}
	chunks := make([]*chunk, 0, len(order))
	for _, key := range order {
		var cur *chunk
		for _, m := range groups[key] {
			cost := len(m.raw) + 1
			if cur == nil || cur.cost+cost > maxChunkCost || len(cur.msgs) == maxChunkCount {
				cur = &chunk{}
				chunks = append(chunks, cur)
			}
			cur.msgs = append(cur.msgs, m)
			cur.cost += cost
		}
	}
	return chunks
}
