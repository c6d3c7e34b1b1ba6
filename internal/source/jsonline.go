package source

import (
	"unicode/utf8"
)

// The filter's JSON without reflection: most of `attribution detect`'s time went to
// encoding/json around a detection that costs a fraction of it. Both halves are
// checked against encoding/json by the tests and fuzz tests in jsonline_test.go.

// fastLine reads the common line: an object whose keys are ASCII without escapes and
// whose values are strings without escapes (valid UTF-8) or null. For such a line it
// gives what encoding/json gives: the last "url" and "referrer" whatever their case,
// null as missing. ok is false for anything else, valid or not, and the full decoder
// then decides, so the fast path never has to be right about the rare lines.
func fastLine(s []byte) (pageURL, referrer []byte, ok bool) {
	i := skipSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		return nil, nil, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return nil, nil, skipSpace(s, i+1) == len(s)
	}
	for {
		key, next, ok := plainString(s, i)
		if !ok {
			return nil, nil, false
		}
		for _, c := range key {
			if c >= utf8.RuneSelf {
				// encoding/json folds non-ASCII keys by Unicode rules; leave them to it.
				return nil, nil, false
			}
		}
		i = skipSpace(s, next)
		if i == len(s) || s[i] != ':' {
			return nil, nil, false
		}
		i = skipSpace(s, i+1)
		var v []byte
		switch {
		case i < len(s) && s[i] == '"':
			if v, i, ok = plainString(s, i); !ok {
				return nil, nil, false
			}
		case len(s)-i >= 4 && string(s[i:i+4]) == "null":
			i += 4
		default:
			return nil, nil, false
		}
		switch {
		case equalFoldASCII(key, "url"):
			pageURL = v
		case equalFoldASCII(key, "referrer"):
			referrer = v
		}
		i = skipSpace(s, i)
		if i == len(s) {
			return nil, nil, false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
			continue
		case '}':
			return pageURL, referrer, skipSpace(s, i+1) == len(s)
		}
		return nil, nil, false
	}
}

// skipSpace skips JSON's whitespace from i.
func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// plainString reads the string that starts at s[i] when it needs no unquoting: no
// escapes, no control characters, valid UTF-8. next is the index after its quote.
func plainString(s []byte, i int) (content []byte, next int, ok bool) {
	if i == len(s) || s[i] != '"' {
		return nil, 0, false
	}
	start := i + 1
	ascii := true
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(s[start:j]) {
				return nil, 0, false
			}
			return s[start:j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

// equalFoldASCII reports whether the ASCII key equals the lower-case name, ignoring case.
func equalFoldASCII(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := range len(key) {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// appendDescription appends d as encoding/json encodes it with SetEscapeHTML(false),
// byte for byte, without the trailing newline.
func appendDescription(b []byte, d *Description) []byte {
	r := &d.Referrer
	b = append(b, `{"referrer":{"type":`...)
	b = appendString(b, string(r.Type))
	b = appendOmitEmpty(b, `,"engine":`, r.Engine)
	b = appendOmitEmpty(b, `,"query":`, r.Query)
	b = appendOmitEmpty(b, `,"network":`, r.Network)
	b = appendOmitEmpty(b, `,"client":`, r.Client)
	b = appendOmitEmpty(b, `,"site":`, r.Site)
	b = appendOmitEmpty(b, `,"assistant":`, r.Assistant)
	b = appendOmitEmpty(b, `,"from":`, r.From)
	b = appendOmitEmpty(b, `,"link":`, r.Link)
	b = append(b, '}')
	if c := d.Campaign; c != nil {
		b = append(b, `,"campaign":{`...)
		mark := len(b)
		b = appendOmitEmpty(b, `,"source":`, c.Source)
		b = appendOmitEmpty(b, `,"medium":`, c.Medium)
		b = appendOmitEmpty(b, `,"campaign":`, c.Campaign)
		b = appendOmitEmpty(b, `,"term":`, c.Term)
		b = appendOmitEmpty(b, `,"content":`, c.Content)
		if len(b) > mark {
			b = append(b[:mark], b[mark+1:]...) // the first field has no comma before it
		}
		b = append(b, '}')
	}
	b = append(b, `,"channel":`...)
	b = appendString(b, d.Channel)
	return append(b, '}')
}

// appendErrorLine appends {"error": msg} as encoding/json encodes it.
func appendErrorLine(b []byte, msg string) []byte {
	b = append(b, `{"error":`...)
	b = appendString(b, msg)
	return append(b, '}')
}

func appendOmitEmpty(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, key...)
	return appendString(b, v)
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does without HTML escaping: short escapes
// for \b \f \n \r \t, \u00XX for other control characters, \ufffd for each invalid
// UTF-8 byte, and \u2028 and \u2029 escaped (encoding/json does so for JSONP's sake).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
