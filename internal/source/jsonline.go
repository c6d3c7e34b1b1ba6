package source

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// The filter's JSON without reflection: most of `attribution detect`'s time went to
// encoding/json around a detection that costs a fraction of it. Both halves are
// checked against encoding/json by the tests and fuzz tests in jsonline_test.go.

// fastLine reads the common line: an object whose keys are ASCII without escapes,
// whose "url" and "referrer" are strings (valid UTF-8; escapes but for lone surrogates
// allowed) or null, and whose other values are any JSON not nested too deep. For such
// a line it gives what encoding/json gives: the last "url" and "referrer" whatever
// their case, null as missing. ok is false for anything else, valid or not, and the
// full decoder then decides, so the fast path never has to be right about the rare
// lines. Values with escapes are unquoted into *scratch, which the results may share,
// so scratch must not be reused while they are.
func fastLine(s []byte, scratch *[]byte) (pageURL, referrer []byte, ok bool) {
	i := skipSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		return nil, nil, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return nil, nil, skipSpace(s, i+1) == len(s)
	}
	for {
		key, next, escaped, ok := scanString(s, i)
		if !ok || escaped {
			return nil, nil, false
		}
		for _, c := range key {
			if c >= utf8.RuneSelf {
				// encoding/json folds non-ASCII keys by Unicode rules; leave them to it.
				return nil, nil, false
			}
		}
		isURL, isReferrer := equalFoldASCII(key, "url"), equalFoldASCII(key, "referrer")
		i = skipSpace(s, next)
		if i == len(s) || s[i] != ':' {
			return nil, nil, false
		}
		i = skipSpace(s, i+1)
		var v []byte
		switch {
		case !isURL && !isReferrer:
			if i, ok = skipValue(s, i, 1); !ok {
				return nil, nil, false
			}
		case i < len(s) && s[i] == '"':
			var raw []byte
			if raw, i, escaped, ok = scanString(s, i); !ok {
				return nil, nil, false
			}
			v = raw
			if escaped {
				mark := len(*scratch)
				if *scratch, ok = appendUnquoted(*scratch, raw); !ok {
					return nil, nil, false
				}
				v = (*scratch)[mark:]
			}
		case len(s)-i >= 4 && string(s[i:i+4]) == "null":
			i += 4
		default:
			return nil, nil, false // not a string: the full decoder says so
		}
		if isURL {
			pageURL = v
		} else if isReferrer {
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

// maxSkipDepth is how deep skipValue follows nested objects and arrays before it
// leaves the line to encoding/json.
const maxSkipDepth = 32

// skipValue steps over the JSON value at s[i], a field nobody reads, and gives the
// index after it. ok is false for anything that is not valid JSON, and for what is but
// is unusual: nesting deeper than maxSkipDepth, invalid UTF-8 or a lone surrogate.
func skipValue(s []byte, i, depth int) (next int, ok bool) {
	if i == len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c == '"':
		raw, next, escaped, ok := scanString(s, i)
		if !ok || escaped && !validEscapes(raw) {
			return 0, false
		}
		return next, true
	case c == '{' || c == '[':
		if depth == maxSkipDepth {
			return 0, false
		}
		end := byte(']')
		if c == '{' {
			end = '}'
		}
		i = skipSpace(s, i+1)
		if i < len(s) && s[i] == end {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i == len(s) || s[i] != '"' { // a key is a string
					return 0, false
				}
				if i, ok = skipValue(s, i, depth); !ok {
					return 0, false
				}
				if i = skipSpace(s, i); i == len(s) || s[i] != ':' {
					return 0, false
				}
				i = skipSpace(s, i+1)
			}
			if i, ok = skipValue(s, i, depth+1); !ok {
				return 0, false
			}
			if i = skipSpace(s, i); i == len(s) {
				return 0, false
			}
			switch s[i] {
			case ',':
				i = skipSpace(s, i+1)
				continue
			case end:
				return i + 1, true
			}
			return 0, false
		}
	case c == 't':
		return skipLiteral(s, i, "true")
	case c == 'f':
		return skipLiteral(s, i, "false")
	case c == 'n':
		return skipLiteral(s, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(s, i)
	}
	return 0, false
}

func skipLiteral(s []byte, i int, lit string) (next int, ok bool) {
	if len(s)-i < len(lit) || string(s[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

// skipNumber steps over a number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// What follows it is the caller's to check.
func skipNumber(s []byte, i int) (next int, ok bool) {
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		if i = skipDigits(s, i+1); s[i-1] == '.' {
			return 0, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		if i = skipDigits(s, i); i == start {
			return 0, false
		}
	}
	return i, true
}

func skipDigits(s []byte, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// validEscapes reports whether every escape in a string's raw bytes is one JSON has.
func validEscapes(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // scanString saw to it that a backslash is not last
		switch raw[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if hex4(raw[i+1:]) < 0 {
				return false
			}
			i += 4
		default:
			return false
		}
	}
	return true
}

// skipSpace skips JSON's whitespace from i.
func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// scanString finds the string that starts at s[i]: raw is what lies between its
// quotes, next the index after it. ok is false for a control character, invalid
// UTF-8 or no closing quote; escapes are only found here, appendUnquoted checks them.
func scanString(s []byte, i int) (raw []byte, next int, escaped, ok bool) {
	if i == len(s) || s[i] != '"' {
		return nil, 0, false, false
	}
	start := i + 1
	ascii := true
	for j := start; ; {
		for j+8 <= len(s) && !special8(binary.LittleEndian.Uint64(s[j:])) {
			j += 8
		}
		for j < len(s) && plainByte[s[j]] {
			j++
		}
		if j >= len(s) {
			return nil, 0, false, false
		}
		switch c := s[j]; {
		case c == '"':
			// An escape cannot hide inside a multi-byte sequence: a backslash there
			// is invalid UTF-8 already, so checking the raw bytes is enough.
			if !ascii && !utf8.Valid(s[start:j]) {
				return nil, 0, false, false
			}
			return s[start:j], j + 1, escaped, true
		case c == '\\':
			escaped = true
			j += 2 // the escaped character cannot end the string
		case c < 0x20:
			return nil, 0, false, false
		default:
			ascii = false
			j++
		}
	}
}

// special8 reports whether any of the eight bytes in w is not a plainByte: a control
// character, a quote, a backslash or a non-ASCII byte. It may say so for eight plain
// bytes too (a borrow between bytes), which only sends them to the byte loop; it never
// misses one. URLs are long runs of plain bytes, and this steps over them a word at a
// time.
func special8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(x uint64) uint64 { return (x - ones) &^ x & highs }
	return ((w-0x20*ones)&^w|hasZero(w^'"'*ones)|hasZero(w^'\\'*ones)|w)&highs != 0
}

// load8 is binary.LittleEndian.Uint64 for a string, which the compiler turns into one load.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainByte marks the bytes a JSON string holds as themselves, which scanString can
// step over without a second look: printable ASCII but the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendUnquoted appends the string raw stands for, as encoding/json unquotes it. ok
// is false for an escape JSON does not have and for a lone or reversed surrogate,
// which encoding/json turns into U+FFFD: that is left to it.
func appendUnquoted(b, raw []byte) (out []byte, ok bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		if i+1 == len(raw) {
			return b, false
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			if r < 0 {
				return b, false
			}
			if utf16.IsSurrogate(r) {
				if len(raw)-i < 12 || raw[i+6] != '\\' || raw[i+7] != 'u' {
					return b, false
				}
				if r = utf16.DecodeRune(r, hex4(raw[i+8:])); r == utf8.RuneError {
					return b, false
				}
				i += 6
			}
			b = utf8.AppendRune(b, r)
			i += 6
			continue
		default:
			return b, false
		}
		i += 2
	}
	return b, true
}

// hex4 reads the four hex digits s starts with, or gives -1.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
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
		if i+8 <= len(s) && !special8(load8(s[i:])) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plainByte[c] {
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
