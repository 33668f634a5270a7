package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/wishcast/wishcast/stream"
)

// maxAnswerBytes bounds the answer read from another node.
const maxAnswerBytes = 128 << 10

// relay pulls one stream from the node that holds it, as a WHEP viewer of
// that node, and publishes it to this node's hub: one relay per stream
// per node, however many viewers this node has.
type relay struct {
	n      *Node
	name   string
	holder Holder
	// takeOver, if set, starts the stream on this node once no node holds
	// it (a camera whose holder died) and reports whether it did.
	takeOver func(r *relay) bool
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
}

// startRelay starts pulling name from holder in the background.
func (n *Node) startRelay(name string, holder Holder, takeOver func(*relay) bool) *relay {
	ctx, cancel := context.WithCancel(context.Background())
	r := &relay{n: n, name: name, holder: holder, takeOver: takeOver, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	n.obs.relayIn(1)
	go r.run()
	return r
}

// stop ends the relay and waits for it.
func (r *relay) stop() {
	r.cancel()
	<-r.done
}

// run pulls until the relay is stopped. An upstream end is reported to
// the hub (viewers see the stream end; the hub stops the source once
// nobody watches); while viewers stay, the relay follows the stream to
// the node that holds it next, or takes it over (see takeOver).
func (r *relay) run() {
	defer close(r.done)
	defer r.n.obs.relayIn(-1)
	for {
		err := r.pull()
		if r.ctx.Err() != nil {
			return
		}
		if !errors.Is(err, errRefused) { // that one was a warning already
			r.n.log.Info("relay ended", "stream", r.name, "from", r.holder.Node, "reason", err)
		}
		r.n.hub.SourceFailed(r.name, stream.Ended(fmt.Errorf("the stream ended on node %s: %w", r.holder.Node, err)))
		if !r.next() {
			return
		}
	}
}

// next waits until another node holds the stream (true: pull from it),
// or the relay is stopped or this node took the stream over (false).
func (r *relay) next() bool {
	t := time.NewTicker(r.n.cfg.Renew)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return false
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(r.ctx, r.n.cfg.Renew)
		h, ok, err := r.n.dir.Lookup(ctx, r.name)
		cancel()
		switch {
		case err != nil:
		case ok && h.Node != r.n.cfg.NodeID:
			r.holder = h
			return true
		case !ok && r.takeOver != nil && r.takeOver(r):
			return false
		}
	}
}

// pull runs one WHEP session against the holder and forwards its media.
func (r *relay) pull() error {
	pc, err := r.n.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("new peer connection: %w", err)
	}
	var location string
	defer func() {
		_ = pc.Close()
		if location != "" {
			r.hangUp(location)
		}
	}()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return fmt.Errorf("add transceiver: %w", err)
		}
	}
	arrived := make(chan *webrtc.TrackRemote, 4)
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { arrived <- t })
	failed := make(chan struct{})
	var failOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			failOnce.Do(func() { close(failed) })
		}
	})

	ctx, cancel := context.WithTimeout(r.ctx, r.n.setupTimeout)
	defer cancel()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fmt.Errorf("gather candidates: %w", ctx.Err())
	}
	answer, loc, err := r.post(ctx, pc.LocalDescription().SDP)
	if err != nil {
		return err
	}
	location = loc
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("set remote description: %w", err)
	}
	want, err := sendingKinds(answer)
	if err != nil {
		return err
	}
	tracks := map[webrtc.RTPCodecType]*webrtc.TrackRemote{}
	for len(tracks) < want {
		select {
		case t := <-arrived:
			tracks[t.Kind()] = t
		case <-failed:
			return errors.New("the connection to the node failed")
		case <-ctx.Done():
			return fmt.Errorf("wait for the node's media: %w", ctx.Err())
		}
	}
	var infos []stream.TrackInfo
	for _, t := range tracks {
		c := t.Codec()
		info := stream.TrackInfo{Kind: stream.Audio, Codec: stream.Codec{MimeType: c.MimeType, ClockRate: c.ClockRate, Channels: c.Channels, Fmtp: c.SDPFmtpLine}}
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			info.Kind = stream.Video
			ssrc := uint32(t.SSRC())
			info.RequestKeyframe = func() {
				if err := pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
					r.n.log.Debug("relay: send PLI", "stream", r.name, "err", err)
				}
			}
		}
		infos = append(infos, info)
	}
	pub, err := r.n.hub.Publish(r.name, infos)
	if err != nil {
		return fmt.Errorf("publish the relayed stream: %w", err)
	}
	var readers sync.WaitGroup
	ended := make(chan struct{}, len(tracks))
	for _, t := range tracks {
		track := pub.Track(stream.Audio)
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			track = pub.Track(stream.Video)
		}
		readers.Go(func() {
			defer func() { ended <- struct{}{} }()
			for {
				pkt, _, err := t.ReadRTP()
				if err != nil {
					r.n.log.Debug("relay: track ended", "stream", r.name, "kind", t.Kind(), "err", err)
					return
				}
				track.Write(pkt)
			}
		})
	}
	err = r.watch(failed, ended)
	_ = pc.Close()
	readers.Wait()
	pub.Close()
	return err
}

// watch returns when the relay must end: stopped, the connection failed,
// a track ended, or the directory no longer names the holder.
func (r *relay) watch(failed, ended <-chan struct{}) error {
	defer r.n.dir.watchHolder(r.name)()
	after := r.n.dir.holdersGen()
	t := time.NewTicker(r.n.cfg.Renew / 2)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-failed:
			return errors.New("the connection to the node failed")
		case <-ended:
			return errors.New("the node ended the stream")
		case <-t.C:
		}
		if node, known := r.n.dir.holderOf(r.name, after); known && node != r.holder.Node {
			return errors.New("the node no longer holds the stream")
		}
	}
}

// post sends the offer to the holder's WHEP endpoint and returns the
// answer and the session's absolute URL.
func (r *relay) post(ctx context.Context, offer string) (answer, location string, err error) {
	target := r.holder.URL + "/whep/" + r.name
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(offer))
	if err != nil {
		return "", "", fmt.Errorf("whep request: %w", err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	if err := r.n.sign.sign(req, time.Now()); err != nil {
		return "", "", err
	}
	resp, err := r.n.client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("whep request to node %s: %w", r.holder.Node, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return "", "", fmt.Errorf("read the node's answer: %w", err)
	}
	if r.n.refusedBy(r.holder.Node, resp) {
		return "", "", fmt.Errorf("node %s: %w", r.holder.Node, errRefused)
	}
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("node %s answered %s: %s", r.holder.Node, resp.Status, strings.TrimSpace(string(body)))
	}
	loc, err := resp.Location()
	if err != nil {
		return "", "", fmt.Errorf("the node's answer has no Location: %w", err)
	}
	return string(body), loc.String(), nil
}

// hangUp ends the session on the holder (best effort: the holder also
// ends it when the connection goes).
func (r *relay) hangUp(location string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	u, err := url.Parse(location)
	if err != nil {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u.String(), nil)
	if err != nil {
		return
	}
	if err := r.n.sign.sign(req, time.Now()); err != nil {
		return
	}
	resp, err := r.n.client.Do(req)
	if err != nil {
		r.n.log.Debug("relay: end the session on the node", "stream", r.name, "err", err)
		return
	}
	r.n.refusedBy(r.holder.Node, resp)
	_ = resp.Body.Close()
}

// sendingKinds counts the media sections of an answer that send media.
func sendingKinds(answer string) (int, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(answer); err != nil {
		return 0, fmt.Errorf("parse the node's answer: %w", err)
	}
	n := 0
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue
		}
		if _, ok := m.Attribute("sendonly"); ok {
			n++
		} else if _, ok := m.Attribute("sendrecv"); ok {
			n++
		}
	}
	if n == 0 {
		return 0, errors.New("the node's answer sends no media")
	}
	return n, nil
}
