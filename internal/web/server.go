// Package web serves athenawatch over HTTP: the dashboard pages, the JSON
// API under /api/v1/, Prometheus metrics on /metrics and /healthz. Every
// page and API call reads the store; nothing here writes it.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
	"github.com/athenawatch/athenawatch/internal/usage"
)

// Options configure a Server.
type Options struct {
	// Store is the database the pages, the API and the usage metrics read.
	Store *store.Store
	// Config gives the rules (users, teams) and prices reports use.
	Config *config.Config
	// Rules, when set, are the rules of Config that the background
	// collector uses too, so that the names it learns (Identity Center
	// users) reach the pages at once; nil builds them from Config.
	Rules *usage.Rules
	// Token, when set, is required of every request but /healthz: as a
	// bearer token, or through the session cookie the login form sets.
	Token string
	// Logger receives request errors; never query text or tokens.
	Logger *slog.Logger
	// Now is the clock of time windows; time.Now when nil.
	Now func() time.Time
	// Health is the state of the background collector that /metrics and
	// the pages report; nil when nothing collects in the background.
	Health *Health
}

// Server is the HTTP side of athenawatch.
type Server struct {
	opts   Options
	rules  *usage.Rules
	prices usage.Prices
	mux    *http.ServeMux
	auth   *auth // nil without a token
}

// New builds a server over o.Store.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Config == nil {
		return nil, errors.New("web server: no store or configuration")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	rules := o.Rules
	if rules == nil {
		rules = usage.NewRules(o.Config)
	}
	s := &Server{
		opts:   o,
		rules:  rules,
		prices: usage.PricesOf(o.Config),
		mux:    http.NewServeMux(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := usage.LoadIdentityNames(ctx, o.Store, s.rules); err != nil {
		return nil, err
	}
	// A server asks for the same sums many times: it keeps the rollups
	// in memory.
	o.Store.ServeFromMemory(o.Logger)
	s.auth = newAuth(o.Token, o.Now, o.Logger)
	s.routes()
	return s, nil
}

// Handler is the server's root handler: authentication and security
// headers around every route, and the access log around them.
func (s *Server) Handler() http.Handler {
	return s.accessLog(s.secure(s.mux))
}

// routes registers every route of DESIGN.md's HTTP section.
func (s *Server) routes() {
	s.pageRoutes(s.mux)
	s.apiRoutes(s.mux)
	s.opsRoutes(s.mux)
}
