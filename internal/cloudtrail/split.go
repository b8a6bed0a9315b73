package cloudtrail

import (
	"bytes"
	"context"
	"errors"
	"io"
)

// maxNesting bounds bracket nesting inside one value. encoding/json refuses
// deeper input too; the bound keeps adversarial input from growing the stack.
const maxNesting = 10000

// structural marks the bytes the value scanner must look at outside strings.
// Everything else (letters, digits, ':', ',', blanks) is skipped.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true, '\n': true}

// scanError is a structural problem found by the scanner: the stream is not
// JSON of the expected shape at offset off.
type scanError struct {
	off    int64
	reason string
}

func (e *scanError) Error() string { return e.reason }

// errTruncated is returned when the stream ends inside a value.
var errTruncated = errors.New("unexpected end of input")

// scanner walks a JSON stream through a sliding window without decoding it.
// It tracks strings, escapes and bracket nesting so that it can find where a
// value ends, jumping with bytes.IndexByte to the next quote inside strings,
// which is where almost all the bytes of a CloudTrail record are.
//
// The window keeps the bytes from mark (the start of the value being kept)
// onwards; with no mark only unscanned bytes are kept, so skipping a value of
// any size costs no memory. A kept value that grows past maxKeep is dropped
// (discarding), and its end is still found.
type scanner struct {
	ctx context.Context
	src io.Reader

	buf      []byte
	pos, end int   // scan position and end of valid data in buf
	base     int64 // stream offset of buf[0]
	eof      bool
	err      error // sticky read error

	chunk   int // minimum free space for one read
	maxKeep int // largest value kept whole

	mark       int  // start of the kept value, -1 when none
	discarding bool // the kept value passed maxKeep and was dropped

	// Value state, resumable across refills.
	stack    []byte // closing brackets expected, innermost last
	inStr    bool
	strFrom  int  // first string byte not yet known to be unescaped
	esc      bool // the byte at strFrom is escaped by a backslash before it
	newlines int  // '\n' seen outside strings since the value started
}

func (s *scanner) reset(ctx context.Context, src io.Reader, chunk, maxKeep int) {
	s.ctx = ctx
	s.src = src
	s.pos, s.end, s.base = 0, 0, 0
	s.eof, s.err = false, nil
	s.chunk, s.maxKeep = chunk, maxKeep
	s.mark, s.discarding = -1, false
	s.stack = s.stack[:0]
	s.inStr, s.strFrom, s.esc, s.newlines = false, 0, false, 0
	if cap(s.buf) < 2*chunk {
		s.buf = make([]byte, 2*chunk)
	}
	s.buf = s.buf[:cap(s.buf)]
}

// offset is the stream offset of the scan position.
func (s *scanner) offset() int64 { return s.base + int64(s.pos) }

// consumed is how many bytes were read from the source.
func (s *scanner) consumed() int64 { return s.base + int64(s.end) }

func (s *scanner) fail(reason string) error {
	return &scanError{off: s.offset(), reason: reason}
}

// keep starts keeping bytes from the scan position on.
func (s *scanner) keep() {
	s.mark = s.pos
	s.discarding = false
}

// kept returns the kept value up to the scan position, or nil when it was
// dropped for its size, and stops keeping.
func (s *scanner) kept() []byte {
	if s.mark < 0 || s.discarding {
		s.mark = -1
		return nil
	}
	v := s.buf[s.mark:s.pos]
	s.mark = -1
	if len(v) > s.maxKeep {
		s.discarding = true
		return nil
	}
	return v
}

// fill reads more input. It returns false at the end of the input.
func (s *scanner) fill() (bool, error) {
	if s.err != nil {
		return false, s.err
	}
	if s.eof {
		return false, nil
	}
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return false, err
	}
	if s.mark >= 0 && s.end-s.mark > s.maxKeep {
		// Too large to keep: drop what is buffered and only find its end.
		s.mark = -1
		s.discarding = true
	}
	from := s.pos
	if s.inStr && s.strFrom < from {
		from = s.strFrom
	}
	if s.mark >= 0 && s.mark < from {
		from = s.mark
	}
	if from > 0 {
		n := copy(s.buf, s.buf[from:s.end])
		s.base += int64(from)
		s.pos -= from
		s.end = n
		s.strFrom -= from
		if s.mark >= 0 {
			s.mark -= from
		}
	}
	if len(s.buf)-s.end < s.chunk {
		// Grow fourfold (fewer copies of a large record than doubling), but
		// never past what one kept value plus one read can need.
		// Past half the limit, go straight to it.
		size := 4 * len(s.buf)
		if limit := s.maxKeep + 2*s.chunk; size > limit/2 {
			size = limit
		}
		if size < s.end+s.chunk {
			size = s.end + s.chunk
		}
		nb := make([]byte, size)
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := s.src.Read(s.buf[s.end:])
		s.end += n
		if err == io.EOF {
			s.eof = true
			return n > 0, nil
		}
		if err != nil {
			// Report the error once the bytes that came with it are used.
			s.err = err
			if n == 0 {
				return false, err
			}
			return true, nil
		}
		if n > 0 {
			return true, nil
		}
	}
	s.err = io.ErrNoProgress
	return false, s.err
}

// peek returns the next byte that is not JSON whitespace without consuming
// it; ok is false at the end of the input.
func (s *scanner) peek() (c byte, ok bool, err error) {
	for {
		for s.pos < s.end {
			c = s.buf[s.pos]
			if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
				return c, true, nil
			}
			s.pos++
		}
		more, err := s.fill()
		if err != nil {
			return 0, false, err
		}
		if !more && s.pos >= s.end {
			return 0, false, nil
		}
	}
}

// mustPeek is peek where the end of the input is an error.
func (s *scanner) mustPeek() (byte, error) {
	c, ok, err := s.peek()
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errTruncated
	}
	return c, nil
}

// escaped reports whether the quote at j is escaped: preceded by an odd run
// of backslashes, counting a run that started before strFrom.
func (s *scanner) escaped(j int) bool {
	n := 0
	k := j - 1
	for k >= s.strFrom && s.buf[k] == '\\' {
		n++
		k--
	}
	if k < s.strFrom && s.esc {
		n++
	}
	return n&1 == 1
}

// carryEscape records, before the window moves on, whether the unscanned
// string bytes start escaped.
func (s *scanner) carryEscape() {
	n := 0
	k := s.end - 1
	for k >= s.strFrom && s.buf[k] == '\\' {
		n++
		k--
	}
	if k < s.strFrom && s.esc {
		n++
	}
	s.esc = n&1 == 1
	s.strFrom = s.end
}

// finishString moves past the closing quote of the string being scanned.
func (s *scanner) finishString() error {
	for {
		if s.pos < s.end {
			q := bytes.IndexByte(s.buf[s.pos:s.end], '"')
			if q >= 0 {
				j := s.pos + q
				s.pos = j + 1
				if s.escaped(j) {
					s.strFrom, s.esc = j+1, false
					continue
				}
				s.inStr = false
				return nil
			}
			s.pos = s.end
		}
		s.carryEscape()
		more, err := s.fill()
		if err != nil {
			return err
		}
		if !more {
			return errTruncated
		}
	}
}

// scanComposite moves past the end of the object or array whose opening
// bracket was consumed and pushed, i.e. until the stack is back to depth base.
func (s *scanner) scanComposite(base int) error {
	for {
		if s.inStr {
			if err := s.finishString(); err != nil {
				return err
			}
		}
		buf := s.buf[:s.end]
		i := s.pos
	scan:
		for ; i < len(buf); i++ {
			c := buf[i]
			if !structural[c] {
				continue
			}
			switch c {
			case '"':
				// Fast path for the common string: its closing quote is in
				// the window and not preceded by a backslash.
				if q := bytes.IndexByte(buf[i+1:], '"'); q >= 0 && buf[i+q] != '\\' {
					i += q + 1
					continue
				}
				s.inStr, s.esc, s.strFrom = true, false, i+1
				i++
				break scan
			case '{':
				s.stack = append(s.stack, '}')
			case '[':
				s.stack = append(s.stack, ']')
			case '}', ']':
				n := len(s.stack)
				if n <= base || s.stack[n-1] != c {
					s.pos = i
					return s.fail("unexpected '" + string(c) + "'")
				}
				s.stack = s.stack[:n-1]
				if n-1 == base {
					s.pos = i + 1
					return nil
				}
			case '\n':
				s.newlines++
			}
			if len(s.stack) > maxNesting {
				s.pos = i
				return s.fail("nesting too deep")
			}
		}
		s.pos = i
		if s.inStr {
			continue
		}
		more, err := s.fill()
		if err != nil {
			return err
		}
		if !more {
			return errTruncated
		}
	}
}

// skipValue moves past one JSON value at the scan position (after
// whitespace) without keeping it. Scalars are checked loosely: their bytes
// must be ones a number or literal can contain.
func (s *scanner) skipValue() error {
	c, err := s.mustPeek()
	if err != nil {
		return err
	}
	switch c {
	case '{', '[':
		s.pos++
		base := len(s.stack)
		if c == '{' {
			s.stack = append(s.stack, '}')
		} else {
			s.stack = append(s.stack, ']')
		}
		return s.scanComposite(base)
	case '"':
		s.pos++
		s.inStr, s.esc, s.strFrom = true, false, s.pos
		return s.finishString()
	}
	n := 0
	for {
		for s.pos < s.end {
			c := s.buf[s.pos]
			switch {
			case c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t':
				if n == 0 {
					return s.fail("unexpected '" + string(c) + "'")
				}
				return nil
			case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c == '-', c == '+', c == '.', c == 'E':
				n++
				s.pos++
			default:
				return s.fail("invalid character " + quoteByte(c))
			}
		}
		more, err := s.fill()
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// readKey consumes an object key at the scan position (an opening quote)
// and reports whether it is exactly "Records". Keys are read byte by byte;
// only top-level keys come through here.
func (s *scanner) readKey() (bool, error) {
	const want = "Records"
	s.pos++ // opening quote
	n := 0
	match := true
	for {
		for s.pos < s.end {
			c := s.buf[s.pos]
			s.pos++
			switch {
			case c == '"':
				return match && n == len(want), nil
			case c == '\\':
				// An escaped key is never the literal "Records" CloudTrail
				// writes; skip the escaped byte.
				match = false
				if s.pos >= s.end {
					more, err := s.fill()
					if err != nil {
						return false, err
					}
					if !more {
						return false, errTruncated
					}
				}
				s.pos++
			case c < 0x20:
				s.pos--
				return false, s.fail("control character in string")
			default:
				if n >= len(want) || want[n] != c {
					match = false
				}
				n++
			}
		}
		more, err := s.fill()
		if err != nil {
			return false, err
		}
		if !more {
			return false, errTruncated
		}
	}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(c) + "'"
	}
	const hex = "0123456789abcdef"
	return "0x" + string(hex[c>>4]) + string(hex[c&15])
}
