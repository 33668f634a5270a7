package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/rtsp"
	"github.com/wishcast/wishcast/rtsp/democam"
)

// deviceCmd runs "wishcast device list|add|remove" on the camera
// catalogue in the account database; it works while the server runs.
func deviceCmd(cfg Config, args []string, stdout, stderr io.Writer) int {
	return withStore(cfg, args, stderr, func(ctx context.Context, st *auth.Store, args []string, fail func(error) int) int {
		cat := rtsp.NewCatalog(deviceStore{st})
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if err := rtsp.ImportFile(ctx, cfg.devicesFile(), cat, log); err != nil {
			return fail(err)
		}
		return deviceSub(ctx, cfg, cat, args, fail, stdout, stderr)
	})
}

func deviceSub(ctx context.Context, cfg Config, cat *rtsp.Catalog, args []string, fail func(error) int, stdout, stderr io.Writer) int {
	switch args[0] {
	case "list":
		list, err := cat.List(ctx)
		if err != nil {
			return fail(err)
		}
		line := func(d rtsp.Device, note string) {
			flags := []string{d.Transport}
			if d.AlwaysOn {
				flags = append(flags, "always-on")
			}
			if d.Disabled {
				flags = append(flags, "disabled")
			}
			fmt.Fprintf(stdout, "%-20s %-8s %s%s\n", d.Name, strings.Join(flags, ","), d.RedactedURL(), note)
		}
		for _, d := range list {
			line(d, "")
		}
		// The cameras the server adds by itself at start, which the
		// database does not keep.
		for _, spec := range cfg.Camera.Devices {
			if d, err := rtsp.ParseDevice(spec); err == nil {
				line(d, "  (from "+envPrefix+"DEVICES)")
			}
		}
		if cfg.Camera.DemoCamera {
			line(rtsp.Device{Name: "demo", URL: "rtsp://" + cfg.Camera.DemoAddr + "/demo", Transport: rtsp.TransportTCP},
				"  (built in; "+envPrefix+"DEMO_CAMERA=false turns it off)")
		}
		return 0
	case "add":
		if len(args) < 3 {
			fmt.Fprintln(stderr, "usage: wishcast device add NAME URL [tcp|udp] [always-on]")
			return 2
		}
		spec := args[1] + "=" + args[2]
		for _, opt := range args[3:] {
			spec += "#" + strings.TrimLeft(opt, "#-")
		}
		d, err := rtsp.ParseDevice(spec)
		if err != nil {
			fmt.Fprintln(stderr, "wishcast:", err)
			return 2
		}
		if err := cat.Add(ctx, d); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "device %s saved (%s): watch it at /whep/devices/%s\n", d.Name, d.RedactedURL(), d.Name)
		return 0
	case "remove", "rm":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: wishcast device remove NAME")
			return 2
		}
		if err := cat.Remove(ctx, args[1]); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "device %s removed\n", args[1])
		return 0
	default:
		fmt.Fprintf(stderr, "wishcast: unknown device command %q (list, add, remove)\n", args[0])
		return 2
	}
}

// fakecam serves the demo camera alone until ctx ends.
func fakecam(ctx context.Context, cfg Config, log *slog.Logger) int {
	cam, err := democam.New(democam.Options{Addr: cfg.Camera.DemoAddr, Log: log})
	if err != nil {
		log.Error("demo camera", "err", err)
		return 1
	}
	if err := cam.Start(); err != nil {
		log.Error("demo camera", "err", err)
		return 1
	}
	log.Info("demo camera serving", "url", cam.URL())
	<-ctx.Done()
	cam.Close()
	return 0
}
