package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/wishcast/wishcast/auth"
)

// openStore opens the account store of DATABASE_URL (or DATA_DIR) for a
// CLI command; it works while servers run (SQLite in WAL mode takes both;
// PostgreSQL tells the servers of what the command revokes).
func openStore(cfg Config, stderr io.Writer) (*auth.Store, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return auth.OpenURL(context.Background(), cfg.storeAddress(), cfg.Auth, log)
}

// readPassword takes a password from the first line of stdin, or makes one
// when stdin has none; generated reports which.
func readPassword(stdin io.Reader) (pw string, generated bool) {
	if stdin != nil {
		line, _ := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
		if pw = strings.TrimRight(line, "\r\n"); pw != "" {
			return pw, false
		}
	}
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]), true
}

// withStore runs a store subcommand (default: list) with the store open,
// turning errors into a message and exit status 1.
func withStore(cfg Config, args []string, stderr io.Writer, sub func(ctx context.Context, st *auth.Store, args []string, fail func(error) int) int) int {
	if len(args) == 0 {
		args = []string{"list"}
	}
	st, err := openStore(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "wishcast:", err)
		return 1
	}
	defer st.Close()
	return sub(context.Background(), st, args, func(err error) int { fmt.Fprintln(stderr, "wishcast:", err); return 1 })
}

// userCmd runs "wishcast user list|add|passwd|disable|enable".
func userCmd(cfg Config, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return withStore(cfg, args, stderr, func(ctx context.Context, st *auth.Store, args []string, fail func(error) int) int {
		return userSub(ctx, st, args, fail, stdin, stdout, stderr)
	})
}

func userSub(ctx context.Context, st *auth.Store, args []string, fail func(error) int, stdin io.Reader, stdout, stderr io.Writer) int {
	switch args[0] {
	case "list":
		users, err := st.ListUsers(ctx)
		if err != nil {
			return fail(err)
		}
		for _, u := range users {
			state := "enabled"
			if u.Disabled {
				state = "disabled"
			}
			seen := "never"
			if !u.LastSeen.IsZero() {
				seen = u.LastSeen.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%-20s %-6s %-8s last seen %s  %s\n", u.Name, u.Role, state, seen, u.DisplayName)
		}
		return 0
	case "add":
		fs := flag.NewFlagSet("user add", flag.ContinueOnError)
		fs.SetOutput(stderr)
		admin := fs.Bool("admin", false, "make the user an admin")
		display := fs.String("display", "", "display name")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: wishcast user add [-admin] [-display NAME] NAME   (password on stdin, or generated)")
			return 2
		}
		pw, generated := readPassword(stdin)
		role := auth.RoleUser
		if *admin {
			role = auth.RoleAdmin
		}
		u, err := st.CreateUser(ctx, auth.NewUser{Name: fs.Arg(0), DisplayName: *display, Password: pw, Role: role})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "user %s created (%s)\n", u.Name, u.Role)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return 0
	case "passwd":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: wishcast user passwd NAME   (new password on stdin, or generated)")
			return 2
		}
		pw, generated := readPassword(stdin)
		if err := st.SetPassword(ctx, args[1], pw); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "password of %s changed; their sign-in sessions ended\n", args[1])
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return 0
	case "disable", "enable":
		if len(args) != 2 {
			fmt.Fprintf(stderr, "usage: wishcast user %s NAME\n", args[0])
			return 2
		}
		off := args[0] == "disable"
		if _, err := st.UpdateUser(ctx, args[1], auth.UserUpdate{Disabled: &off}); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "user %s %sd\n", args[1], args[0])
		return 0
	default:
		fmt.Fprintf(stderr, "wishcast: unknown user command %q (list, add, passwd, disable, enable)\n", args[0])
		return 2
	}
}

// tokenCmd runs "wishcast token create|list|revoke" for publish keys.
func tokenCmd(cfg Config, args []string, stdout, stderr io.Writer) int {
	return withStore(cfg, args, stderr, func(ctx context.Context, st *auth.Store, args []string, fail func(error) int) int {
		return tokenSub(ctx, st, args, fail, stdout, stderr)
	})
}

func tokenSub(ctx context.Context, st *auth.Store, args []string, fail func(error) int, stdout, stderr io.Writer) int {
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("token create", flag.ContinueOnError)
		fs.SetOutput(stderr)
		owner := fs.String("owner", "admin", "user the key belongs to")
		publish := fs.String("publish", "", "stream (or prefix ending in /) the key may publish")
		view := fs.String("view", "", "stream (or prefix ending in /) the key may view")
		label := fs.String("label", "", "a note, such as \"OBS in the studio\"")
		ttl := fs.Duration("ttl", 0, "lifetime (0: until revoked)")
		if err := fs.Parse(args[1:]); err != nil || (*publish == "") == (*view == "") {
			fmt.Fprintln(stderr, "usage: wishcast token create [-owner USER] (-publish STREAM | -view STREAM) [-label TEXT] [-ttl DURATION]")
			return 2
		}
		scope := auth.Scope{Action: auth.ActionPublish, Stream: *publish}
		if *view != "" {
			scope = auth.Scope{Action: auth.ActionView, Stream: *view}
		}
		tok, key, err := st.CreateToken(ctx, *owner, scope, *label, *ttl)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "key %s (%s) for %s; shown only now:\n%s\n", tok.ID, scope, tok.Owner, key)
		return 0
	case "list":
		owner := ""
		if len(args) > 1 {
			owner = args[1]
		}
		toks, err := st.ListTokens(ctx, owner)
		if err != nil {
			return fail(err)
		}
		for _, t := range toks {
			exp := "never"
			if !t.Expires.IsZero() {
				exp = t.Expires.Format(time.RFC3339)
			}
			what := t.Scope.String()
			if t.Kind == auth.PrincipalSession {
				what = "sign-in from " + t.ClientAddr
			}
			fmt.Fprintf(stdout, "%-24s %-8s %-12s %-30s expires %s  %s\n", t.ID, t.Kind, t.Owner, what, exp, t.Label)
		}
		return 0
	case "revoke":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: wishcast token revoke ID")
			return 2
		}
		if err := st.RevokeToken(ctx, args[1]); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "token %s revoked\n", args[1])
		return 0
	default:
		fmt.Fprintf(stderr, "wishcast: unknown token command %q (create, list, revoke)\n", args[0])
		return 2
	}
}
