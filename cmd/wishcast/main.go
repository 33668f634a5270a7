// Command wishcast runs the wishcast WebRTC streaming server: WHIP to
// publish, WHEP to view, one binary and one port.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], environ(), os.Stdin, os.Stdout, os.Stderr))
}

func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func run(args []string, env map[string]string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "-h", "-help", "--help", "help":
		printHelp(stdout)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, readBuildInfo())
		return 0
	case "serve", "device", "fakecam", "user", "token", "store":
	default:
		fmt.Fprintf(stderr, "wishcast: unknown command %q (try --help)\n", cmd)
		return 2
	}
	cfg, err := loadConfig(env)
	if err != nil {
		fmt.Fprintln(stderr, "wishcast:", err)
		return 2
	}
	switch cmd {
	case "device":
		return deviceCmd(cfg, args[1:], stdout, stderr)
	case "user":
		return userCmd(cfg, args[1:], stdin, stdout, stderr)
	case "token":
		return tokenCmd(cfg, args[1:], stdout, stderr)
	case "store":
		return storeCmd(cfg, args[1:], stdout, stderr)
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cmd == "fakecam" {
		return fakecam(ctx, cfg, log)
	}
	srv, err := newServer(cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	if err := srv.serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
