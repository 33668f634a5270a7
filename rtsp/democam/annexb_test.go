package democam

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestSplitAnnexB(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want [][]byte
		err  error
	}{
		{"empty", nil, nil, errNoStartCode},
		{"no start code", []byte{9, 0x10, 0x67}, nil, errNoStartCode},
		{"garbage first", []byte{1, 0, 0, 1, 9}, nil, errLeadingGarbage},
		{"3-byte", []byte{0, 0, 1, 9, 0x10}, [][]byte{{9, 0x10}}, nil},
		{"4-byte", []byte{0, 0, 0, 1, 9, 0x10}, [][]byte{{9, 0x10}}, nil},
		{"mixed", []byte{0, 0, 0, 1, 9, 0x10, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x65, 7},
			[][]byte{{9, 0x10}, {0x67, 1, 2}, {0x65, 7}}, nil},
		{"trailing zeros", []byte{0, 0, 1, 0x41, 5, 0, 0, 0, 0, 0, 1, 0x41, 6, 0, 0},
			[][]byte{{0x41, 5}, {0x41, 6}}, nil},
		{"empty units", []byte{0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0x41, 0, 0, 1},
			[][]byte{{0x41}}, nil},
		{"start code only", []byte{0, 0, 1}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitAnnexB(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGroupAccessUnits(t *testing.T) {
	aud, sps, pps, idr, p := []byte{9, 0x10}, []byte{0x67}, []byte{0x68}, []byte{0x65}, []byte{0x41}
	got := groupAccessUnits([][]byte{sps, aud, sps, pps, idr, aud, p, aud, p})
	want := [][][]byte{{sps}, {aud, sps, pps, idr}, {aud, p}, {aud, p}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := groupAccessUnits(nil); got != nil {
		t.Fatalf("nil input: got %v", got)
	}
}

func TestEmbeddedH264(t *testing.T) {
	aus, err := parseAnnexB(clipH264)
	if err != nil {
		t.Fatal(err)
	}
	if len(aus) != 200 {
		t.Errorf("%d access units, want 200 (8 s at 25 fps)", len(aus))
	}
	idrs := 0
	for i, au := range aus {
		if naluType(au[0]) != naluAUD {
			t.Fatalf("access unit %d starts with NAL type %d, not an AUD", i, naluType(au[0]))
		}
		types := map[int]bool{}
		for _, n := range au {
			types[naluType(n)] = true
		}
		if types[naluIDR] {
			idrs++
			if !types[naluSPS] || !types[naluPPS] {
				t.Errorf("IDR access unit %d lacks SPS or PPS", i)
			}
			if i%50 != 0 {
				t.Errorf("IDR at frame %d, want every 50", i)
			}
		}
	}
	if idrs != 4 {
		t.Errorf("%d IDRs, want 4", idrs)
	}
}

// FuzzAnnexB checks that any input parses without panicking into NAL units
// that hold no start code and do not end in a zero byte, and that writing
// them back out parses to the same units.
func FuzzAnnexB(f *testing.F) {
	f.Add(clipH264[:2000])
	f.Add([]byte{0, 0, 0, 1, 9, 0x10, 0, 0, 1, 0x65, 0x88, 0, 0, 0})
	f.Add([]byte{0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		aus, err := parseAnnexB(b)
		if err != nil {
			if aus != nil {
				t.Fatal("units returned with an error")
			}
			return
		}
		var nalus [][]byte
		for i, au := range aus {
			if len(au) == 0 {
				t.Fatal("empty access unit")
			}
			if i > 0 && naluType(au[0]) != naluAUD {
				t.Fatal("access unit after the first does not start with an AUD")
			}
			nalus = append(nalus, au...)
		}
		var out []byte
		for _, n := range nalus {
			if len(n) == 0 || n[len(n)-1] == 0 || bytes.Contains(n, startCode) {
				t.Fatalf("bad NAL unit %x", n)
			}
			out = append(out, 0, 0, 0, 1)
			out = append(out, n...)
		}
		again, err := splitAnnexB(out)
		if len(nalus) > 0 && (err != nil || !reflect.DeepEqual(again, nalus)) {
			t.Fatalf("round trip: %v, %x != %x", err, again, nalus)
		}
	})
}
