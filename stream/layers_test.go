package stream

import (
	"context"
	"strings"
	"testing"
	"time"
)

// layerInfos are the video TrackInfos of a simulcast publisher with the
// given rids, each with its keyframe counter.
func layerInfos(kfs []*kfCounter, rids ...string) []TrackInfo {
	var out []TrackInfo
	for i, rid := range rids {
		info := videoInfo(vp8Codec, kfs[i])
		info.Layer = rid
		out = append(out, info)
	}
	return out
}

func counters(n int) []*kfCounter {
	out := make([]*kfCounter, n)
	for i := range out {
		out[i] = &kfCounter{}
	}
	return out
}

// Publish takes one video track or up to MaxLayers layers of one codec,
// and keeps them in the publisher's order after the audio.
func TestPublishLayers(t *testing.T) {
	h := newTestHub(t, Config{})
	kfs := counters(3)
	p, err := h.Publish("live/sim", append(layerInfos(kfs, "f", "h", "q"), audioInfo()))
	if err != nil {
		t.Fatal(err)
	}
	lease, err := h.Acquire(context.Background(), "live/sim")
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	var rids []string
	for _, l := range lease.Layers() {
		rids = append(rids, l.Layer())
	}
	if strings.Join(rids, ",") != "f,h,q" {
		t.Fatalf("layers %v, want f,h,q", rids)
	}
	if tr := lease.Tracks(); len(tr) != 2 || tr[0].Kind() != Audio || tr[1] != p.Layer("f") || p.Track(Video) != p.Layer("f") {
		t.Fatalf("tracks per kind: %v", tr)
	}
	for name, tracks := range map[string][]TrackInfo{
		"two layers named alike":    layerInfos(counters(2), "a", "a"),
		"a layer and a plain video": append(layerInfos(counters(1), "a"), videoInfo(vp8Codec, nil)),
		"five layers":               layerInfos(counters(5), "a", "b", "c", "d", "e"),
		"layers of two codecs":      {{Kind: Video, Codec: vp8Codec, Layer: "a"}, {Kind: Video, Codec: h264Codec, Layer: "b"}},
		"audio with a layer":        {{Kind: Audio, Codec: opusCodec, Layer: "a"}},
	} {
		if _, err := h.Publish("live/bad", tracks); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	// A publisher coming back with the same layers continues their tracks.
	f := p.Layer("f")
	p.Close()
	p2, err := h.Publish("live/sim", layerInfos(counters(3), "q", "h", "f"))
	if err != nil {
		t.Fatal(err)
	}
	if p2.Layer("f") != f {
		t.Fatal("layer f not reused by the returning publisher")
	}
}

// A viewer moves between layers at the target's keyframe: until then the
// current layer keeps coming, afterwards only the target, with sequence
// numbers continuing; the target was asked for its keyframe, and the
// hub's counters count each packet once.
func TestSwitchLayer(t *testing.T) {
	h := newTestHub(t, Config{KeyframeRequestInterval: time.Hour})
	kfs := counters(2)
	p, err := h.Publish("live/sim", layerInfos(kfs, "hi", "lo"))
	if err != nil {
		t.Fatal(err)
	}
	hi, lo := p.Layer("hi"), p.Layer("lo")
	write := func(tr *Track, key bool, mark uint16) {
		pk := interPkt(mark, uint32(mark)*3000)
		if key {
			pk = keyPkt(mark, uint32(mark)*3000)
		}
		tr.Write(pk)
	}
	write(hi, true, 100) // a keyframe in the cache of hi
	sink := &recSink{}
	sub := SubscribeLayers([]*Track{hi, lo}, 0, sink)
	defer sub.Close()
	waitFor(t, "the cached keyframe", func() bool { return sink.n.Load() == 1 })
	if kfs[0].n.Load() != 0 {
		t.Fatal("a join from the cache asked for a keyframe")
	}

	sub.SwitchLayer(1)
	if cur, pend := sub.Layer(); cur != 0 || pend != 1 {
		t.Fatalf("after SwitchLayer(1): current %d, pending %d", cur, pend)
	}
	waitFor(t, "lo to be asked for a keyframe", func() bool { return kfs[1].n.Load() == 1 })
	write(lo, false, 200) // lo without a keyframe yet: not forwarded
	write(hi, false, 101) // hi goes on meanwhile
	waitFor(t, "hi's inter frame", func() bool { return sink.n.Load() == 2 })
	write(lo, true, 201) // lo's keyframe: the switch
	write(hi, false, 102)
	write(lo, false, 202)
	waitFor(t, "lo's frames", func() bool { return sink.n.Load() == 4 })
	if cur, pend := sub.Layer(); cur != 1 || pend != -1 || sub.Switches() != 1 {
		t.Fatalf("after lo's keyframe: current %d, pending %d, %d switches", cur, pend, sub.Switches())
	}
	gs := sink.got()
	marks := []uint32{100, 101, 201, 202}
	for i, g := range gs {
		if g.mark != marks[i] {
			t.Fatalf("packet %d is %d, want %d (all: %+v)", i, g.mark, marks[i], gs)
		}
		if i > 0 && g.seq != gs[i-1].seq+1 {
			t.Fatalf("sequence jumps from %d to %d at packet %d", gs[i-1].seq, g.seq, i)
		}
		if i > 0 && g.ts == gs[i-1].ts && gs[i-1].mark != marks[i]-1 {
			t.Fatalf("timestamp did not advance across the switch at packet %d", i)
		}
	}
	if !gs[2].vp8Key {
		t.Fatal("the first packet of the new layer is not its keyframe")
	}
	if hi.subscribers() != 0 || lo.subscribers() != 1 {
		t.Fatalf("subscribers: hi %d, lo %d; want 0 and 1", hi.subscribers(), lo.subscribers())
	}
	sub.Close()
	if tot := h.Totals(); tot.PacketsOut != 4 {
		t.Fatalf("the hub counts %d packets out, the viewer got 4", tot.PacketsOut)
	}
}

// A pending switch is cancelled by switching back, and replaced by
// another target; the layers it no longer waits for drop the viewer.
func TestSwitchLayerCancelled(t *testing.T) {
	h := newTestHub(t, Config{})
	p, err := h.Publish("live/sim", layerInfos(counters(3), "a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := p.Layer("a"), p.Layer("b"), p.Layer("c")
	sub := SubscribeLayers([]*Track{a, b, c}, 0, &recSink{})
	defer sub.Close()
	sub.SwitchLayer(1)
	sub.SwitchLayer(2)
	if b.subscribers() != 0 || c.subscribers() != 1 {
		t.Fatalf("a new target: b has %d subscribers, c %d", b.subscribers(), c.subscribers())
	}
	sub.SwitchLayer(0)
	if cur, pend := sub.Layer(); cur != 0 || pend != -1 || c.subscribers() != 0 || a.subscribers() != 1 {
		t.Fatalf("switching back: current %d, pending %d, c %d subscribers", cur, pend, c.subscribers())
	}
	sub.SwitchLayer(7) // out of range: nothing
	sub.Close()
	if a.subscribers()+b.subscribers()+c.subscribers() != 0 {
		t.Fatal("a closed subscription is still subscribed")
	}
}
