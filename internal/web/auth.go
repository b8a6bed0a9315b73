package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MinTokenLength is the shortest ATHENAWATCH_TOKEN accepted: a token is the
// only thing between the network and every query text.
const MinTokenLength = 16

// ErrNeedToken refuses to serve beyond loopback without a token.
var ErrNeedToken = errors.New("a non-loopback address needs a token")

// CheckBind decides whether a server may listen on addr with token: a
// loopback address (127.0.0.0/8, ::1, localhost) needs none; any other
// (0.0.0.0, ::, a LAN address, a host name) needs a token of at least
// MinTokenLength characters. The error says what to do.
func CheckBind(addr, token string) error {
	if token != "" && len(token) < MinTokenLength {
		return fmt.Errorf("ATHENAWATCH_TOKEN is %d characters long: use at least %d random ones (openssl rand -hex 32)", len(token), MinTokenLength)
	}
	if token != "" || IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("%w: --addr %s is reachable from other machines; set ATHENAWATCH_TOKEN to a secret of at least %d characters "+
		"(openssl rand -hex 32) so that every request must carry it, or listen on 127.0.0.1", ErrNeedToken, addr, MinTokenLength)
}

// IsLoopback reports whether addr (host:port) listens on loopback only.
// An empty host listens everywhere; a host name other than localhost may
// resolve anywhere, so only literal loopback addresses and localhost count.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Session cookie and login form.
const (
	sessionCookie = "athenawatch_session"
	sessionTTL    = 12 * time.Hour
	// Failed token checks allowed per process: a burst, then one every
	// few seconds. A token is checked only while the limit allows, so a
	// guesser gets a handful of tries a minute at most.
	failedLoginBurst = 10
	failedLoginEvery = 6 * time.Second
)

// auth checks tokens and sessions. The session value is an expiry and an
// HMAC of it keyed by the token: it proves the login without holding the
// token, and changing the token ends every session.
type auth struct {
	token  []byte
	now    func() time.Time
	failed *rate.Limiter
	log    *slog.Logger
	mu     sync.Mutex // serializes limiter decisions with their checks
}

func newAuth(token string, now func() time.Time, log *slog.Logger) *auth {
	if token == "" {
		return nil
	}
	return &auth{token: []byte(token), now: now, failed: rate.NewLimiter(rate.Every(failedLoginEvery), failedLoginBurst), log: log}
}

// checkToken compares a presented token in constant time, while failed
// attempts are within the limit. limited says the attempt was refused
// unchecked.
func (a *auth) checkToken(presented string) (ok, limited bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failed.Tokens() < 1 {
		return false, true
	}
	if subtle.ConstantTimeCompare([]byte(presented), a.token) == 1 {
		return true, false
	}
	a.failed.Allow()
	return false, false
}

func (a *auth) sign(expiry int64) string {
	m := hmac.New(sha256.New, a.token)
	fmt.Fprintf(m, "athenawatch session v1 %d", expiry)
	return hex.EncodeToString(m.Sum(nil))
}

// newSession is a session cookie value valid for sessionTTL.
func (a *auth) newSession() string {
	exp := a.now().Add(sessionTTL).Unix()
	return strconv.FormatInt(exp, 10) + "." + a.sign(exp)
}

func (a *auth) validSession(v string) bool {
	expS, mac, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(a.sign(exp)))
}

// authenticated reports whether r carries the token or a valid session.
func (a *auth) authenticated(r *http.Request) (ok, limited bool) {
	if c, err := r.Cookie(sessionCookie); err == nil && a.validSession(c.Value) {
		return true, false
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return a.checkToken(strings.TrimSpace(tok))
		}
	}
	return false, false
}

// contentSecurityPolicy allows nothing but the server's own scripts,
// styles and images: no inline script, no CDN, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// secure wraps every route with the security headers and, when a token is
// configured, authentication: /healthz and the login form are open, the
// API and /metrics answer 401 with WWW-Authenticate: Bearer, pages redirect
// to the login form.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.auth == nil || r.URL.Path == "/healthz" || r.URL.Path == "/login" || r.URL.Path == "/logout" {
			next.ServeHTTP(w, r)
			return
		}
		ok, limited := s.auth.authenticated(r)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		if limited {
			s.opts.Logger.Warn("refused a token check: too many failed attempts", "path", r.URL.Path)
			h.Set("Retry-After", strconv.Itoa(int(failedLoginEvery.Seconds())))
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics":
			h.Set("WWW-Authenticate", `Bearer realm="athenawatch"`)
			writeError(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <ATHENAWATCH_TOKEN>")
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		default:
			h.Set("WWW-Authenticate", `Bearer realm="athenawatch"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
		}
	})
}

// localPath returns next when it is a path on this server, else "/": a
// login must never send the browser elsewhere (open redirect).
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// sameOrigin reports whether a browser's form post comes from this server's
// own pages: Origin, or else Referer, names the request's host. Clients
// that send neither (curl) are not browsers, and cross-site forgery needs a
// browser.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return true
	}
	u, err := url.Parse(src)
	return err == nil && u.Host == r.Host && (u.Scheme == "http" || u.Scheme == "https")
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>athenawatch: sign in</title></head>
<body><main>
<h1>athenawatch</h1>
{{if .Message}}<p role="alert">{{.Message}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="next" value="{{.Next}}">
<label for="token">Access token (ATHENAWATCH_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
</main></body></html>
`))

func (s *Server) writeLogin(w http.ResponseWriter, status int, next, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := loginPage.Execute(w, struct{ Next, Message string }{localPath(next), msg}); err != nil {
		s.opts.Logger.Error("render login form", "err", err)
	}
}

// maxLoginForm bounds the login form body.
const maxLoginForm = 4 << 10

// loginRoutes registers /login and /logout. Without a token there is
// nothing to log in to, and /login says so.
func (s *Server) loginRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if s.auth == nil {
			http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
		s.writeLogin(w, http.StatusOK, r.URL.Query().Get("next"), "")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if s.auth == nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if !sameOrigin(r) {
			http.Error(w, "cross-site login refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad login form", http.StatusBadRequest)
			return
		}
		next := r.PostForm.Get("next")
		ok, limited := s.auth.checkToken(r.PostForm.Get("token"))
		switch {
		case limited:
			w.Header().Set("Retry-After", strconv.Itoa(int(failedLoginEvery.Seconds())))
			s.writeLogin(w, http.StatusTooManyRequests, next, "Too many failed attempts: wait a few seconds and try again.")
			return
		case !ok:
			s.opts.Logger.Warn("failed login")
			s.writeLogin(w, http.StatusUnauthorized, next, "Wrong token.")
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: sessionCookie, Value: s.auth.newSession(), Path: "/", MaxAge: int(sessionTTL.Seconds()),
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
		http.Redirect(w, r, localPath(next), http.StatusSeeOther)
	})
	logout := func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
	mux.HandleFunc("POST /logout", logout)
	mux.HandleFunc("GET /logout", logout)
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// accessLog logs each request at debug level: method, path without the
// query string (filters can name people), status and duration. Never
// headers: they carry the token and the session.
func (s *Server) accessLog(next http.Handler) http.Handler {
	log := s.opts.Logger
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		log.Debug("http request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	})
}
