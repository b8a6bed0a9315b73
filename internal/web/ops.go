package web

import "net/http"

// opsRoutes registers /healthz, /metrics and the login form.
func (s *Server) opsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", s.metricsHandler())
	s.loginRoutes(mux)
}
