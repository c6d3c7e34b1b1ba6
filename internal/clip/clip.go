// Package clip shortens strings that must fit a limit someone else sets (Segment's
// message size, DynamoDB's item size) without producing invalid UTF-8, and marks
// what it shortened.
package clip

import "unicode/utf8"

// Ellipsis ends every shortened string, so whoever reads it downstream knows.
const Ellipsis = "…"

// String returns s when it is at most limit bytes long; otherwise its first limit bytes,
// cut back to a character boundary, followed by Ellipsis.
func String(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := max(limit, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Ellipsis
}
