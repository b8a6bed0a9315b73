package web

import "net/http"

// pageRoutes registers the dashboard pages.
func (s *Server) pageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the dashboard is being built", http.StatusNotImplemented)
	})
}
