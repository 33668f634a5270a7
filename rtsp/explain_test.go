package rtsp

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

func TestExplain(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("DESCRIBE: %w", err) }
	for _, c := range []struct {
		err  error
		want string
	}{
		{wrap(liberrors.ErrClientBadStatusCode{Code: base.StatusUnauthorized}), "password"},
		{wrap(liberrors.ErrClientBadStatusCode{Code: base.StatusForbidden}), "refused to let"},
		{wrap(liberrors.ErrClientBadStatusCode{Code: base.StatusNotFound}), "no stream at the address"},
		{wrap(liberrors.ErrClientBadStatusCode{Code: base.StatusInternalServerError}), "RTSP 500"},
		{fmt.Errorf("%w (audio AAC left out)", errNothingPlayable), "formats browsers cannot play"},
		{wrap(fmt.Errorf("%w: 8.8.8.8", ErrNetworkRefused)), "outside the networks"},
		{wrap(&net.DNSError{Err: "no such host", Name: "cam.invalid"}), "does not resolve"},
		{wrap(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), "does not answer"},
		{wrap(context.DeadlineExceeded), "does not answer"},
		{wrap(fmt.Errorf("%w: loop", errRedirect)), "redirected"},
		{fmt.Errorf("something else"), "connection to it failed"},
	} {
		got := explain(c.err)
		if !strings.Contains(got, c.want) {
			t.Errorf("%v: %q, want it to say %q", c.err, got, c.want)
		}
		if strings.Contains(got, "DESCRIBE") || strings.Contains(got, "status code") {
			t.Errorf("%v: %q carries protocol text", c.err, got)
		}
	}
}
