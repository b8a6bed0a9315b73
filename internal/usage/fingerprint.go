package usage

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// FingerprintVersion names the normalization rules of NormalizeSQL. It is
// part of every fingerprint, so that shapes computed by a release whose
// normalizer differs never silently merge with (or split from) older ones.
const FingerprintVersion = "v1"

// OmittedText is what CloudTrail records in place of a query text it does
// not keep.
const OmittedText = "***OMITTED***"

// Fingerprint identifies the shape of a query text: FingerprintVersion, a
// dash and the first 16 hex digits of the SHA-256 of NormalizeSQL(text).
// Queries that differ only in literals, comments, case or spacing share it.
// A text that is empty or omitted has no shape: "".
func Fingerprint(text string) string {
	if text == "" || text == OmittedText {
		return ""
	}
	norm := NormalizeSQL(text)
	if norm == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(norm))
	return FingerprintVersion + "-" + hex.EncodeToString(sum[:8])
}

// NormalizeSQL reduces a query text (Trino/Presto DML, Hive DDL) to its
// shape:
//
//   - comments (-- to the end of the line, /* ... */) are dropped;
//   - string literals ('...', E'...', U&'...', X'...') and number literals
//     (integers, decimals, exponents, hex, Hive's 10L and 1.5BD) become ?,
//     so DATE '2024-01-01' becomes date ?; digits inside identifiers (t1,
//     col_2) are kept;
//   - quoted identifiers ("x", `x`) are kept as written; everything else is
//     folded to lower case (ASCII letters only: SQL keywords are ASCII);
//   - a parenthesized list of nothing but literals, IN (1, 2, 3), becomes
//     (?), and VALUES rows (?), (?) become one;
//   - runs of white space become one space, none after ( or before , and ),
//     one after a comma; trailing semicolons are dropped.
//
// It runs in one pass, in time linear in the text, and accepts any bytes:
// unterminated quotes and comments run to the end, invalid UTF-8 is kept
// as it is. It is idempotent: NormalizeSQL(NormalizeSQL(s)) ==
// NormalizeSQL(s).
func NormalizeSQL(text string) string {
	n := normalizer{in: text, out: make([]byte, 0, len(text)), semi: -1}
	n.run()
	if n.semi >= 0 {
		n.out = n.out[:n.semi]
	}
	return string(n.out)
}

type normalizer struct {
	in  string
	out []byte
	// space is a white space (or comment) seen since the last token.
	space bool
	// semi is where a run of trailing semicolons starts in out, or -1.
	semi int
}

func (n *normalizer) run() {
	s := n.in
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpace(c):
			n.space = true
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			i += 2
			for i < len(s) && s[i] != '\n' {
				i++
			}
			n.space = true
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if end := strings.Index(s[i+2:], "*/"); end < 0 {
				i = len(s)
			} else {
				i += 2 + end + 2
			}
			n.space = true
		case c == '\'':
			i = skipString(s, i, false)
			n.literal()
		case c == '"' || c == '`':
			end := skipQuoted(s, i, c)
			n.token(s[i:end], false)
			i = end
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1]) && !n.afterName()):
			i = n.number(s, i)
		case isWordByte(c):
			end := i + 1
			for end < len(s) && isWordByte(s[end]) {
				end++
			}
			i = n.word(s, i, end)
		default:
			n.punct(c)
			i++
		}
	}
}

// word handles an identifier or keyword s[i:end]; a one-letter prefix of a
// string literal (E'..', X'..', U&'..') makes the whole a literal.
func (n *normalizer) word(s string, i, end int) int {
	if end-i == 1 && end < len(s) {
		switch lower(s[i]) {
		case 'e', 'x':
			if s[end] == '\'' {
				n.literal()
				return skipString(s, end, lower(s[i]) == 'e')
			}
		case 'u':
			if s[end] == '&' && end+1 < len(s) && s[end+1] == '\'' {
				n.literal()
				return skipString(s, end+1, false)
			}
		}
	}
	n.token(s[i:end], true)
	return end
}

// number handles a token starting with a digit (or a dot and a digit) at i.
// A run of word bytes that is not a number (a Hive name such as 2019_data)
// is a word.
func (n *normalizer) number(s string, i int) int {
	j := i
	if s[j] != '.' {
		end := j
		for end < len(s) && isWordByte(s[end]) {
			end++
		}
		run := s[j:end]
		switch {
		case isRadixInt(run):
			n.literal()
			return end
		case isExponentStart(run) && end+1 < len(s) && (s[end] == '+' || s[end] == '-') && isDigit(s[end+1]):
			// 1e+5, 1E-3: the sign split the run.
			end++
			for end < len(s) && isDigit(s[end]) {
				end++
			}
			n.literal()
			return end
		case isDecimal(run, true):
			if end < len(s) && s[end] == '.' && !isIntWithSuffix(run) {
				j = end // a fraction follows
				break
			}
			n.literal()
			return end
		default:
			n.token(run, true)
			return end
		}
	}
	// s[j] is the dot of a fraction.
	end := j + 1
	for end < len(s) && isWordByte(s[end]) {
		end++
	}
	frac := s[j+1 : end]
	if isExponentStart(frac) && end+1 < len(s) && (s[end] == '+' || s[end] == '-') && isDigit(s[end+1]) {
		end++
		for end < len(s) && isDigit(s[end]) {
			end++
		}
		n.literal()
		return end
	}
	if frac != "" && !isDecimal(frac, false) {
		if j == i {
			// .5x is a dot and a word.
			n.punct('.')
			return j + 1
		}
		// 1.x: the number ends at the dot; x is a word or another number.
		n.literal()
		return j
	}
	n.literal()
	return end
}

// isRadixInt reports whether run is 0x.., 0b.. or 0o.. with digits.
func isRadixInt(run string) bool {
	if len(run) < 3 || run[0] != '0' {
		return false
	}
	var ok func(byte) bool
	switch lower(run[1]) {
	case 'x':
		ok = func(c byte) bool { return isDigit(c) || (lower(c) >= 'a' && lower(c) <= 'f') || c == '_' }
	case 'b':
		ok = func(c byte) bool { return c == '0' || c == '1' || c == '_' }
	case 'o':
		ok = func(c byte) bool { return c >= '0' && c <= '7' || c == '_' }
	default:
		return false
	}
	for k := 2; k < len(run); k++ {
		if !ok(run[k]) {
			return false
		}
	}
	return true
}

// isDecimal reports whether run is digits (with _ separators) and an
// optional exponent (e5) and type suffix (Hive's 10L, 10S, 10Y, 1.5BD, and
// 1.5D, 1.5F). leadingDigit says the run must start with a digit (it is not
// the part after a dot).
func isDecimal(run string, leadingDigit bool) bool {
	k := 0
	for k < len(run) && (isDigit(run[k]) || (k > 0 && run[k] == '_')) {
		k++
	}
	if leadingDigit && k == 0 {
		return false
	}
	if k < len(run) && lower(run[k]) == 'e' {
		m := k + 1
		for m < len(run) && isDigit(run[m]) {
			m++
		}
		if m > k+1 {
			k = m
		}
	}
	switch suffix := run[k:]; len(suffix) {
	case 0:
		return true
	case 1:
		c := lower(suffix[0])
		return c == 'l' || c == 's' || c == 'y' || c == 'd' || c == 'f'
	case 2:
		return lower(suffix[0]) == 'b' && lower(suffix[1]) == 'd'
	}
	return false
}

// isIntWithSuffix reports whether run ends in an integer type suffix, after
// which no fraction can follow.
func isIntWithSuffix(run string) bool {
	return run != "" && !isDigit(run[len(run)-1])
}

// isExponentStart reports whether run is digits then an e whose exponent's
// sign split the run (1e in 1e+5); for the part after a dot, run may start
// with the e.
func isExponentStart(run string) bool {
	if run == "" || lower(run[len(run)-1]) != 'e' {
		return false
	}
	for k := 0; k < len(run)-1; k++ {
		if !isDigit(run[k]) && run[k] != '_' {
			return false
		}
	}
	return true
}

// literal emits a literal's placeholder.
func (n *normalizer) literal() { n.token("?", false) }

// token emits a word, placeholder or quoted identifier, after one space if
// any separated it from the previous token; fold lower-cases it.
func (n *normalizer) token(tok string, fold bool) {
	n.flushSpace()
	if fold {
		for k := 0; k < len(tok); k++ {
			n.out = append(n.out, lower(tok[k]))
		}
	} else {
		n.out = append(n.out, tok...)
	}
	n.semi = -1
}

// punct emits one punctuation byte with the canonical spacing around
// parentheses and commas, and collapses literal-only lists.
func (n *normalizer) punct(c byte) {
	switch c {
	case ',', ')':
		n.space = false
	case ';':
		if n.semi < 0 {
			n.semi = len(n.out)
		}
		n.flushSpace()
		n.out = append(n.out, c)
		return
	}
	n.flushSpace()
	n.out = append(n.out, c)
	n.semi = -1
	switch c {
	case ',':
		n.space = true
	case ')':
		n.collapseList()
	}
}

// flushSpace writes the pending space, unless it would open the text or
// follow an opening parenthesis.
func (n *normalizer) flushSpace() {
	if n.space && len(n.out) > 0 && n.out[len(n.out)-1] != '(' {
		n.out = append(n.out, ' ')
	}
	n.space = false
}

// collapseList turns a just closed (?, ?, ...) into (?), and a VALUES row
// (?) that follows another, "(?), (?)", into nothing, so that the number of
// literals in an IN list or of rows inserted does not make a new shape.
// Each byte is looked at by at most one such scan that does not shrink the
// output, so the whole stays linear.
func (n *normalizer) collapseList() {
	out := n.out
	end := len(out) - 1 // the ')'
	k := end - 1
	items := 0
	for {
		if k < 0 || out[k] != '?' {
			return
		}
		items++
		k--
		if k >= 0 && out[k] == '(' {
			break
		}
		if k < 1 || out[k] != ' ' || out[k-1] != ',' {
			return
		}
		k -= 2
	}
	// out[k] is the '(' of a list of placeholders.
	if items > 1 {
		out = append(out[:k+1], '?', ')')
	}
	// A row following another row: "(?), (?)" at the end loses its last.
	if row := "(?), (?)"; len(out) >= len(row) && string(out[len(out)-len(row):]) == row && k == len(out)-3 {
		if p := len(out) - len(row); p == 0 || !isWordByte(out[p-1]) {
			out = out[:len(out)-len(", (?)")]
		}
	}
	n.out = out
}

// afterName reports whether the output ends in something a dot after it
// would qualify (t.5 is not a number).
func (n *normalizer) afterName() bool {
	if n.space || len(n.out) == 0 {
		return false
	}
	c := n.out[len(n.out)-1]
	return isWordByte(c) || c == '"' || c == '`' || c == ')' || c == ']' || c == '?'
}

// skipString returns the index after the string literal whose opening quote
// is at i: a doubled quote is an escaped one, and with backslash so is a
// quote after a backslash. An unterminated literal runs to the end.
func skipString(s string, i int, backslash bool) int {
	for k := i + 1; k < len(s); k++ {
		switch s[k] {
		case '\\':
			if backslash {
				k++
			}
		case '\'':
			if k+1 < len(s) && s[k+1] == '\'' {
				k++
				continue
			}
			return k + 1
		}
	}
	return len(s)
}

// skipQuoted returns the index after the quoted identifier opened by q at
// i; a doubled quote is an escaped one. An unterminated one runs to the end.
func skipQuoted(s string, i int, q byte) int {
	for k := i + 1; k < len(s); k++ {
		if s[k] == q {
			if k+1 < len(s) && s[k+1] == q {
				k++
				continue
			}
			return k + 1
		}
	}
	return len(s)
}

// isSpace counts every ASCII control byte as white space: a NUL or an
// escape sequence in a query text separates tokens and is never kept.
func isSpace(c byte) bool { return c <= ' ' || c == 0x7f }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWordByte reports whether c can be part of an identifier or keyword:
// ASCII letters, digits, _ and $, and every byte of a multi-byte (or
// invalid) UTF-8 sequence.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c == '$' || c >= 0x80
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
