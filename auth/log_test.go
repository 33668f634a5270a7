package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestSecretsNotLogged runs every operation that handles a password or
// token, including failures, and checks none of them reaches the log (the
// generated first-admin password is the one, deliberate, exception).
func TestSecretsNotLogged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		cfg := testConfig()
		cfg.AdminPassword = "configured-admin-secret"
		s, log := db.openLogged(t, cfg)
		ctx := context.Background()
		secrets := []string{cfg.AdminPassword}

		pw := "ivy-secret-password"
		if _, err := s.CreateUser(ctx, NewUser{Name: "ivy", Password: pw}); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, pw)
		_, sess, err := s.Login(ctx, "ivy", pw, "192.0.2.3")
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, sess, strings.TrimPrefix(sess, SessionPrefix))
		_, _, _ = s.Login(ctx, "ivy", "ivy-wrong-password", "192.0.2.3")
		_, _, _ = s.Login(ctx, "nobody", "nobody-wrong-password", "192.0.2.3")
		secrets = append(secrets, "ivy-wrong-password", "nobody-wrong-password")
		_, key, err := s.CreateToken(ctx, "ivy", Scope{Action: ActionPublish, Stream: "users/ivy"}, "obs", 0)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, key, strings.TrimPrefix(key, KeyPrefix))
		for _, tok := range []string{sess, key} {
			if _, err := s.Authenticate(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetPassword(ctx, "ivy", "ivy-new-password"); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, "ivy-new-password")
		// An unreadable stored hash is logged as an error, without the attempt.
		rawExec(t, s, "UPDATE users SET password_hash = '$argon2id$junk' WHERE name = 'ivy'")
		if _, _, err := s.Login(ctx, "ivy", "ivy-attempt-on-junk", ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("junk hash: %v", err)
		}
		secrets = append(secrets, "ivy-attempt-on-junk")
		cam := Device{Name: "cam", URL: "rtsp://user:camera-secret@192.0.2.10/live"}
		s.log.Info("device", "device", cam) // as the catalogue would
		secrets = append(secrets, "camera-secret")
		_ = s.Logout(ctx, sess)

		out := log.String()
		if !strings.Contains(out, "unreadable") {
			t.Errorf("the log capture is not working: %q", out)
		}
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Errorf("the log contains the secret %q:\n%s", sec, out)
			}
		}
	})
}
