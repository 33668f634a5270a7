package web

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

// serve runs one request through Handler.
func serve(t *testing.T, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec
}

// checkSecurityHeaders asserts the headers every response carries.
func checkSecurityHeaders(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-cache",
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

func TestIndexServedWithCSP(t *testing.T) {
	rec := serve(t, http.MethodGet, "/", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET / Content-Type = %q, want text/html; charset=utf-8", ct)
	}
	checkSecurityHeaders(t, rec, "GET /")
	if !strings.Contains(rec.Body.String(), `<script type="module" src="/app/app.js"></script>`) {
		t.Errorf("GET / does not load /app/app.js as a module:\n%s", rec.Body)
	}
	etag := rec.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Errorf("GET / ETag = %q, want a quoted content hash", etag)
	}

	head := serve(t, http.MethodHead, "/", nil)
	if head.Code != http.StatusOK || head.Body.Len() != 0 {
		t.Errorf("HEAD / = %d with %d body bytes, want 200 and none", head.Code, head.Body.Len())
	}
	if head.Header().Get("ETag") != etag {
		t.Errorf("HEAD / ETag = %q, want GET's %q", head.Header().Get("ETag"), etag)
	}

	again := serve(t, http.MethodGet, "/", map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Errorf("GET / with If-None-Match = %d (%d bytes), want 304 and no body", again.Code, again.Body.Len())
	}
	checkSecurityHeaders(t, again, "304")
}

// The embeddable player is served for any stream name under /embed/,
// under the app's policy except that any site may frame it; the app
// itself may not be framed.
func TestEmbedPage(t *testing.T) {
	for _, p := range []string{"/embed/live/show", "/embed/devices/demo", "/embed/x"} {
		rec := serve(t, http.MethodGet, p, nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<script type="module" src="/app/embed.js"></script>`) {
			t.Fatalf("GET %s = %d, want the embed page:\n%s", p, rec.Code, rec.Body)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors *") || strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q; want the app's, framable by any site", p, csp)
		}
		if xfo := rec.Header().Get("X-Frame-Options"); xfo != "" {
			t.Errorf("GET %s: X-Frame-Options %q forbids the framing it is for", p, xfo)
		}
	}
	for _, p := range []string{"/embed/", "/embed", "/embed//x", "/embed/live/../x"} {
		if rec := serve(t, http.MethodGet, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
	}
	if rec := serve(t, http.MethodGet, "/", nil); !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
		rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("the app may be framed: %v", rec.Header())
	}
}

func TestAssetsHaveTheirTypes(t *testing.T) {
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/app/app.js", "text/javascript; charset=utf-8", "import"},
		{"/app/views/home.js", "text/javascript; charset=utf-8", "export function homeView"},
		{"/app/style.css", "text/css; charset=utf-8", ":root"},
		{"/app/icon.svg", "image/svg+xml", "<svg"},
		{"/app/index.html", "text/html; charset=utf-8", "<!doctype html>"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := serve(t, http.MethodGet, tc.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", tc.path, rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", ct, tc.ctype)
			}
			if !strings.Contains(rec.Body.String(), tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
			checkSecurityHeaders(t, rec, tc.path)
		})
	}
}

func TestUnknownIsNotFound(t *testing.T) {
	for _, p := range []string{
		"/app/nope.js", "/app/", "/app", "/app/views", "/app/views/", "/app/../web.go",
		"/app/./app.js", "/app//app.js", "/app/views/../app.js", "/index.html", "/static/app.js",
		"/app/APP.JS", "/favicon.ico",
	} {
		rec := serve(t, http.MethodGet, p, nil)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "<a href") {
			t.Errorf("GET %s looks like a directory listing:\n%s", p, rec.Body)
		}
		checkSecurityHeaders(t, rec, "404 "+p)
	}
}

func TestOtherMethodsRefused(t *testing.T) {
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		rec := serve(t, m, "/", nil)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s / = %d, Allow %q; want 405 with Allow: GET, HEAD", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
}

// staticFiles returns every embedded file by path under static/.
func staticFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		files[strings.TrimPrefix(p, "static/")] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("only %d files embedded", len(files))
	}
	return files
}

// namespaces are URIs that name XML vocabularies; browsers never fetch them.
var namespaces = map[string]bool{
	"http://www.w3.org/2000/svg":   true,
	"http://www.w3.org/1999/xlink": true,
}

// The app loads nothing from other origins: no absolute URL (http, https,
// ws, wss, ftp) other than XML namespace names, and no protocol-relative
// reference ("//cdn.example/x.js") in quotes, url() or @import.
func TestNoExternalURLs(t *testing.T) {
	absolute := regexp.MustCompile(`(?i)\b(?:https?|wss?|ftp)://[^\s"'<>)\x60]*`)
	relative := regexp.MustCompile(`["'\x60(]\s*//[A-Za-z0-9\[]`)
	imports := regexp.MustCompile(`(?i)@import|\bimport\s*\(\s*["'\x60]https?:`)
	for name, b := range staticFiles(t) {
		for _, m := range absolute.FindAllString(string(b), -1) {
			if !namespaces[m] {
				t.Errorf("%s references the external URL %q; the app must load everything from its own origin", name, m)
			}
		}
		for _, m := range relative.FindAllString(string(b), -1) {
			t.Errorf("%s has the protocol-relative reference %q", name, m)
		}
		if m := imports.FindString(string(b)); m != "" {
			t.Errorf("%s imports from elsewhere: %q", name, m)
		}
	}
	// The checks themselves catch what they should.
	for _, bad := range []string{`<script src="https://cdn.example/x.js">`, `fetch("http://evil.example")`, `@import url(//fonts.example/a.css);`, `src='//cdn.example/x.js'`} {
		if !absolute.MatchString(bad) && !relative.MatchString(bad) && !imports.MatchString(bad) {
			t.Errorf("the URL checks miss %q", bad)
		}
	}
}

// Nothing needs what the CSP forbids: inline scripts, inline styles,
// event-handler attributes, eval.
func TestCSPCompatible(t *testing.T) {
	files := staticFiles(t)
	for _, page := range []string{"index.html", "embed.html"} {
		html := string(files[page])
		scripts := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(html, -1)
		if len(scripts) == 0 {
			t.Errorf("%s loads no script", page)
		}
		for _, m := range scripts {
			if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
				t.Errorf("%s has the inline script %q, which the CSP blocks", page, m[0])
			}
		}
		for _, re := range []string{`<style`, `\sstyle\s*=`, `\son[a-z]+\s*=`} {
			if m := regexp.MustCompile(`(?i)` + re).FindString(html); m != "" {
				t.Errorf("%s has %q, which the CSP blocks", page, m)
			}
		}
	}
	for name, b := range files {
		if path.Ext(name) != ".js" {
			continue
		}
		for _, re := range []string{`\beval\s*\(`, `new\s+Function\s*\(`, `setAttribute\(\s*['"]style`, `\.innerHTML\s*=`, `\bstyle:\s*['"\x60]`} {
			if m := regexp.MustCompile(re).Find(b); m != nil {
				t.Errorf("%s uses %q (blocked by the CSP, or unsafe)", name, m)
			}
		}
	}
}

// Every module import and every /app/ reference points at an embedded
// file, so a rename cannot break the app silently.
func TestReferencesResolve(t *testing.T) {
	files := staticFiles(t)
	importRe := regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]`)
	appRe := regexp.MustCompile(`/app/([A-Za-z0-9_./-]+)`)
	for name, b := range files {
		switch path.Ext(name) {
		case ".js":
			for _, m := range importRe.FindAllSubmatch(b, -1) {
				ref := string(m[1])
				if !strings.HasPrefix(ref, "./") && !strings.HasPrefix(ref, "../") {
					t.Errorf("%s imports %q; use a relative path to a file of the app", name, ref)
					continue
				}
				target := path.Join(path.Dir(name), ref)
				if _, ok := files[target]; !ok {
					t.Errorf("%s imports %q, but %s is not embedded", name, ref, target)
				}
			}
			fallthrough
		case ".html", ".css":
			for _, m := range appRe.FindAllSubmatch(b, -1) {
				if _, ok := files[string(m[1])]; !ok {
					t.Errorf("%s refers to /app/%s, which is not embedded", name, m[1])
				}
			}
		}
	}
}

// Every file is readable at a glance and says what it is for.
func TestFilesSmallAndDocumented(t *testing.T) {
	for name, b := range staticFiles(t) {
		if n := bytes.Count(b, []byte("\n")); n > 600 {
			t.Errorf("%s has %d lines; split it", name, n)
		}
		if path.Ext(name) == ".js" && !bytes.HasPrefix(b, []byte("// ")) {
			t.Errorf("%s does not start with a comment saying what it is for", name)
		}
	}
}
