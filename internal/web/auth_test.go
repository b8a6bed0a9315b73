package web

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const testToken = "0123456789abcdef-test-token"

func TestCheckBind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true},
		{"127.1.2.3:0", "", true},
		{"[::1]:8080", "", true},
		{"localhost:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"[::]:8080", "", false},
		{"192.168.1.10:8080", "", false},
		{"dashboard.example.com:8080", "", false},
		{"not an address", "", false},
		{"0.0.0.0:8080", testToken, true},
		{"0.0.0.0:8080", "short", false},
		{"127.0.0.1:8080", "short", false},
	}
	for _, tt := range tests {
		err := CheckBind(tt.addr, tt.token)
		if (err == nil) != tt.ok {
			t.Errorf("CheckBind(%q, %q) = %v, want ok %v", tt.addr, tt.token, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "ATHENAWATCH_TOKEN") {
			t.Errorf("CheckBind(%q): %v does not name ATHENAWATCH_TOKEN", tt.addr, err)
		}
		if !tt.ok && tt.token == "" && !errors.Is(err, ErrNeedToken) {
			t.Errorf("CheckBind(%q): %v is not ErrNeedToken", tt.addr, err)
		}
	}
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Token: testToken})
	tests := []struct {
		name, target, header string
		status               int
		location             string
	}{
		{"healthz is open", "/healthz", "", 200, ""},
		{"login form is open", "/login", "", 200, ""},
		{"API without token", "/api/v1/report", "", 401, ""},
		{"metrics without token", "/metrics", "", 401, ""},
		{"page redirects to login", "/users?x=1", "", 303, "/login?next=%2Fusers%3Fx%3D1"},
		{"API with wrong token", "/api/v1/report", "Bearer wrong-token-wrong-token", 401, ""},
		{"API with token", "/api/v1/report", "Bearer " + testToken, 200, ""},
		{"scheme is case-insensitive", "/api/v1/report", "bearer " + testToken, 200, ""},
		{"basic is not bearer", "/api/v1/report", "Basic " + testToken, 401, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, tt.target, nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		res, body := f.do(t, r)
		if res.StatusCode != tt.status {
			t.Errorf("%s: %d, want %d\n%s", tt.name, res.StatusCode, tt.status, body)
		}
		if tt.location != "" && res.Header.Get("Location") != tt.location {
			t.Errorf("%s: Location %q, want %q", tt.name, res.Header.Get("Location"), tt.location)
		}
		if tt.status == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without WWW-Authenticate: Bearer", tt.name)
		}
		if tt.status == 401 && res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s: 401 of type %q, want JSON", tt.name, res.Header.Get("Content-Type"))
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", tt.name, csp)
		}
	}
}

func postLogin(f *fixture, t *testing.T, token, next, origin string) *http.Response {
	t.Helper()
	form := url.Values{"token": {token}, "next": {next}}
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	res, _ := f.do(t, r)
	return res
}

func TestLoginSetsASessionCookie(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	f := newFixture(t, Options{Token: testToken, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	res := postLogin(f, t, testToken, "/api/v1/report?by=team", "http://example.com")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/api/v1/report?by=team" {
		t.Fatalf("login: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", session)
	}
	if strings.Contains(session.Value, testToken) {
		t.Fatal("the session cookie holds the token")
	}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/report?by=team", nil)
	r.AddCookie(session)
	if res, body := f.do(t, r); res.StatusCode != 200 {
		t.Fatalf("with the session: %d %s", res.StatusCode, body)
	}
	// A forged or expired session is refused.
	for _, v := range []string{session.Value + "0", "99999999999.abc", "1.0", "", "garbage"} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/report", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		if res, _ := f.do(t, r); res.StatusCode != 401 {
			t.Errorf("session %q: %d, want 401", v, res.StatusCode)
		}
	}
	later := newAuth(testToken, func() time.Time { return testNow.Add(sessionTTL + time.Second) }, nil)
	if later.validSession(session.Value) {
		t.Error("a session outlives its TTL")
	}
	if strings.Contains(logs.String(), testToken) || strings.Contains(logs.String(), session.Value) {
		t.Errorf("the log holds the token or the session:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "path=/api/v1/report ") || strings.Contains(logs.String(), "by=team") {
		t.Errorf("the access log should name the path without its query string:\n%s", logs.String())
	}
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Token: testToken})
	if res := postLogin(f, t, testToken, "/", "https://evil.example.net"); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login: %d, want 403", res.StatusCode)
	}
	for _, next := range []string{"https://evil.example.net/", "//evil.example.net/", "/\\evil.example.net", "javascript:alert(1)"} {
		res := postLogin(f, t, testToken, next, "")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
			t.Errorf("next %q: %d to %q, want a redirect to /", next, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// Failed attempts are limited: after the burst, even the right token
	// is refused unchecked for a while.
	codes := map[int]int{}
	for range failedLoginBurst + 3 {
		codes[postLogin(f, t, "wrong-token-wrong-token", "/", "").StatusCode]++
	}
	if codes[http.StatusUnauthorized] != failedLoginBurst || codes[http.StatusTooManyRequests] != 3 {
		t.Errorf("failed logins answered %v, want %d × 401 then 429", codes, failedLoginBurst)
	}
	if res := postLogin(f, t, testToken, "/", ""); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right token while limited: %d, want 429", res.StatusCode)
	}
}

func TestLoginFormEscapesNext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Token: testToken})
	_, body := f.get(t, "/login?next="+url.QueryEscape(`/x"><script>alert(1)</script>`))
	if strings.Contains(body, "<script>") {
		t.Errorf("login form renders next unescaped:\n%s", body)
	}
}

func TestNoTokenNoLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	if res, _ := f.get(t, "/api/v1/report"); res.StatusCode != 200 {
		t.Errorf("without a token the API is open: got %d", res.StatusCode)
	}
	if res, _ := f.get(t, "/login?next=/users"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/users" {
		t.Errorf("login without a token: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
}
