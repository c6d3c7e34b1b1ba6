package event

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// builtinBlocked are ids apps send by mistake (a template that rendered nothing, a
// serialised object, a placeholder), compared case-insensitively: linking them would
// merge every device that sent one into one person.
var builtinBlocked = map[string]bool{
	"null": true, "undefined": true, "nil": true, "none": true, "nan": true,
	"anonymous": true, "guest": true, "unknown": true, "[object object]": true, "{}": true,
}

// Blocklist says which ids are never identities: the built-in list (empty or
// whitespace ids, ids made only of zeroes and dashes, and builtinBlocked) plus
// BLOCKED_IDS. The nil *Blocklist is the built-in list alone.
type Blocklist struct {
	exact    map[string]bool
	patterns []*regexp.Regexp
}

// ParseBlocklist reads BLOCKED_IDS: comma separated exact values, and patterns written
// /regex/ (Go syntax, unanchored: write ^...$ to match whole ids; (?i) ignores case).
// An invalid pattern is an error naming it.
func ParseBlocklist(spec string) (*Blocklist, error) {
	b := &Blocklist{exact: map[string]bool{}}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case len(part) >= 2 && strings.HasPrefix(part, "/") && strings.HasSuffix(part, "/"):
			re, err := regexp.Compile(part[1 : len(part)-1])
			if err != nil {
				return nil, fmt.Errorf("pattern %s is not a valid regular expression: %w", part, err)
			}
			b.patterns = append(b.patterns, re)
		default:
			b.exact[part] = true
		}
	}
	return b, nil
}

// Blocked reports whether id (as validated: trimmed) may never identify anyone.
func (b *Blocklist) Blocked(id string) bool {
	id = strings.TrimSpace(id)
	if id == "" || strings.Trim(id, "0-") == "" || builtinBlocked[strings.ToLower(id)] {
		return true
	}
	if b == nil {
		return false
	}
	if b.exact[id] {
		return true
	}
	for _, re := range b.patterns {
		if re.MatchString(id) {
			return true
		}
	}
	return false
}

// unblock clears *id when it is blocked, recording field in blocked. Empty ids are
// absent, not blocked.
func (b *Blocklist) unblock(field string, id *string, blocked *[]string) {
	if *id != "" && b.Blocked(*id) {
		*id = ""
		*blocked = append(*blocked, field)
	}
}

// sentBytesValid reports whether a JSON string literal (quotes included) decodes to
// exactly the bytes it names: valid UTF-8, and no \u escape of a lone surrogate.
// encoding/json turns both into U+FFFD, which would make two different ids one.
func sentBytesValid(lit []byte) bool {
	if !utf8.Valid(lit) {
		return false
	}
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' {
			continue
		}
		i++
		if i >= len(lit) || lit[i] != 'u' {
			continue // a one-character escape (\\, \", \n...): skipped whole
		}
		r, ok := hex4(lit, i+1)
		if !ok {
			return false
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return false // a low surrogate with no high one before it
		case r >= 0xD800 && r <= 0xDBFF:
			if i+2 >= len(lit) || lit[i+1] != '\\' || lit[i+2] != 'u' {
				return false
			}
			lo, ok := hex4(lit, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// MaxDepth is how deeply a body's JSON may nest: real events nest a handful of levels,
// and a deeper body only costs the parser (encoding/json itself allows 10,000).
const MaxDepth = 64

// errNestedTooDeep is wrapped as ErrMalformed for a body, ErrInvalid for one event.
var errNestedTooDeep = fmt.Errorf("nested too deep (more than %d levels)", MaxDepth)

// checkDepth refuses JSON nested deeper than MaxDepth, counting brackets outside strings.
func checkDepth(body []byte) error {
	depth, inString := 0, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > MaxDepth {
				return errNestedTooDeep
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
