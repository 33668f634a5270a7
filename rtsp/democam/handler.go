package democam

import (
	"math/bits"
	"sync/atomic"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
)

// handler receives gortsplib's server callbacks. It is a type of its own
// so that the callbacks stay out of Server's exported methods.
type handler struct {
	s *Server
}

// counters count the events gortsplib reports per packet; they are logged
// at powers of two only, never per packet.
type counters struct {
	lost         atomic.Uint64 // RTP packets lost by publishers
	decodeErrors atomic.Uint64 // undecodable packets from clients
	writeErrors  atomic.Uint64 // packets a reader's queue could not take
}

// note counts n events and logs when the total reaches a new power of
// two (the first event included).
func (h *handler) note(c *atomic.Uint64, n uint64, msg string, args ...any) {
	total := c.Add(n)
	if bits.Len64(total) != bits.Len64(total-n) {
		h.s.log.Debug(msg, append(args, "total", total)...)
	}
}

func status(code base.StatusCode) *base.Response {
	return &base.Response{StatusCode: code}
}

// OnConnOpen implements gortsplib.ServerHandlerOnConnOpen.
func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.s.log.Debug("rtsp connection opened", "remote", ctx.Conn.NetConn().RemoteAddr().String())
}

// OnConnClose implements gortsplib.ServerHandlerOnConnClose.
func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.s.log.Debug("rtsp connection closed",
		"remote", ctx.Conn.NetConn().RemoteAddr().String(), "reason", ctx.Error)
}

// OnSessionClose implements gortsplib.ServerHandlerOnSessionClose: a
// reader stops counting, a publisher takes its relay down.
func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.s.removeReader(ctx.Session)
	if r := h.s.removeRelay(ctx.Session); r != nil {
		h.s.log.Info("publisher gone", "path", r.path, "reason", ctx.Error)
		r.close()
	}
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	st := h.s.streamFor(ctx.Path)
	if st == nil {
		return status(base.StatusNotFound), nil, nil
	}
	return status(base.StatusOK), st, nil
}

// OnAnnounce implements gortsplib.ServerHandlerOnAnnounce: the client
// becomes the publisher of a relay path.
func (h *handler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	code, err := h.s.addRelay(cleanPath(ctx.Path), ctx.Session, ctx.Description)
	if err != nil {
		h.s.log.Info("announce refused", "path", ctx.Path, "err", err)
	}
	return status(code), err
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	// A publisher sets up the medias it announced: no stream to give.
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return status(base.StatusOK), nil, nil
	}
	st := h.s.streamFor(ctx.Path)
	if st == nil {
		return status(base.StatusNotFound), nil, nil
	}
	return status(base.StatusOK), st, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	if ctx.Session.SetuppedStream() == h.s.demo {
		h.s.addReader(ctx.Session)
	}
	return status(base.StatusOK), nil
}

// OnRecord implements gortsplib.ServerHandlerOnRecord: from now on, the
// publisher's packets go to the readers of its path.
func (h *handler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	r := h.s.relayOf(ctx.Session)
	if r == nil { // replaced by a newer publisher meanwhile
		return status(base.StatusNotFound), nil
	}
	ctx.Session.OnPacketRTPAny(r.forward)
	h.s.log.Info("publishing", "path", r.path)
	return status(base.StatusOK), nil
}

// OnPacketsLost implements gortsplib.ServerHandlerOnPacketsLost.
func (h *handler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	h.note(&h.s.errs.lost, ctx.Lost, "rtp packets lost")
}

// OnDecodeError implements gortsplib.ServerHandlerOnDecodeError.
func (h *handler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	h.note(&h.s.errs.decodeErrors, 1, "rtsp decode error", "err", ctx.Error)
}

// OnStreamWriteError implements gortsplib.ServerHandlerOnStreamWriteError.
func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.note(&h.s.errs.writeErrors, 1, "rtsp reader write error", "err", ctx.Error)
}

// Interface guards.
var (
	_ gortsplib.ServerHandlerOnConnOpen         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnConnClose        = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSessionClose     = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDescribe         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnAnnounce         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSetup            = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPlay             = (*handler)(nil)
	_ gortsplib.ServerHandlerOnRecord           = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPacketsLost      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDecodeError      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnStreamWriteError = (*handler)(nil)
)
