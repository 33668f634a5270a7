package main

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// simLayer is one encoding a simulcastPublisher sends: its rid, picture
// size and payload size per 20 ms frame (which sets its bitrate: 400
// bytes are 160 kbit/s), sent in packets of at most 1000 bytes.
type simLayer struct {
	rid           string
	width, height int
	size          int
}

// packets splits a frame of the layer: the first packet starts it (a
// keyframe's carries the size), the last has the marker bit.
func (l simLayer) packets(index int, key bool, n int) [][]byte {
	var out [][]byte
	for left := l.size; left > 0; left -= 1000 {
		size := min(left, 1000)
		if len(out) == 0 {
			out = append(out, simFrame(simLayer{l.rid, l.width, l.height, max(size, 13)}, index, key, n))
			continue
		}
		p := make([]byte, max(size, 13))
		p[12] = byte(index)
		out = append(out, p) // descriptor 0: a continuation
	}
	return out
}

// simulcastPublisher sends synthetic VP8 video in several encodings (rid
// header extension, as browsers and OBS send simulcast), each frame
// marked with its layer (byte 12), a keyframe every gop frames and on a PLI for
// that encoding's SSRC.
type simulcastPublisher struct {
	*peer
	layers []simLayer
	tracks []*webrtc.TrackLocalStaticRTP
	plis   []atomic.Int64
	force  []atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// simFrame is a one-packet VP8 frame of a layer: key or inter, with the
// layer's size in a keyframe's header, the layer index in byte 12 and a
// counter in the last byte.
func simFrame(l simLayer, index int, key bool, n int) []byte {
	p := make([]byte, l.size)
	p[0] = 0x10
	if key {
		p[1] = 0x00
		copy(p[4:], []byte{0x9d, 0x01, 0x2a, byte(l.width), byte(l.width >> 8), byte(l.height), byte(l.height >> 8)})
	} else {
		p[1] = 0x01
	}
	p[12] = byte(index)
	p[len(p)-1] = byte(n)
	return p
}

// simLayerOf returns the layer index a simFrame carries.
func simLayerOf(p *rtp.Packet) int {
	if len(p.Payload) < 13 {
		return -1
	}
	return int(p.Payload[12])
}

// startSimulcastPublisher publishes name in the given layers, audio
// first (as OBS does). With obsShape, the offer is made to look like
// OBS's: no a=ssrc line in the video section, so layers are known by
// their rid header extension only.
func startSimulcastPublisher(t *testing.T, ts *testServer, name string, layers []simLayer, obsShape bool) *simulcastPublisher {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	p := &simulcastPublisher{layers: layers, plis: make([]atomic.Int64, len(layers)), force: make([]atomic.Bool, len(layers)), stop: make(chan struct{})}
	audio, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	if _, err := pc.AddTransceiverFromTrack(audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	var sender *webrtc.RTPSender
	for i, l := range layers {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "pub", webrtc.WithRTPStreamID(l.rid))
		if err != nil {
			t.Fatal(err)
		}
		p.tracks = append(p.tracks, tr)
		if i == 0 {
			tc, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
			if err != nil {
				t.Fatal(err)
			}
			sender = tc.Sender()
		} else if err := sender.AddEncoding(tr); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, pk := range pkts {
				pli, ok := pk.(*rtcp.PictureLossIndication)
				if !ok {
					continue
				}
				for i, enc := range sender.GetParameters().Encodings {
					if uint32(enc.SSRC) == pli.MediaSSRC {
						p.plis[i].Add(1)
						p.force[i].Store(true)
					}
				}
			}
		}
	}()
	offer := offerFor(t, pc)
	if obsShape {
		// libdatachannel, under OBS's WHIP output, writes no a=ssrc line
		// in a section that has rids (conformance C48).
		var b strings.Builder
		video := false
		for line := range strings.SplitSeq(offer, "\r\n") {
			video = video || strings.HasPrefix(line, "m=video")
			if line != "" && !(video && strings.HasPrefix(line, "a=ssrc")) {
				b.WriteString(line + "\r\n")
			}
		}
		offer = b.String()
	}
	resp, body := do(t, "POST", ts.URL+"/whip/"+name, offer, "Content-Type", "application/sdp")
	p.peer = answered(t, pc, ts.URL+"/whip/"+name, resp, body)
	// pion does not write the mid and rid header extensions itself; a
	// browser or OBS does, on every packet of a simulcast encoding.
	midID, ridID := extmapID(t, p.answer, "urn:ietf:params:rtp-hdrext:sdes:mid"), extmapID(t, p.answer, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id")
	p.wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		seq := make([]uint16, len(layers))
		for n := 0; ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			for i, l := range layers {
				key := n%60 == 0 || p.force[i].Swap(false)
				pkts := l.packets(i, key, n)
				for j, payload := range pkts {
					seq[i]++
					h := rtp.Header{Version: 2, Marker: j == len(pkts)-1, SequenceNumber: seq[i], Timestamp: uint32(n * 1800)}
					_ = h.SetExtension(midID, []byte("1"))
					_ = h.SetExtension(ridID, []byte(l.rid))
					_ = p.tracks[i].WriteRTP(&rtp.Packet{Header: h, Payload: payload})
				}
			}
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: uint32(n * 960)}, Payload: []byte{0xfc, 0xff, 0xfe}})
		}
	})
	t.Cleanup(p.Stop)
	return p
}

// extmapID returns the id an SDP's video section gives the header
// extension uri.
func extmapID(t *testing.T, sdp, uri string) uint8 {
	t.Helper()
	for line := range strings.SplitSeq(sdp, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=extmap:"); ok && strings.HasSuffix(v, " "+uri) {
			id, _, _ := strings.Cut(v, " ")
			n, err := strconv.Atoi(strings.Split(id, "/")[0])
			if err == nil {
				return uint8(n)
			}
		}
	}
	t.Fatalf("no extmap for %s in\n%s", uri, sdp)
	return 0
}

// Stop ends the send loop.
func (p *simulcastPublisher) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}
