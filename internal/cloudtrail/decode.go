package cloudtrail

import (
	"bytes"
	"encoding/json"
	"sync"
	"unicode/utf8"
)

// decodeRecord fills rr from one CloudTrail record the way
// json.Unmarshal(data, rr) does, about ten times faster: it reads only the
// fields rawRecord has and skips the rest without building anything. It
// handles the records CloudTrail writes; for anything it is not sure to
// decode exactly as encoding/json would (a value of an unexpected type, a
// repeated or differently cased key, an escaped key, invalid JSON, deep
// nesting) it returns false with rr in an undefined state, and the caller
// decodes the record with encoding/json, which also produces the error.
//
// When every store is a query the reader decodes every record, and
// encoding/json's reflection was most of the time spent reading a trail.
func decodeRecord(data []byte, rr *rawRecord) bool {
	strs := stringTables.Get().(*stringTable)
	defer stringTables.Put(strs)
	d := recordDecoder{b: data, strs: strs}
	d.space()
	if !d.record(rr) {
		return false
	}
	d.space()
	return d.i == len(d.b)
}

// maxSkipDepth bounds the nesting of skipped values; deeper input is left
// to encoding/json, which has its own limit.
const maxSkipDepth = 64

type recordDecoder struct {
	b    []byte
	i    int
	strs *stringTable
}

// stringTable hands out one string for equal values. Most of a record's
// values (who called, from where, with which client, in which account,
// region, database and workgroup) repeat from record to record; sharing
// them spares an allocation each and the memory of the rows a collect
// holds. The table is bounded: when full it starts again.
type stringTable map[string]string

const maxTableStrings = 4096

// stringTables keeps a table per processor, so that decoding goroutines
// neither share nor lock one.
var stringTables = sync.Pool{New: func() any { t := make(stringTable); return &t }}

func (t *stringTable) get(b []byte) string {
	if s, ok := (*t)[string(b)]; ok {
		return s
	}
	if len(*t) >= maxTableStrings {
		clear(*t)
	}
	s := string(b)
	(*t)[s] = s
	return s
}

// The keys of each object decoded. A key that is not one of them is
// skipped, unless it equals one of them ignoring case: encoding/json would
// match it, so decodeRecord gives up.
var (
	recordKeys          = []string{"eventID", "eventTime", "eventSource", "eventName", "eventType", "awsRegion", "recipientAccountId", "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "userIdentity", "requestParameters", "responseElements"}
	identityKeys        = []string{"type", "principalId", "arn", "accountId", "userName", "invokedBy", "sessionContext", "onBehalfOf"}
	sessionContextKeys  = []string{"sessionIssuer", "sourceIdentity"}
	sessionIssuerKeys   = []string{"type", "userName", "arn"}
	onBehalfOfKeys      = []string{"userId", "identityStoreArn"}
	requestKeys         = []string{"queryString", "query", "workGroup", "clientRequestToken", "queryExecutionContext"}
	executionContextKey = []string{"database", "catalog"}
	responseKeys        = []string{"queryExecutionId"}
)

func (d *recordDecoder) record(rr *rawRecord) bool {
	var seen uint64
	return d.object(recordKeys, &seen, func(k int) bool {
		switch k {
		case 0:
			return d.unique(&rr.EventID)
		case 1:
			return d.unique(&rr.EventTime)
		case 2:
			return d.str(&rr.EventSource)
		case 3:
			return d.str(&rr.EventName)
		case 4:
			return d.str(&rr.EventType)
		case 5:
			return d.str(&rr.AWSRegion)
		case 6:
			return d.str(&rr.RecipientAccountID)
		case 7:
			return d.str(&rr.SourceIPAddress)
		case 8:
			return d.str(&rr.UserAgent)
		case 9:
			return d.str(&rr.ErrorCode)
		case 10:
			return d.unique(&rr.ErrorMessage)
		case 11:
			return d.identity(&rr.UserIdentity)
		case 12:
			return d.request(rr)
		case 13:
			return d.response(rr)
		}
		return false
	})
}

func (d *recordDecoder) identity(ri *rawIdentity) bool {
	if d.null() {
		return true
	}
	var seen uint64
	return d.object(identityKeys, &seen, func(k int) bool {
		switch k {
		case 0:
			return d.str(&ri.Type)
		case 1:
			return d.str(&ri.PrincipalID)
		case 2:
			return d.str(&ri.ARN)
		case 3:
			return d.str(&ri.AccountID)
		case 4:
			return d.str(&ri.UserName)
		case 5:
			return d.str(&ri.InvokedBy)
		case 6:
			if d.null() {
				return true
			}
			var seen uint64
			sc := &ri.SessionContext
			return d.object(sessionContextKeys, &seen, func(k int) bool {
				if k == 1 {
					return d.str(&sc.SourceIdentity)
				}
				if d.null() {
					return true
				}
				var seen uint64
				si := &sc.SessionIssuer
				return d.object(sessionIssuerKeys, &seen, func(k int) bool {
					switch k {
					case 0:
						return d.str(&si.Type)
					case 1:
						return d.str(&si.UserName)
					}
					return d.str(&si.ARN)
				})
			})
		case 7:
			if d.null() {
				return true
			}
			var seen uint64
			ob := &ri.OnBehalfOf
			return d.object(onBehalfOfKeys, &seen, func(k int) bool {
				if k == 0 {
					return d.str(&ob.UserID)
				}
				return d.str(&ob.IdentityStoreARN)
			})
		}
		return false
	})
}

func (d *recordDecoder) request(rr *rawRecord) bool {
	if d.null() {
		rr.RequestParameters = nil
		return true
	}
	p := &requestParameters{}
	rr.RequestParameters = p
	var seen uint64
	return d.object(requestKeys, &seen, func(k int) bool {
		switch k {
		case 0:
			return d.strPtr(&p.QueryString)
		case 1:
			return d.strPtr(&p.Query)
		case 2:
			return d.str(&p.WorkGroup)
		case 3:
			return d.unique(&p.ClientRequestToken)
		case 4:
			if d.null() {
				p.QueryExecutionContext = nil
				return true
			}
			c := &executionContext{}
			p.QueryExecutionContext = c
			var seen uint64
			return d.object(executionContextKey, &seen, func(k int) bool {
				if k == 0 {
					return d.str(&c.Database)
				}
				return d.str(&c.Catalog)
			})
		}
		return false
	})
}

func (d *recordDecoder) response(rr *rawRecord) bool {
	if d.null() {
		rr.ResponseElements = nil
		return true
	}
	r := &responseElements{}
	rr.ResponseElements = r
	var seen uint64
	return d.object(responseKeys, &seen, func(int) bool { return d.unique(&r.QueryExecutionID) })
}

// object reads an object, calling field with the index in keys of every
// known key (the decoder then sits at its value) and skipping the values
// of other keys. seen guards against a key given twice, whose handling
// (encoding/json merges objects) is left to encoding/json.
func (d *recordDecoder) object(keys []string, seen *uint64, field func(k int) bool) bool {
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return false
	}
	d.i++
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return true
	}
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return false
		}
		d.i++
		d.space()
		k := knownKey(keys, key)
		switch {
		case k >= 0:
			if *seen&(1<<k) != 0 {
				return false
			}
			*seen |= 1 << k
			if !field(k) {
				return false
			}
		case k == foldedKey:
			return false
		default:
			if !d.skip(0) {
				return false
			}
		}
		d.space()
		if d.i >= len(d.b) {
			return false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.space()
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

const (
	unknownKey = -1
	foldedKey  = -2 // equal to a known key ignoring case
)

// knownKey returns the index of key in keys, unknownKey, or foldedKey.
func knownKey(keys []string, key []byte) int {
	for i, k := range keys {
		if string(key) == k {
			return i
		}
	}
	for _, k := range keys {
		if len(k) == len(key) && asciiEqualFold(k, key) {
			return foldedKey
		}
	}
	return unknownKey
}

func asciiEqualFold(s string, b []byte) bool {
	for i := range len(s) {
		x, y := s[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// key reads an object key. Keys with escapes or non-ASCII bytes are left
// to encoding/json (they may fold to a known key).
func (d *recordDecoder) key() ([]byte, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	end := bytes.IndexByte(d.b[start:], '"')
	if end < 0 {
		return nil, false
	}
	key := d.b[start : start+end]
	for _, c := range key {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	d.i = start + end + 1
	return key, true
}

// str reads a string value into *dst; null leaves *dst alone, as
// encoding/json does.
func (d *recordDecoder) str(dst *string) bool {
	return d.strInto(dst, true)
}

// unique is str for values that differ in every record (ids, times),
// which are not worth looking up in the string table.
func (d *recordDecoder) unique(dst *string) bool {
	return d.strInto(dst, false)
}

func (d *recordDecoder) strInto(dst *string, shared bool) bool {
	if d.null() {
		return true
	}
	s, ok := d.stringValue(shared)
	if ok {
		*dst = s
	}
	return ok
}

// strPtr reads a string value into a new *string; null sets nil.
func (d *recordDecoder) strPtr(dst **string) bool {
	if d.null() {
		*dst = nil
		return true
	}
	s, ok := d.stringValue(false)
	if ok {
		*dst = &s
	}
	return ok
}

func (d *recordDecoder) stringValue(shared bool) (string, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", false
	}
	start := d.i
	// Most values are plain ASCII without escapes: find the closing quote
	// at once and check the bytes before it.
	end := bytes.IndexByte(d.b[start+1:], '"')
	if end < 0 {
		return "", false
	}
	end += start + 1
	raw := d.b[start+1 : end]
	plain := true
	for _, c := range raw {
		if c < 0x20 || c >= 0x80 || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		d.i = end + 1
		if shared {
			return d.strs.get(raw), true
		}
		return string(raw), true
	}
	// Escapes (the quote found may be escaped), control characters and
	// non-ASCII bytes.
	j := start + 1
	for ; j < len(d.b); j++ {
		c := d.b[j]
		if c == '"' {
			break
		}
		if c == '\\' {
			j++ // the escaped character cannot end the string
		} else if c < 0x20 {
			return "", false
		}
	}
	if j >= len(d.b) {
		return "", false
	}
	d.i = j + 1
	raw = d.b[start+1 : j]
	if utf8.Valid(raw) && !hasBackslash(raw) {
		return string(raw), true
	}
	// Escapes and invalid UTF-8 are rare: let encoding/json unquote them,
	// so the result is exactly its own.
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		return "", false
	}
	return s, true
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// null consumes a null literal if one is next.
func (d *recordDecoder) null() bool {
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

func (d *recordDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// skip passes over one value, checking that it is valid JSON.
func (d *recordDecoder) skip(depth int) bool {
	if d.i >= len(d.b) || depth > maxSkipDepth {
		return false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.skipString()
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		d.i++
		d.space()
		if d.i < len(d.b) && d.b[d.i] == end {
			d.i++
			return true
		}
		for {
			if end == '}' {
				if !d.skipString() {
					return false
				}
				d.space()
				if d.i >= len(d.b) || d.b[d.i] != ':' {
					return false
				}
				d.i++
				d.space()
			}
			if !d.skip(depth + 1) {
				return false
			}
			d.space()
			if d.i >= len(d.b) {
				return false
			}
			switch d.b[d.i] {
			case ',':
				d.i++
				d.space()
			case end:
				d.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	default:
		return d.skipNumber()
	}
}

func (d *recordDecoder) literal(lit string) bool {
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// skipString passes over a string, checking its escapes.
func (d *recordDecoder) skipString() bool {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return false
	}
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j >= len(d.b) {
				return false
			}
			switch d.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(d.b) {
					return false
				}
				for _, h := range d.b[j+1 : j+5] {
					if !isHex(h) {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipNumber passes over a number as JSON writes it:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *recordDecoder) skipNumber() bool {
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	d.i = i
	return true
}
