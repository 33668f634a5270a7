package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/wishcast/wishcast/access"
	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/callbridge"
	"github.com/wishcast/wishcast/cluster"
	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/metrics"
	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/rtsp/democam"
	"github.com/wishcast/wishcast/session"
	"github.com/wishcast/wishcast/stream"
	"github.com/wishcast/wishcast/tlsx"
	"github.com/wishcast/wishcast/transcode"
	"github.com/wishcast/wishcast/web"
	"github.com/wishcast/wishcast/whep"
	"github.com/wishcast/wishcast/whip"
)

// server is the wired process: the pion API, sessions, hub and router.
type server struct {
	cfg        Config
	log        *slog.Logger
	api        *session.API
	sessions   *session.Manager
	hub        *stream.Hub
	cameras    *rtsp.Puller
	transcodes *transcode.Manager
	catalog    *rtsp.Catalog
	demo       *democam.Server
	accounts   *auth.Store
	authh      *auth.Handlers
	bridge     *callbridge.Bridge
	rules      *access.Rules
	whep       *whep.Handler
	devices    *rtsp.API
	metrics    *metrics.Metrics
	cluster    *cluster.Node // nil on one node
	handler    http.Handler
	ready      atomic.Bool
	stop       context.CancelFunc // ends background work
	wg         sync.WaitGroup
}

func newServer(cfg Config, log *slog.Logger) (*server, error) {
	api, err := session.NewAPI(cfg.WebRTC, log)
	if err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	s := &server{cfg: cfg, log: log, api: api, metrics: metrics.New(cfg.Metrics, version)}
	s.sessions = session.NewManager(cfg.WebRTC, api, log)
	s.sessions.SetObserver(s.metrics)
	s.hub = stream.NewHub(cfg.Stream, log)
	s.hub.SetObserver(s.metrics)
	// Each packet's fan-out to the viewers is one batch of sends on the
	// ICE UDP socket.
	s.hub.SetBatcher(api.Batcher())
	if err := s.openAccounts(); err != nil {
		s.close()
		return nil, err
	}
	if err := s.startCameras(); err != nil {
		s.close()
		return nil, err
	}
	s.transcodes = transcode.New(cfg.Transcode, s.hub, log.With("component", "transcode"))
	s.hub.AddSource(transcode.Prefix, s.transcodes)
	s.bridge = callbridge.New(callbridge.Options{
		Config: cfg.Calls, Hub: s.hub, Accounts: s.accounts, Sessions: s.sessions,
		AnswerTimeout: answerTimeout(cfg.Stream.OnDemandTimeout),
		OnSetup:       s.metrics.CallSetup,
		Log:           log.With("component", "calls"),
	})
	s.rules = access.New(access.Options{
		Accounts: s.accounts, Devices: s.catalog, Calls: s.bridge, Sessions: s.sessions, Hub: s.hub,
		Exempt: cluster.IsPeerOwner, Log: log.With("component", "access"),
	})
	s.devices = rtsp.NewAPI(rtsp.APIOptions{
		Catalog: s.catalog, Puller: s.cameras, Log: log.With("component", "rtsp"),
		Transcodes: s.transcodes.Available,
		EndSessions: func(name string) int {
			return s.sessions.CloseWhere(func(_, st, _ string) bool { return st == name }, session.ReasonDevice)
		},
	})
	s.authh.SetOnRevoke(s.bridge.Revoke)
	s.accounts.SetOnRevoke(s.revokedElsewhere)
	s.authh.SetOnUserChange(func(u auth.User) {
		s.bridge.ChoicesChanged(u.Name)
		s.rules.UserChanged(context.Background(), u)
	})
	s.authh.SetPresence(func(user string) (bool, bool) {
		return s.bridge.Online(user), s.hub.IsLive("users/" + user)
	})
	if err := s.joinCluster(); err != nil {
		s.close()
		return nil, err
	}
	s.metrics.Watch(metrics.Sources{Sessions: s.sessions, Hub: s.hub, Cameras: s.cameras, Accounts: s.accounts, Calls: s.bridge, Transcodes: s.transcodes})
	s.handler = s.routes()
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Go(func() { s.rules.Watch(bg, cfg.RevocationCheck) })
	if s.cluster != nil {
		s.wg.Go(func() { s.keepAlwaysOn(bg) })
	}
	s.ready.Store(true)
	return s, nil
}

func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	origins := httpx.NewOrigins(s.cfg.CORS)
	s.authh.SetCrossSite(origins.CrossSite)
	r.Use(s.metrics.HTTP, origins.CORS, s.accessLog, s.clusterMiddleware, s.authh.Middleware)
	r.NotFound(httpx.Handle(s.log, func(http.ResponseWriter, *http.Request) error {
		return httpx.Errorf(http.StatusNotFound, "no such resource")
	}))
	r.MethodNotAllowed(httpx.Handle(s.log, func(_ http.ResponseWriter, r *http.Request) error {
		return httpx.Errorf(http.StatusMethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path)
	}))
	rest := func(r *http.Request) string { return chi.URLParam(r, "*") }
	streamAccess := s.authh.StreamAccess(s.rules.SafeStreamInfo)
	s.sessions.SetAccess(session.Access{
		Check:  peerSessions(func(r *http.Request, c session.Creator) error { return s.authh.SessionAccess(r, c.Owner, c.Client) }),
		Client: auth.ClientGroup,
	})
	r.Handle("/whip/*", whip.New(whip.Options{Sessions: s.sessions, Hub: s.hub, Log: s.log, Authorize: streamAccess, Claim: s.clusterClaim()}).Endpoint(rest))
	// Viewing a person who chose to be asked waits for their answer.
	viewAccess := peerView(func(r *http.Request, action, stream string) (string, error) {
		owner, err := streamAccess(r, action, stream)
		if err == nil && action == string(auth.ActionView) {
			err = s.bridge.Consent(r.Context(), auth.PrincipalFrom(r.Context()), stream)
		}
		return owner, err
	})
	s.whep = whep.New(whep.Options{Sessions: s.sessions, Hub: s.hub, Log: s.log, Authorize: viewAccess, Transcoder: s.transcodes})
	r.Handle("/whep/*", s.whep.Endpoint(rest))
	sessionID := func(r *http.Request) string { return chi.URLParam(r, "id") }
	r.Handle("/sessions/{id}", s.clusterSessions(s.sessions.Handler(sessionID), sessionID))
	r.Handle("/sessions/{id}/*", s.clusterSessions(s.sessions.ExtensionHandler(sessionID, rest), sessionID))
	r.Post("/api/v1/login", httpx.Handle(s.log, s.authh.Login))
	r.Post("/api/v1/logout", httpx.Handle(s.log, s.authh.Logout))
	r.Get("/api/v1/me", httpx.Handle(s.log, s.authh.Me))
	r.Get("/api/v1/session", httpx.Handle(s.log, access.Session))
	api := s.authh.API(chi.URLParam)
	r.Get("/api/v1/users", httpx.Handle(s.log, api.ListUsers))
	r.Get("/api/v1/users/{name}", httpx.Handle(s.log, api.GetUser))
	r.Post("/api/v1/users", httpx.Handle(s.log, api.CreateUser))
	r.Patch("/api/v1/users/{name}", httpx.Handle(s.log, api.UpdateUser))
	r.Delete("/api/v1/users/{name}", httpx.Handle(s.log, api.DeleteUser))
	r.Post("/api/v1/users/{name}/password", httpx.Handle(s.log, api.SetPassword))
	r.Get("/api/v1/tokens", httpx.Handle(s.log, api.ListTokens))
	r.Post("/api/v1/tokens", httpx.Handle(s.log, api.CreateToken))
	r.Delete("/api/v1/tokens/{id}", httpx.Handle(s.log, api.RevokeToken))
	named := func(f func(http.ResponseWriter, *http.Request, string) error, param string) http.HandlerFunc {
		return httpx.Handle(s.log, func(w http.ResponseWriter, r *http.Request) error { return f(w, r, chi.URLParam(r, param)) })
	}
	r.Get("/api/v1/devices", httpx.Handle(s.log, s.devices.List))
	r.Put("/api/v1/devices/{name}", named(s.devices.Put, "name"))
	r.Delete("/api/v1/devices/{name}", named(s.devices.Delete, "name"))
	r.Post("/api/v1/devices/{name}/test", named(s.devices.Test, "name"))
	r.Get("/api/v1/streams", httpx.Handle(s.log, s.rules.ListStreams))
	r.Get("/api/v1/events", httpx.Handle(s.log, s.eventFeed()))
	if s.cluster != nil {
		r.Get(callbridge.ReplayPath, httpx.Handle(s.log, s.bridge.Replay))
	}
	calls := s.bridge.API(chi.URLParam)
	r.Post("/api/v1/calls", httpx.Handle(s.log, calls.Place))
	r.Get("/api/v1/calls", httpx.Handle(s.log, calls.List))
	r.Get("/api/v1/calls/history", httpx.Handle(s.log, calls.History))
	r.Get("/api/v1/calls/{id}", httpx.Handle(s.log, calls.Get))
	r.Post("/api/v1/calls/{id}/accept", httpx.Handle(s.log, calls.Accept))
	r.Post("/api/v1/calls/{id}/decline", httpx.Handle(s.log, calls.Decline))
	r.Delete("/api/v1/calls/{id}", httpx.Handle(s.log, calls.Hangup))
	r.Post("/api/v1/watch-asks/{id}", httpx.Handle(s.log, calls.AnswerAsk))
	r.Get("/api/v1/streams/*", named(s.rules.GetStream, "*"))
	r.Put("/api/v1/streams/*", named(s.rules.PutStreamSettings, "*"))
	app := web.Handler()
	r.Get("/", app.ServeHTTP)
	r.Head("/", app.ServeHTTP)
	r.Get("/app/*", app.ServeHTTP)
	r.Head("/app/*", app.ServeHTTP)
	r.Get(web.EmbedPrefix+"*", app.ServeHTTP)
	r.Head(web.EmbedPrefix+"*", app.ServeHTTP)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	return r
}

// revokedElsewhere applies a revocation another node, or a CLI command,
// made on the shared store (PostgreSQL): the event feeds of the revoked
// sign-ins close, a changed account is applied as if changed here, and
// every running session is checked again now rather than at the next
// REVOCATION_CHECK. The store has already dropped its cached tokens.
func (s *server) revokedElsewhere(r auth.Revocation) {
	if !s.ready.Load() {
		return // starting or shutting down
	}
	switch {
	case r.TokenID != "":
		s.bridge.Revoke(r.User, r.TokenID)
	case r.Sessions:
		s.bridge.Revoke(r.User, "")
	}
	if r.TokenID == "" && r.User != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if u, err := s.accounts.GetUser(ctx, r.User); err == nil {
			s.bridge.ChoicesChanged(u.Name)
			s.rules.UserChanged(ctx, u)
		}
	}
	s.rules.Changed()
}

// answerTimeout is how long a watched user's page has to publish: enough
// less than the on-demand timeout that viewers hear "did not answer"
// rather than a bare timeout.
func answerTimeout(onDemand time.Duration) time.Duration {
	margin := max(onDemand/10, time.Second)
	if onDemand <= 2*margin {
		return onDemand / 2
	}
	return onDemand - margin
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Status string `json:"status"`
		buildInfo
	}{"ok", readBuildInfo()})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if !s.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	db := s.accounts.Backend()
	if err := s.accounts.Ping(ctx); err != nil {
		s.log.Warn("not ready", "database", db, "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "account store unavailable", "database": db})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "ready", "database": db})
}

// accessLog logs each request's method, route pattern (never the raw URL:
// query strings may hold secrets), status and duration at debug level.
func (s *server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		s.log.Debug("http", "method", r.Method, "route", route, "status", sw.status, "dur", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// openAccounts opens the account store (DATABASE_URL, or SQLite in the
// data directory); on a first start it says how to sign in.
func (s *server) openAccounts() error {
	st, err := auth.OpenURL(context.Background(), s.cfg.storeAddress(), s.cfg.Auth, s.log.With("component", "auth"))
	if err != nil {
		return fmt.Errorf("account store: %w", err)
	}
	loc, _ := auth.ParseLocation(s.cfg.storeAddress())
	s.log.Info("account store", "backend", st.Backend(), "at", loc.String())
	s.accounts = st
	s.authh = auth.NewHandlers(st, s.log)
	if b := st.Bootstrap(); b.Created {
		s.log.Warn("sign in as the new admin", "user", b.Name, "url", signInURL(s.cfg.Listen, s.cfg.TLS.Mode))
	}
	return nil
}

// signInURL is where a person on this machine signs in: the app.
func signInURL(listen, tlsMode string) string {
	scheme := "https://"
	if tlsMode == "" || tlsMode == tlsx.ModeNone {
		scheme = "http://"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return scheme + listen + "/"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return scheme + net.JoinHostPort(host, port) + "/"
}

// startCameras loads the camera catalogue, starts the demo camera and
// plugs the RTSP puller into the hub as the source of devices/*.
func (s *server) startCameras() error {
	cat := rtsp.NewCatalog(deviceStore{s.accounts})
	if err := rtsp.ImportFile(context.Background(), s.cfg.devicesFile(), cat, s.log); err != nil {
		return err
	}
	s.catalog = cat
	for _, spec := range s.cfg.Camera.Devices {
		d, err := rtsp.ParseDevice(spec)
		if err != nil {
			return fmt.Errorf("setting %sDEVICES: %w", envPrefix, err)
		}
		if err := cat.SetVolatile(d); err != nil {
			return err
		}
	}
	if s.cfg.Camera.DemoCamera {
		demo, err := democam.New(democam.Options{Addr: s.cfg.Camera.DemoAddr, Log: s.log})
		if err == nil {
			err = demo.Start()
		}
		if err != nil {
			// A busy port must not keep the server from starting.
			s.log.Warn("demo camera not started", "err", err)
		} else {
			s.demo = demo
			if err := cat.SetVolatile(rtsp.Device{Name: "demo", URL: demo.URL(), Transport: rtsp.TransportTCP}); err != nil {
				return err
			}
		}
	}
	cams, err := rtsp.NewPuller(s.cfg.Camera, s.hub, cat, s.log.With("component", "rtsp"))
	if err != nil {
		return err
	}
	if err := cams.KeepDescriptions(context.Background(), s.cfg.cameraCodecsFile()); err != nil {
		s.log.Warn("camera codecs of the last run not loaded", "err", err)
	}
	s.cameras = cams
	s.hub.AddSource(rtsp.Prefix, cams)
	if s.cfg.Cluster.Enabled() {
		cams.HandOverAlwaysOn() // one node of the cluster holds each (keepAlwaysOn)
	} else {
		cams.StartAlwaysOn()
	}
	list, err := cat.List(context.Background())
	if err != nil {
		return err
	}
	for _, d := range list {
		s.log.Info("camera", "device", d.Name, "url", d.RedactedURL(), "watch", "/whep/devices/"+d.Name)
	}
	return nil
}

// close ends all sessions and releases the hub and sockets.
func (s *server) close() {
	s.ready.Store(false)
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
	}
	if s.bridge != nil {
		s.bridge.Close()
	}
	s.sessions.CloseAll()
	if s.cameras != nil {
		s.cameras.Close()
	}
	if s.demo != nil {
		s.demo.Close()
	}
	s.hub.Close()
	if s.transcodes != nil {
		s.transcodes.Close()
	}
	if s.cluster != nil {
		s.cluster.Close()
	}
	if s.accounts != nil {
		if err := s.accounts.Close(); err != nil {
			s.log.Warn("close account store", "err", err)
		}
	}
	if err := s.api.Close(); err != nil {
		s.log.Debug("close ICE sockets", "err", err)
	}
}
