package democam

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// oggPage builds one Ogg page with a valid checksum. lacing is the segment
// table; data must be as long as its sum.
func oggPage(flags byte, serial, seq uint32, lacing []byte, data []byte) []byte {
	p := make([]byte, oggHeaderLen, oggHeaderLen+len(lacing)+len(data))
	copy(p, "OggS")
	p[5] = flags
	binary.LittleEndian.PutUint32(p[14:], serial)
	binary.LittleEndian.PutUint32(p[18:], seq)
	p[26] = byte(len(lacing))
	p = append(p, lacing...)
	p = append(p, data...)
	binary.LittleEndian.PutUint32(p[22:], oggCRC(0, p))
	return p
}

// lace returns the lacing values of a packet of n bytes that ends on this
// page.
func lace(n int) []byte {
	l := bytes.Repeat([]byte{255}, n/255)
	return append(l, byte(n%255))
}

func TestOggCRC(t *testing.T) {
	// The Ogg CRC is CRC-32/CKSUM (check value 0x765e7680) without its
	// final XOR: ^0x765e7680 = 0x89a1897f.
	if got := oggCRC(0, []byte("123456789")); got != 0x89a1897f {
		t.Fatalf("crc = %#x", got)
	}
}

func TestOggPackets(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 600) // 255+255+90: three segments
	head := oggPage(oggFlagBOS, 1, 0, []byte{3, 2}, []byte("abcde"))
	// A packet split over two pages: 510 bytes here, 90 on the next page.
	p1 := oggPage(0, 1, 1, []byte{1, 255, 255}, append([]byte{'x'}, big[:510]...))
	p2 := oggPage(oggFlagContinue, 1, 2, []byte{90, 0}, big[510:])
	other := oggPage(oggFlagBOS, 2, 0, []byte{3}, []byte("zzz"))

	for _, tc := range []struct {
		name string
		in   []byte
		want [][]byte
		err  error
	}{
		{"empty", nil, nil, nil},
		{"one page", head, [][]byte{[]byte("abc"), []byte("de")}, nil},
		{"continued", cat(head, p1, p2),
			[][]byte{[]byte("abc"), []byte("de"), []byte("x"), big, {}}, nil},
		{"other stream skipped", cat(head, other, p1, p2),
			[][]byte{[]byte("abc"), []byte("de"), []byte("x"), big, {}}, nil},
		{"continuation without start", cat(head, p2), [][]byte{[]byte("abc"), []byte("de"), {}}, nil},
		{"start without continuation", cat(head, p1, head[:0], oggPage(0, 1, 2, []byte{1}, []byte("y"))),
			[][]byte{[]byte("abc"), []byte("de"), []byte("x"), []byte("y")}, nil},
		{"bad capture", []byte("OggX" + string(head[4:])), nil, errOggCapture},
		{"truncated header", head[:20], nil, errOggTruncated},
		{"truncated data", head[:len(head)-1], nil, errOggTruncated},
		{"bad crc", flip(head, len(head)-1), nil, errOggCRC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := oggPackets(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseOggOpus(t *testing.T) {
	head := make([]byte, 19)
	copy(head, "OpusHead")
	head[8], head[9] = 1, 2
	binary.LittleEndian.PutUint16(head[10:], 312)
	tags := []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00")
	audio := []byte{0xfc, 1, 2}
	file := cat(
		oggPage(oggFlagBOS, 9, 0, lace(len(head)), head),
		oggPage(0, 9, 1, lace(len(tags)), tags),
		oggPage(0, 9, 2, lace(len(audio)), audio),
	)
	o, err := parseOggOpus(file)
	if err != nil {
		t.Fatal(err)
	}
	if o.channels != 2 || o.preSkip != 312 || !reflect.DeepEqual(o.packets, [][]byte{audio}) {
		t.Fatalf("got %+v", o)
	}
	if _, err := parseOggOpus(oggPage(oggFlagBOS, 9, 0, lace(len(tags)), tags)); !errors.Is(err, errOpusHeader) {
		t.Fatalf("no OpusHead: err = %v", err)
	}
}

func TestEmbeddedOpus(t *testing.T) {
	o, err := parseOggOpus(clipOpus)
	if err != nil {
		t.Fatal(err)
	}
	if o.channels != 1 {
		t.Errorf("channels = %d, want 1", o.channels)
	}
	// 8 s of 20 ms frames, plus one for the encoder's pre-skip.
	if n := len(o.packets); n < 400 || n > 402 {
		t.Errorf("%d packets, want about 400", n)
	}
	for i, p := range o.packets {
		if got := opusSamples(p); got != 960 {
			t.Fatalf("packet %d lasts %d samples, want 960", i, got)
		}
	}
}

func TestOpusSamples(t *testing.T) {
	for _, tc := range []struct {
		pkt  []byte
		want int
	}{
		{nil, 0},
		{[]byte{0 << 3}, 480},           // SILK NB 10 ms
		{[]byte{1<<3 | 1}, 1920},        // SILK 20 ms, two frames
		{[]byte{3 << 3}, 2880},          // SILK 60 ms
		{[]byte{13 << 3}, 960},          // Hybrid 20 ms
		{[]byte{16 << 3}, 120},          // CELT 2.5 ms
		{[]byte{31<<3 | 2}, 1920},       // CELT 20 ms, two frames
		{[]byte{31<<3 | 3, 3}, 2880},    // CELT 20 ms, code 3, three frames
		{[]byte{31<<3 | 3}, 0},          // code 3 without frame count
		{[]byte{3<<3 | 3, 0x03}, 0},     // 3 x 60 ms: over 120 ms
		{[]byte{16<<3 | 3, 0x30}, 5760}, // 48 x 2.5 ms = 120 ms
	} {
		if got := opusSamples(tc.pkt); got != tc.want {
			t.Errorf("opusSamples(%x) = %d, want %d", tc.pkt, got, tc.want)
		}
	}
}

// FuzzOgg checks that any input parses without panicking, and that the
// packets do not alias the input (the parser copies them).
func FuzzOgg(f *testing.F) {
	f.Add(clipOpus[:300]) // OpusHead, OpusTags and the start of a page
	f.Add(oggPage(oggFlagBOS, 1, 0, []byte{255, 255, 3}, bytes.Repeat([]byte{1}, 513)))
	f.Add(oggPage(oggFlagContinue, 1, 0, []byte{0}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		packets, err := oggPackets(b)
		if err != nil && packets != nil {
			t.Fatal("packets returned with an error")
		}
		for _, p := range packets {
			for i := range p {
				p[i] ^= 0xff
			}
		}
		if !bytes.Equal(b, orig) {
			t.Fatal("packets alias the input")
		}
		_, _ = parseOggOpus(orig)
		for _, p := range packets {
			opusSamples(p)
		}
	})
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0xff
	return b
}
