package cloudtrail

import "bytes"

// recordClass is what a look at a record's top-level keys tells about it,
// without decoding it.
type recordClass int

const (
	// classUnsure: the record must be decoded to know what it is.
	classUnsure recordClass = iota
	// classOther: not an Athena record and not an Insights record.
	classOther
	// classAthenaCall: an Athena call other than StartQueryExecution.
	classAthenaCall
)

var (
	keyEventSource = []byte("eventSource")
	keyEventName   = []byte("eventName")
	keyEventType   = []byte("eventType")
)

// classifyRecord walks the top-level members of one record object (rec
// holds exactly the object) and looks at its eventSource, eventName and
// eventType, the fields that decide how parseRecord treats the record. In a
// busy account Athena's own read calls (GetQueryExecution,
// GetQueryResults, ListQueryExecutions, ... polled by SDK waiters, BI tools
// and the console) can be a third of all records; only StartQueryExecution
// records carry query events, so the others need not be decoded.
//
// The answer agrees with what decoding a valid record gives, or is
// classUnsure: whenever one of the three could decode to something else
// than its raw bytes say (an escape in the key or the value, a value that
// is not a plain string, a key that only case-folds to the name, which
// encoding/json accepts), is given twice (the last would win), or the walk
// finds anything it does not expect, the record is left to the decoder. A
// nested "eventName" (in insightDetails, in requestParameters) is skipped
// with its parent, so it never counts. Like the records of other services,
// a record classified here is not checked to be valid JSON beyond what the
// scanner already checked (balanced brackets and strings).
func classifyRecord(rec []byte) recordClass {
	var source, name, typ []byte
	var seenSource, seenName, seenType bool
	i := skipBlanks(rec, 0)
	if i >= len(rec) || rec[i] != '{' {
		return classUnsure
	}
	i = skipBlanks(rec, i+1)
	if i < len(rec) && rec[i] == '}' {
		return classUnsure
	}
members:
	for {
		if i >= len(rec) || rec[i] != '"' {
			return classUnsure
		}
		end := skipString(rec, i)
		if end < 0 {
			return classUnsure
		}
		key := rec[i+1 : end-1]
		i = skipBlanks(rec, end)
		if i >= len(rec) || rec[i] != ':' {
			return classUnsure
		}
		i = skipBlanks(rec, i+1)
		if i >= len(rec) {
			return classUnsure
		}
		valStart := i
		switch rec[i] {
		case '"':
			i = skipString(rec, i)
		case '{', '[':
			i = skipComposite(rec, i)
		default:
			i = skipScalar(rec, i)
		}
		if i < 0 {
			return classUnsure
		}
		var target *[]byte
		var seen *bool
		switch kind := matchKey(key); kind {
		case keyUnsure:
			return classUnsure
		case keySource:
			target, seen = &source, &seenSource
		case keyName:
			target, seen = &name, &seenName
		case keyType:
			target, seen = &typ, &seenType
		}
		if target != nil {
			if *seen {
				return classUnsure
			}
			*seen = true
			v, ok := plainString(rec[valStart:i])
			if !ok {
				return classUnsure
			}
			*target = v
		}
		i = skipBlanks(rec, i)
		if i >= len(rec) {
			return classUnsure
		}
		switch rec[i] {
		case ',':
			i = skipBlanks(rec, i+1)
		case '}':
			if skipBlanks(rec, i+1) != len(rec) {
				return classUnsure
			}
			break members
		default:
			return classUnsure
		}
	}
	switch {
	case bytes.Equal(typ, insightMarker):
		return classUnsure
	case !bytes.Equal(source, athenaMarker):
		return classOther
	case !seenName || bytes.Equal(name, []byte(startQueryExecution)):
		// A StartQueryExecution is decoded; so is a record without an
		// eventName, a shape no Athena call has.
		return classUnsure
	}
	return classAthenaCall
}

// keyKind is which of the deciding fields a top-level key sets when decoded.
type keyKind int

const (
	keyOther keyKind = iota
	keyUnsure
	keySource
	keyName
	keyType
)

// matchKey tells which deciding field key (raw, between its quotes) fills
// when encoding/json decodes it. encoding/json also matches keys that only
// case-fold to a field name, and folds some non-ASCII letters to ASCII ones
// (U+017F to S, U+212A to K); such keys, and keys with escapes, are unsure.
func matchKey(key []byte) keyKind {
	if len(key) != len(keyEventName) && len(key) != len(keyEventSource) {
		// Every non-ASCII letter that folds to an ASCII one takes 2 or 3
		// bytes, so a key that can fold to a 9- or 11-letter name is at
		// least 10 bytes long; such keys are checked below.
		if len(key) < len(keyEventName) || bytes.IndexByte(key, '\\') < 0 && asciiOnly(key) {
			return keyOther
		}
		return keyUnsure
	}
	if bytes.IndexByte(key, '\\') >= 0 || !asciiOnly(key) {
		return keyUnsure
	}
	for _, k := range []struct {
		name []byte
		kind keyKind
	}{{keyEventSource, keySource}, {keyEventName, keyName}, {keyEventType, keyType}} {
		if bytes.Equal(key, k.name) {
			return k.kind
		}
		if bytes.EqualFold(key, k.name) {
			return keyUnsure
		}
	}
	return keyOther
}

func asciiOnly(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// plainString returns the contents of a JSON string value that decodes to
// its own bytes: no escapes, no control characters.
func plainString(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	v = v[1 : len(v)-1]
	for _, c := range v {
		if c == '\\' || c < 0x20 {
			return nil, false
		}
	}
	return v, true
}

// skipString returns the index after the string that starts with the quote
// at b[i], or -1 when it does not end in b.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		k := j + q
		if b[k-1] != '\\' || k-1 == i {
			return k + 1
		}
		n := 0
		for m := k - 1; m > i && b[m] == '\\'; m-- {
			n++
		}
		if n&1 == 0 {
			return k + 1
		}
		j = k + 1
	}
	return -1
}

// skipComposite returns the index after the object or array that starts at
// b[i], or -1 when it does not end in b. Brackets are only counted, not
// matched by kind: the scanner has matched them already.
func skipComposite(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		c := b[i]
		if !structural[c] {
			i++
			continue
		}
		switch c {
		case '"':
			if i = skipString(b, i); i < 0 {
				return -1
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}

// skipScalar returns the index after a number or literal at b[i], or -1
// when it holds a byte no number or literal can.
func skipScalar(b []byte, i int) int {
	start := i
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c == '-', c == '+', c == '.', c == 'E':
		case c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t':
			if i == start {
				return -1
			}
			return i
		default:
			return -1
		}
	}
	return -1
}
