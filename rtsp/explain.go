package rtsp

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// errNothingPlayable: the camera sends no track a browser can play.
var errNothingPlayable = errors.New("the camera offers nothing browsers can play")

// explain turns why a camera could not be played into a sentence for its
// viewers, who can act on "the camera refused the password" but not on
// "DESCRIBE: bad status code: 401". The raw error stays for admins: the
// device status and the log carry it.
func explain(err error) string {
	var bad liberrors.ErrClientBadStatusCode
	var dns *net.DNSError
	switch {
	case errors.As(err, &bad) && bad.Code == base.StatusUnauthorized:
		return "it refused the user name or password wishcast has for it"
	case errors.As(err, &bad) && bad.Code == base.StatusForbidden:
		return "it refused to let wishcast watch"
	case errors.As(err, &bad) && bad.Code == base.StatusNotFound:
		return "it has no stream at the address wishcast has for it (check the path)"
	case errors.As(err, &bad):
		return "it answered with an error (RTSP " + strconv.Itoa(int(bad.Code)) + ")"
	case errors.Is(err, errNothingPlayable):
		return "it sends only formats browsers cannot play"
	case errors.Is(err, ErrNetworkRefused):
		return "its address is outside the networks cameras may be on"
	case errors.Is(err, errRedirect):
		return "it redirected wishcast somewhere it will not follow"
	case errors.As(err, &dns):
		return "its host name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "it does not answer (is it on, and reachable from the server?)"
	}
	return "the connection to it failed"
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
