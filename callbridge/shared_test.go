package callbridge

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wishcast/wishcast/auth"
	"github.com/wishcast/wishcast/stream"
)

// The changes other nodes make to a call reach the pages here once each
// and in order, however often and in whatever order they come: a change
// heard twice, an older one after a newer, or any after the end, change
// nothing. The call's end is in the history before bob's page hears of
// it, though another node ended it.
func TestSharedChangesApplyOnceInOrder(t *testing.T) {
	b := bareBridge(Config{})
	b.gone, b.sessions = map[string]time.Time{}, noSessions{}
	st, err := auth.Open(t.Context(), filepath.Join(t.TempDir(), "wishcast.db"),
		auth.Config{AdminPassword: "admin password", PasswordTime: 1, PasswordMemory: 8192}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	b.store = st
	b.hub = stream.NewHub(stream.Config{}, slog.New(slog.DiscardHandler))
	t.Cleanup(b.hub.Close)
	f, _, _, err := b.subscribe("bob", "t1", 0)
	if err != nil {
		t.Fatal(err)
	}
	<-f.ch // bob's own presence event
	heard := func() []string {
		var out []string
		for {
			select {
			case e := <-f.ch:
				out = append(out, e.typ)
			default:
				return out
			}
		}
	}
	c := Call{ID: "c1", Caller: "alice", Callee: "bob", State: StateRinging, Created: time.Now()}
	ringing := SharedCall{Call: c, Version: 1}
	b.CallChanged(ringing, false)
	b.CallChanged(ringing, false)
	if got := heard(); len(got) != 1 || got[0] != "call-incoming" {
		t.Fatalf("a ringing call heard twice: bob's page got %v", got)
	}
	active := ringing
	active.State, active.Answered, active.Version = StateActive, time.Now(), 2
	b.CallChanged(active, false)
	b.CallChanged(ringing, false)
	if got := heard(); len(got) != 1 || got[0] != "call-accepted" {
		t.Fatalf("answered, then the older ringing: bob's page got %v", got)
	}
	if cur := b.Current("bob"); len(cur) != 1 || cur[0].State != StateActive {
		t.Fatalf("bob's calls: %+v", cur)
	}
	ended := active
	ended.State, ended.EndReason, ended.Version = StateEnded, EndHangup, 3
	b.CallChanged(ended, false)
	b.CallChanged(active, false)
	b.CallChanged(ended, false)
	if got := heard(); len(got) != 1 || got[0] != "call-ended" {
		t.Fatalf("ended, then the older answer: bob's page got %v", got)
	}
	if cur := b.Current("bob"); len(cur) != 0 || b.CallsKnown() != 0 {
		t.Fatalf("bob's calls after the end: %+v (%d known)", cur, b.CallsKnown())
	}
	if h, err := st.ListCalls(t.Context(), "bob", 0); err != nil || len(h) != 1 || h[0].EndReason != EndHangup {
		t.Fatalf("bob's history once his page heard call-ended: %+v %v", h, err)
	}
	// The store no longer has it, nor does anyone ring: a repair with an
	// empty table changes nothing more.
	b.RepairCalls(nil)
	if got := heard(); len(got) != 0 {
		t.Fatalf("a repair after the end: bob's page got %v", got)
	}
}
