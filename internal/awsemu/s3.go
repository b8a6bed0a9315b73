package awsemu

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is served by gofakes3 over an in-memory backend, behind the
// emulator's own SigV4 check (path-style addressing, as clients use with a
// local endpoint). The emulator adds what a trail reader must survive and
// what tests must observe: injected faults (503 SlowDown, connections
// reset in the middle of an object) and a count of calls by operation.

// S3Op names the S3 operations the emulator counts.
type S3Op string

// Counted S3 operations.
const (
	S3GetObject    S3Op = "GetObject"
	S3ListObjects  S3Op = "ListObjects"
	S3PutObject    S3Op = "PutObject"
	S3HeadObject   S3Op = "HeadObject"
	S3OtherRequest S3Op = "Other"
)

// S3Faults makes S3 misbehave as it does at scale. Each N counts GetObject
// calls: every SlowDownEvery-th is refused with 503 SlowDown before any
// body, every ResetEvery-th has its connection closed half-way through the
// body. SlowDownFirst and ResetFirst fault the first GETs of every object
// instead: SlowDownFirst refused, then ResetFirst cut, then the rest
// answered. Zero turns a fault off.
type S3Faults struct {
	SlowDownEvery int
	ResetEvery    int
	SlowDownFirst int
	ResetFirst    int
}

type s3State struct {
	handler http.Handler

	mu     sync.Mutex
	faults S3Faults
	gets   int            // GetObject calls since the faults were set
	keyGet map[string]int // GetObject calls by object since then
	calls  map[S3Op]int
}

func newS3State(e *Emulator) *s3State {
	fake := gofakes3.New(newMemBackend(s3mem.New(s3mem.WithTimeSource(emulatorClock{e}))),
		gofakes3.WithTimeSource(emulatorClock{e}),
		// The emulator clock may be frozen far from the clients' clocks.
		gofakes3.WithTimeSkewLimit(0),
		gofakes3.WithoutVersioning(),
	)
	return &s3State{handler: fake.Server(), calls: map[S3Op]int{}}
}

// GetObject gives bodies that write themselves out: gofakes3 copies a body
// to the response with io.Copy, and the in-memory backend's body, a
// bytes.Reader behind a wrapper that hides its WriteTo, made io.Copy
// allocate and fill a buffer of its own for every object. The trail benchmark's reads of a thousand objects spent a
// good part of the emulator's time there.
func (b memBackend) GetObject(bucket, name string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	obj, err := b.Backend.GetObject(bucket, name, rng)
	if err == nil && obj != nil {
		obj.Contents = writerToBody(obj.Contents)
	}
	return obj, err
}

// writerToBody returns the bytes.Reader inside body, a wrapper of one
// field, with a Close that does nothing, as gofakes3's in-memory backend
// holds it; any other body as it is.
func writerToBody(body io.ReadCloser) io.ReadCloser {
	if _, ok := body.(io.WriterTo); ok {
		return body
	}
	v := reflect.ValueOf(body)
	if v.Kind() != reflect.Struct || v.NumField() != 1 || !v.Field(0).CanInterface() {
		return body
	}
	if r, ok := v.Field(0).Interface().(*bytes.Reader); ok {
		return bytesBody{r}
	}
	return body
}

type bytesBody struct{ *bytes.Reader }

func (bytesBody) Close() error { return nil }

// emulatorClock gives gofakes3 the emulator's clock, so that LastModified
// follows simulated time.
type emulatorClock struct{ e *Emulator }

func (c emulatorClock) Now() time.Time                  { return c.e.Now() }
func (c emulatorClock) Since(t time.Time) time.Duration { return c.e.Now().Sub(t) }

// SetS3Faults sets the faults S3 injects from now on.
func (e *Emulator) SetS3Faults(f S3Faults) {
	e.s3.mu.Lock()
	defer e.s3.mu.Unlock()
	e.s3.faults, e.s3.gets, e.s3.keyGet = f, 0, map[string]int{}
}

// S3Calls returns how many S3 calls of each operation were answered since
// the emulator started (refused and cut ones included).
func (e *Emulator) S3Calls() map[S3Op]int {
	e.s3.mu.Lock()
	defer e.s3.mu.Unlock()
	out := make(map[S3Op]int, len(e.s3.calls))
	for k, v := range e.s3.calls {
		out[k] = v
	}
	return out
}

// s3Op classifies a path-style request.
func s3Op(r *http.Request) S3Op {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	switch {
	case bucket == "":
		return S3OtherRequest
	case key == "" && r.Method == http.MethodGet && !r.URL.Query().Has("location") && !r.URL.Query().Has("versioning"):
		return S3ListObjects
	case key == "":
		return S3OtherRequest
	case r.Method == http.MethodGet:
		return S3GetObject
	case r.Method == http.MethodPut:
		return S3PutObject
	case r.Method == http.MethodHead:
		return S3HeadObject
	}
	return S3OtherRequest
}

// serveS3 handles one S3 call: signature, faults, then gofakes3.
func (e *Emulator) serveS3(w http.ResponseWriter, r *http.Request, a authHeader) {
	e.mu.Lock()
	p := e.keys[a.accessKey]
	e.mu.Unlock()
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if p == nil || hash == "" || (p.creds.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != p.creds.SessionToken) ||
		!verifySigned(r, r.ContentLength, hash, a, p.creds) {
		writeS3Error(w, http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided.")
		return
	}
	if msg := s3BodyTooLarge(r); msg != "" {
		writeS3Error(w, http.StatusBadRequest, "EntityTooLarge", msg)
		return
	}
	op := s3Op(r)
	st := e.s3
	st.mu.Lock()
	st.calls[op]++
	var slowDown, reset bool
	if op == S3GetObject {
		st.gets++
		f := st.faults
		slowDown = f.SlowDownEvery > 0 && st.gets%f.SlowDownEvery == 0
		reset = !slowDown && f.ResetEvery > 0 && st.gets%f.ResetEvery == 0
		if f.SlowDownFirst > 0 || f.ResetFirst > 0 {
			if st.keyGet == nil {
				st.keyGet = map[string]int{}
			}
			st.keyGet[r.URL.Path]++
			n := st.keyGet[r.URL.Path]
			slowDown = slowDown || n <= f.SlowDownFirst
			reset = reset || !slowDown && n <= f.SlowDownFirst+f.ResetFirst
		}
	}
	st.mu.Unlock()
	switch {
	case slowDown:
		writeS3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case reset:
		cw := &cutWriter{ResponseWriter: w}
		st.handler.ServeHTTP(cw, r)
		cw.finish(e.log)
	default:
		st.handler.ServeHTTP(w, r)
	}
}

// maxS3Body bounds what one S3 request may upload. The emulator keeps its
// objects in memory, and gofakes3 allocates a body's whole declared length
// before reading it, so a declared length is checked before it reaches
// gofakes3. Trail objects are a few megabytes.
const maxS3Body = 256 << 20

// s3BodyTooLarge says why a request's declared body is refused, or "".
func s3BodyTooLarge(r *http.Request) string {
	if r.ContentLength > maxS3Body {
		return "Your proposed upload exceeds the maximum allowed size of the emulator (" + strconv.Itoa(maxS3Body) + " bytes)."
	}
	if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 || n > maxS3Body {
			return "x-amz-decoded-content-length " + strconv.Quote(v) + " is not a length up to " + strconv.Itoa(maxS3Body) + " bytes."
		}
	}
	return ""
}

func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>" + code + "</Code><Message>")
	// Messages may quote what a request sent.
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString("</Message></Error>")
	_, _ = io.WriteString(w, b.String())
}

// cutWriter holds an answer's body, then sends its headers and half of it
// and closes the connection: a reset in the middle of an object.
type cutWriter struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (c *cutWriter) WriteHeader(status int) { c.status = status }

func (c *cutWriter) Write(b []byte) (int, error) {
	c.body = append(c.body, b...)
	return len(b), nil
}

func (c *cutWriter) finish(log *slog.Logger) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.status != http.StatusOK || len(c.body) < 2 {
		c.ResponseWriter.WriteHeader(c.status)
		_, _ = c.ResponseWriter.Write(c.body)
		return
	}
	conn, buf, err := http.NewResponseController(c.ResponseWriter).Hijack()
	if err != nil {
		log.Debug("could not hijack S3 connection to cut it; answering whole", slog.Any("err", err))
		c.ResponseWriter.WriteHeader(c.status)
		_, _ = c.ResponseWriter.Write(c.body)
		return
	}
	defer conn.Close()
	writeCut(conn, buf, c.Header(), c.body)
}

// writeCut writes a 200 answer announcing the whole body, and half of it.
func writeCut(conn net.Conn, buf *bufio.ReadWriter, h http.Header, body []byte) {
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\n")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Transfer-Encoding")
	_ = h.Write(buf)
	_, _ = buf.WriteString("\r\n")
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		// An RST rather than a FIN: the reader sees a reset connection.
		_ = tc.SetLinger(0)
	}
}
