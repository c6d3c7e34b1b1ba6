package source

import (
	"strings"
	"unicode/utf8"
)

// nextParam cuts the first key=value pair off a query string. Both are still encoded.
func nextParam(q string) (key, value, rest string) {
	pair := q
	if i := strings.IndexByte(q, '&'); i >= 0 {
		pair, rest = q[:i], q[i+1:]
	}
	key, value, _ = strings.Cut(pair, "=")
	return key, value, rest
}

// lowerKey lower-cases a short parameter name into buf, for map lookups that do not
// allocate (m[string(b)] is optimised by the compiler). Long names fit no rule anyway.
func lowerKey(buf *[32]byte, key string) []byte {
	if len(key) > len(buf) {
		return nil
	}
	b := buf[:len(key)]
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return b
}

// queryValue returns the decoded value of the first parameter named key (exact match).
func queryValue(q, key string) string {
	for q != "" {
		var k, v string
		k, v, q = nextParam(q)
		if k == key {
			return decode(v)
		}
	}
	return ""
}

// decode percent- and plus-decodes a query value the way browsers and analytics tools
// read it. Unlike url.QueryUnescape it never fails: a stray '%' stays literal, since
// dropping a whole utm_campaign over one typo would lose more than it protects. Invalid
// UTF-8 is replaced so the value is always valid in JSON. It allocates only when there
// is something to decode.
func decode(v string) string {
	if strings.IndexByte(v, '%') < 0 && strings.IndexByte(v, '+') < 0 {
		v = strings.TrimSpace(v)
		if !utf8.ValidString(v) {
			return strings.ToValidUTF8(v, "\uFFFD")
		}
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]):
			b = append(b, unhex(v[i+1])<<4|unhex(v[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	s := strings.TrimSpace(string(b))
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
