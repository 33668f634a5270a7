package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDevices(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		clk := newFakeClock()
		s.now = clk.Now

		d, err := s.PutDevice(ctx, Device{Name: "lobby", URL: "rtsp://u:p@192.0.2.10:554/stream", Transport: "tcp", AlwaysOn: true})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Created.Equal(clk.Now()) || !d.Updated.Equal(clk.Now()) {
			t.Errorf("times %+v", d)
		}
		if _, err := s.PutDevice(ctx, Device{Name: "door", URL: "rtsps://192.0.2.11/x", Restricted: true, Viewers: []string{"alice", "bob"}, Disabled: true}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		d.Transport = "udp"
		d2, err := s.PutDevice(ctx, d)
		if err != nil || !d2.Created.Equal(d.Created) || !d2.Updated.Equal(clk.Now()) {
			t.Errorf("replace: %+v, %v", d2, err)
		}
		got, err := s.GetDevice(ctx, "lobby")
		if err != nil || got.Transport != "udp" || !got.AlwaysOn || got.URL != d.URL || got.Restricted {
			t.Errorf("GetDevice = %+v, %v", got, err)
		}
		ds, err := s.ListDevices(ctx)
		if err != nil || len(ds) != 2 || ds[0].Name != "door" || !ds[0].Disabled || len(ds[0].Viewers) != 2 {
			t.Fatalf("ListDevices = %+v, %v", ds, err)
		}
		if info := ds[0].StreamInfo(); !info.Restricted || Authorize(pBob, ActionView, "devices/door", info) != nil ||
			Authorize(pCarol, ActionView, "devices/door", info) == nil {
			t.Errorf("device StreamInfo %+v", info)
		}
		if err := s.SetStreamPublic(ctx, "devices/door", true); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteDevice(ctx, "door"); err != nil {
			t.Fatal(err)
		}
		// A camera added later under the name starts private.
		if public, err := s.StreamPublic(ctx, "devices/door"); err != nil || public {
			t.Errorf("a removed camera's stream is still public: %v, %v", public, err)
		}
		if err := s.DeleteDevice(ctx, "door"); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete twice: %v", err)
		}
		if _, err := s.GetDevice(ctx, "door"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted device: %v", err)
		}
		for _, bad := range []Device{
			{Name: ".x", URL: "rtsp://h/x"},
			{Name: "x", URL: "http://h/x"},
			{Name: "x", URL: "rtsp:///x"},
			{Name: "x", URL: "rtsp://h/x", Transport: "sctp"},
			{Name: "x", URL: "rtsp://h/x", Viewers: []string{"a b"}},
		} {
			if _, err := s.PutDevice(ctx, bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("PutDevice(%+v) = %v, want ErrInvalid", bad, err)
			}
		}
		if v := d.LogValue().String(); !strings.Contains(v, "xxxxx") || strings.Contains(v, ":p@") {
			t.Errorf("LogValue does not redact the password: %s", v)
		}
	})
}

// A camera's viewers are matched exactly by Authorize, so the store saves
// the accounts' own spelling of the names an admin typed; a name with no
// account stays as typed.
func TestDeviceViewersSpelling(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		st := db.open(t)
		ctx := t.Context()
		if _, err := st.CreateUser(ctx, NewUser{Name: "alice", Password: "alice's password"}); err != nil {
			t.Fatal(err)
		}
		d, err := st.PutDevice(ctx, Device{Name: "cam", URL: "rtsp://10.0.0.9/s", Restricted: true, Viewers: []string{"ALICE", "Nobody"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.GetDevice(ctx, "cam")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range [][]string{d.Viewers, got.Viewers} {
			if len(v) != 2 || v[0] != "alice" || v[1] != "Nobody" {
				t.Fatalf("viewers saved as %q, want [alice Nobody]", v)
			}
		}
	})
}

func TestCalls(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		ctx := context.Background()
		t0 := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
		for i, c := range []CallRecord{
			{ID: "c1", Caller: "alice", Callee: "bob", Started: t0, Ended: t0.Add(time.Minute), EndReason: "hangup"},
			{ID: "c2", Caller: "bob", Callee: "carol", Started: t0.Add(time.Hour), EndReason: "declined"},
			{ID: "c3", Caller: "Carol", Callee: "alice", Started: t0.Add(2 * time.Hour)},
		} {
			if err := s.AddCallRecord(ctx, c); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if err := s.AddCallRecord(ctx, CallRecord{ID: "c1", Caller: "a", Callee: "b", Started: t0}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate id: %v", err)
		}
		if err := s.AddCallRecord(ctx, CallRecord{ID: "c9", Caller: "a"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("invalid record: %v", err)
		}
		all, err := s.ListCalls(ctx, "", 0)
		if err != nil || len(all) != 3 || all[0].ID != "c3" || all[2].ID != "c1" {
			t.Fatalf("ListCalls all = %+v, %v", all, err)
		}
		if c := all[2]; !c.Started.Equal(t0) || !c.Ended.Equal(t0.Add(time.Minute)) || c.EndReason != "hangup" {
			t.Errorf("record %+v", c)
		}
		if !all[1].Ended.IsZero() {
			t.Errorf("unended call has Ended %v", all[1].Ended)
		}
		carol, err := s.ListCalls(ctx, "carol", 0)
		if err != nil || len(carol) != 2 || carol[0].ID != "c3" || carol[1].ID != "c2" {
			t.Errorf("ListCalls(carol) = %+v, %v", carol, err)
		}
		if one, _ := s.ListCalls(ctx, "alice", 1); len(one) != 1 || one[0].ID != "c3" {
			t.Errorf("limit 1: %+v", one)
		}
	})
}
