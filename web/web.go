// Package web serves the embedded browser app: index.html at "/" and its
// stylesheet, scripts and icons under "/app/", and the embeddable player
// (embed.html) at "/embed/{stream}", from files compiled into the binary
// (no build step). Every response carries a strict Content Security
// Policy: the app loads nothing from other origins and runs no inline
// code. The app may not be framed; the embeddable player may be, by any
// site, since it plays public streams only.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every response: only this origin's
// scripts, styles and connections; media from the app's own streams.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// EmbedCSP is the policy of the embeddable player: the app's, except that
// any site may frame it.
var EmbedCSP = strings.Replace(CSP, "frame-ancestors 'none'", "frame-ancestors *", 1)

// AssetPrefix is the URL path under which the files of static/ are served.
const AssetPrefix = "/app/"

// EmbedPrefix is the URL path of the embeddable player; the stream's name
// follows it (/embed/live/show).
const EmbedPrefix = "/embed/"

// contentTypes maps the extensions the app uses to their media types;
// anything else is served as application/octet-stream.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
}

// asset is one embedded file, read once.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// handler serves the embedded files.
type handler struct {
	files map[string]asset // by path relative to static/, e.g. "app.js"
}

// Handler returns the app's handler: GET and HEAD of "/" answer
// index.html, of "/app/<file>" the file of that name, of "/embed/<stream>"
// embed.html (the page reads the stream's name from its URL); anything
// else is 404 (directories too) or 405 for other methods. Responses are
// revalidated on each use (Cache-Control: no-cache) against an ETag of
// the content.
func Handler() http.Handler {
	h := &handler{files: map[string]asset{}}
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype, ok := contentTypes[strings.ToLower(path.Ext(p))]
		if !ok {
			ctype = "application/octet-stream"
		}
		h.files[strings.TrimPrefix(p, "static/")] = asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if strings.HasPrefix(r.URL.Path, EmbedPrefix) {
		hd.Set("Content-Security-Policy", EmbedCSP)
	} else {
		hd.Set("Content-Security-Policy", CSP)
		// For browsers that know no frame-ancestors.
		hd.Set("X-Frame-Options", "DENY")
	}
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, ok := h.lookup(r.URL.Path)
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	// ServeContent answers HEAD, If-None-Match (304) and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// lookup finds the asset of a request path: "/" is index.html, "/app/x"
// is static/x, "/embed/<stream>" is embed.html. Paths that are not clean
// (dot segments, doubled slashes) and directories are not found.
func (h *handler) lookup(p string) (asset, bool) {
	if p == "/" {
		a, ok := h.files["index.html"]
		return a, ok
	}
	if stream, ok := strings.CutPrefix(p, EmbedPrefix); ok {
		if stream == "" || path.Clean("/"+stream) != "/"+stream {
			return asset{}, false
		}
		a, ok := h.files["embed.html"]
		return a, ok
	}
	rel, ok := strings.CutPrefix(p, AssetPrefix)
	if !ok || rel == "" || path.Clean("/"+rel) != "/"+rel {
		return asset{}, false
	}
	a, ok := h.files[rel]
	return a, ok
}
