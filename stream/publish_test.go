package stream

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestSecondPublisher(t *testing.T) {
	h := newTestHub(t, Config{})
	p1, err := h.Publish("live/a", []TrackInfo{audioInfo()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Publish("live/a", []TrackInfo{audioInfo()}); !errors.Is(err, ErrPublisherExists) {
		t.Fatalf("second Publish: %v, want ErrPublisherExists", err)
	}
	if _, err := h.Publish("live/b", []TrackInfo{audioInfo()}); err != nil {
		t.Fatalf("Publish of another name: %v", err)
	}
	p1.Close()
	p1.Close()
	p2, err := h.Publish("live/a", []TrackInfo{audioInfo()})
	if err != nil {
		t.Fatalf("Publish after Close: %v", err)
	}
	p1.Close() // a stale Close must not free p2's slot
	if _, err := h.Publish("live/a", []TrackInfo{audioInfo()}); !errors.Is(err, ErrPublisherExists) {
		t.Fatalf("Publish after stale Close: %v, want ErrPublisherExists", err)
	}
	p2.Close()
}

func TestPublishRejects(t *testing.T) {
	h := newTestHub(t, Config{})
	if _, err := h.Publish("../x", []TrackInfo{audioInfo()}); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
	for name, tracks := range map[string][]TrackInfo{
		"none":      nil,
		"two audio": {audioInfo(), audioInfo()},
		"bad kind":  {{Kind: 7, Codec: opusCodec}},
	} {
		if _, err := h.Publish("live/a", tracks); err == nil {
			t.Errorf("%s: Publish succeeded", name)
		}
	}
	if n := h.numStreams(); n != 0 {
		t.Fatalf("%d streams left by failed Publish calls", n)
	}
	p, err := h.Publish("live/a", []TrackInfo{videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Track(Audio) != nil || p.Track(Video) == nil || p.Track(0) != nil {
		t.Fatal("Track returns the wrong tracks")
	}
	if k := p.Track(Video).Kind(); k != Video || k.String() != "video" || Audio.String() != "audio" {
		t.Fatalf("Kind %v", k)
	}
	if c := p.Track(Video).Codec(); !c.Equal(Codec{MimeType: "VIDEO/vp8", ClockRate: 90000}) {
		t.Fatalf("Codec %+v", c)
	}
}

// extPkt is p with a header extension and a CSRC.
func extPkt(t *testing.T, p *rtp.Packet) *rtp.Packet {
	t.Helper()
	p.CSRC = []uint32{0xabc}
	if err := p.SetExtension(3, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPublisherChangeKeepsSequenceContinuous(t *testing.T) {
	h := newTestHub(t, Config{OrphanTimeout: 10 * time.Second, KeyframeRequestInterval: time.Hour})
	var kf1, kf2 kfCounter
	p1, err := h.Publish("live/a", []TrackInfo{audioInfo(), videoInfo(vp8Codec, &kf1)})
	if err != nil {
		t.Fatal(err)
	}
	vt, at := p1.Track(Video), p1.Track(Audio)
	vs, as := &recSink{}, &recSink{}
	vsub, asub := vt.Subscribe(vs), at.Subscribe(as)

	// Old publisher: seq 1000..1009, ts 5000 + 3000*i.
	oldBefore := time.Now()
	var last *rtp.Packet
	for i := range 10 {
		p := interPkt(uint16(1000+i), uint32(5000+3000*i))
		if i == 0 {
			p = keyPkt(1000, 5000)
		}
		last = extPkt(t, p)
		vt.Write(last)
		at.Write(extPkt(t, audioPkt(uint16(40000+i), uint32(960*i))))
	}
	oldAfter := time.Now()
	waitFor(t, "old packets", func() bool { return vs.n.Load() == 10 && as.n.Load() == 10 })
	for i, g := range vs.got() {
		if g.seq != uint16(1000+i) || g.ts != uint32(5000+3000*i) {
			t.Fatalf("packet %d rewritten without a publisher change: %+v", i, g)
		}
		if g.ext || g.profile != 0 || g.nExt != 0 {
			t.Fatalf("packet %d kept its header extension: %+v", i, g)
		}
		if len(g.csrc) != 1 || g.csrc[0] != 0xabc {
			t.Fatalf("packet %d lost its CSRC: %+v", i, g)
		}
	}
	if !last.Extension || len(last.Extensions) != 1 {
		t.Fatal("the publisher's packet was modified")
	}

	p1.Close()
	time.Sleep(50 * time.Millisecond) // let wall-clock time pass between publishers
	p2, err := h.Publish("live/a", []TrackInfo{audioInfo(), videoInfo(vp8Codec, &kf2)})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Track(Video) != vt || p2.Track(Audio) != at {
		t.Fatal("tracks with an unchanged codec were not reused")
	}
	if isClosed(vsub.Done()) || isClosed(asub.Done()) {
		t.Fatal("subscriptions ended on a publisher change")
	}
	if kf2.n.Load() != 1 {
		t.Fatalf("new publisher got %d keyframe requests, want 1", kf2.n.Load())
	}

	// New publisher: unrelated seq and ts bases.
	newBefore := time.Now()
	for i := range 5 {
		p := interPkt(uint16(7+i), uint32(123+3000*i))
		if i == 0 {
			p = keyPkt(7, 123)
		}
		vt.Write(extPkt(t, p))
		at.Write(audioPkt(uint16(9+i), uint32(77+960*i)))
	}
	newAfter := time.Now()
	waitFor(t, "new packets", func() bool { return vs.n.Load() == 15 && as.n.Load() == 15 })

	check := func(kind string, gs []got, rate float64, step uint32) {
		t.Helper()
		lastOld := gs[9]
		lo := uint32(newBefore.Sub(oldAfter).Seconds() * rate)
		hi := uint32(newAfter.Sub(oldBefore).Seconds()*rate) + 1
		for i, g := range gs[10:] {
			if want := lastOld.seq + 1 + uint16(i); g.seq != want {
				t.Fatalf("%s: new packet %d has seq %d, want %d", kind, i, g.seq, want)
			}
			if g.ext {
				t.Fatalf("%s: new packet %d kept its extension", kind, i)
			}
			if want := gs[10].ts + step*uint32(i); g.ts != want {
				t.Fatalf("%s: new packet %d has ts %d, want %d", kind, i, g.ts, want)
			}
		}
		if adv := gs[10].ts - lastOld.ts; adv < lo || adv > hi {
			t.Fatalf("%s: timestamp advanced %d across the change, want %d..%d", kind, adv, lo, hi)
		}
	}
	check("video", vs.got(), 90000, 3000)
	check("audio", as.got(), 48000, 960)
	if st := vt.Stats(); st.Epoch != 2 || !st.Live {
		t.Fatalf("video stats %+v", st)
	}
}

func TestCodecChangeEndsSubscriptions(t *testing.T) {
	h := newTestHub(t, Config{OrphanTimeout: 10 * time.Second})
	p1, err := h.Publish("live/a", []TrackInfo{audioInfo(), videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	vt, at := p1.Track(Video), p1.Track(Audio)
	vsub, asub := vt.Subscribe(&recSink{}), at.Subscribe(&recSink{})
	p1.Close()
	p2, err := h.Publish("live/a", []TrackInfo{audioInfo(), videoInfo(h264Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "video subscription to end", func() bool { return isClosed(vsub.Done()) })
	if isClosed(asub.Done()) {
		t.Fatal("audio subscription ended though its codec did not change")
	}
	if p2.Track(Video) == vt || p2.Track(Audio) != at {
		t.Fatal("wrong tracks reused")
	}
	if s := vt.Subscribe(&recSink{}); !isClosed(s.Done()) {
		t.Fatal("the replaced track still accepts subscribers")
	}

	// A kind no longer published ends its subscriptions too.
	p2.Close()
	if _, err := h.Publish("live/a", []TrackInfo{videoInfo(h264Codec, nil)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "audio subscription to end", func() bool { return isClosed(asub.Done()) })

	// So does a change of Fmtp.
	h264b := h264Codec
	h264b.Fmtp = "packetization-mode=0"
	if !h264b.Equal(h264b) || h264b.Equal(h264Codec) {
		t.Fatal("Codec.Equal")
	}
}

func TestOrphanTimeoutEndsSubscriptions(t *testing.T) {
	h := newTestHub(t, Config{OrphanTimeout: 100 * time.Millisecond})
	p, err := h.Publish("live/a", []TrackInfo{audioInfo(), videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	asub := p.Track(Audio).Subscribe(&recSink{})
	vsub := p.Track(Video).Subscribe(&recSink{})
	p.Close()
	if isClosed(asub.Done()) || isClosed(vsub.Done()) {
		t.Fatal("subscriptions ended as soon as the publisher left")
	}
	if h.numStreams() != 1 {
		t.Fatal("orphaned stream forgotten early")
	}
	waitFor(t, "orphan timeout to end subscriptions", func() bool { return isClosed(asub.Done()) && isClosed(vsub.Done()) })
	waitFor(t, "stream to be removed", func() bool { return h.numStreams() == 0 })
	asub.Close()
	vsub.Close()
	if h.numStreams() != 0 {
		t.Fatal("stream came back")
	}
}

// A publisher expected back (a camera being redialled) holds its viewers
// past OrphanTimeout for as long as it asks, and continues their tracks
// when it returns; past the hold they end.
func TestCloseHolding(t *testing.T) {
	h := newTestHub(t, Config{OrphanTimeout: 50 * time.Millisecond})
	p, err := h.Publish("devices/cam", []TrackInfo{videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	vt := p.Track(Video)
	sub := vt.Subscribe(&recSink{})
	p.CloseHolding(time.Hour)
	time.Sleep(200 * time.Millisecond) // four orphan timeouts
	if isClosed(sub.Done()) {
		t.Fatal("the held viewer ended at the orphan timeout")
	}
	p2, err := h.Publish("devices/cam", []TrackInfo{videoInfo(vp8Codec, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Track(Video) != vt {
		t.Fatal("the returning publisher did not continue the held track")
	}
	p2.CloseHolding(100 * time.Millisecond)
	waitFor(t, "the hold to end the viewer", func() bool { return isClosed(sub.Done()) })
}

func TestStreamRemovedWhenUnused(t *testing.T) {
	h := newTestHub(t, Config{OrphanTimeout: time.Hour})
	p, err := h.Publish("live/a", []TrackInfo{audioInfo()})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if n := h.numStreams(); n != 0 {
		t.Fatalf("%d streams after the only publisher left with no viewers", n)
	}

	// With a viewer, the stream waits; when the viewer leaves, it goes.
	p, err = h.Publish("live/a", []TrackInfo{audioInfo()})
	if err != nil {
		t.Fatal(err)
	}
	sub := p.Track(Audio).Subscribe(&recSink{})
	p.Close()
	if n := h.numStreams(); n != 1 {
		t.Fatalf("%d streams while a viewer waits", n)
	}
	sub.Close()
	if n := h.numStreams(); n != 0 {
		t.Fatalf("%d streams after the last viewer left", n)
	}
}
