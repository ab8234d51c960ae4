package server

import (
	"embed"
	"io/fs"
	"net/http"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// The page at / is plain HTML, CSS and JavaScript embedded in the binary: it works with no
// network beyond topicd itself, and calls the same JSON API as any client.
//
//go:embed web
var webFiles embed.FS

// pagePrefix is where the page's scripts and styles are served.
const pagePrefix = "/page/"

func registerPage(mux *http.ServeMux) {
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w)
		http.ServeFileFS(w, r, web, "index.html")
	})
	mux.Handle("GET "+pagePrefix, http.StripPrefix(pagePrefix, pageFiles(http.FileServerFS(web))))
}

// pageFiles adds the page's headers to its assets.
func pageFiles(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w)
		next.ServeHTTP(w, r)
	})
}

// pageHeaders forbid the page to load anything from elsewhere and to be framed.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(topicdv1.OpenAPI)
}
