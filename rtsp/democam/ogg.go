package democam

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Ogg page layout (RFC 3533 section 6): a 27-byte header, a segment table
// of up to 255 lacing values, then the segments.
const (
	oggHeaderLen    = 27
	oggFlagContinue = 0x01 // the page starts with the rest of a packet
	oggFlagBOS      = 0x02 // first page of a logical bitstream
)

// maxOggPacket bounds a packet that continues over many pages, so that a
// corrupt file cannot make the parser hold more than this.
const maxOggPacket = 1 << 20

var oggCapture = []byte("OggS")

// errOggCapture means a page does not start with the "OggS" capture pattern.
var errOggCapture = errors.New("ogg: missing capture pattern")

// errOggTruncated means the data ends inside a page.
var errOggTruncated = errors.New("ogg: truncated page")

// errOggCRC means a page's checksum does not match its content.
var errOggCRC = errors.New("ogg: page checksum mismatch")

// errOpusHeader means the stream does not start with OpusHead and OpusTags.
var errOpusHeader = errors.New("ogg opus: missing OpusHead/OpusTags")

// oggCRCTable is the table of the Ogg CRC-32: polynomial 0x04c11db7, not
// reflected, initial value 0, no final XOR (RFC 3533 section 6).
var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

func oggCRC(crc uint32, b []byte) uint32 {
	for _, c := range b {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^c]
	}
	return crc
}

// oggPackets returns the packets of the first logical bitstream in an Ogg
// file, in order. Pages of other bitstreams are skipped. A packet continues
// across pages while the last lacing value of a page is 255; a page that
// claims to continue a packet nobody started has its first packet dropped,
// and a started packet the next page does not continue is dropped.
func oggPackets(b []byte) ([][]byte, error) {
	var (
		packets [][]byte
		pending []byte // a packet that continues on the next page
		serial  uint32
		started bool
	)
	for len(b) > 0 {
		if len(b) < oggHeaderLen {
			return nil, errOggTruncated
		}
		if !bytes.Equal(b[:4], oggCapture) {
			return nil, errOggCapture
		}
		if b[4] != 0 {
			return nil, fmt.Errorf("ogg: unsupported version %d", b[4])
		}
		flags := b[5]
		pageSerial := binary.LittleEndian.Uint32(b[14:18])
		nsegs := int(b[26])
		if len(b) < oggHeaderLen+nsegs {
			return nil, errOggTruncated
		}
		lacing := b[oggHeaderLen : oggHeaderLen+nsegs]
		size := 0
		for _, l := range lacing {
			size += int(l)
		}
		pageLen := oggHeaderLen + nsegs + size
		if len(b) < pageLen {
			return nil, errOggTruncated
		}
		page := b[:pageLen]
		b = b[pageLen:]

		crc := oggCRC(0, page[:22])
		crc = oggCRC(crc, []byte{0, 0, 0, 0})
		crc = oggCRC(crc, page[26:])
		if crc != binary.LittleEndian.Uint32(page[22:26]) {
			return nil, errOggCRC
		}

		if !started {
			if flags&oggFlagBOS == 0 {
				continue // no stream begins here: not ours yet
			}
			serial, started = pageSerial, true
		} else if pageSerial != serial {
			continue
		}

		data := page[oggHeaderLen+nsegs:]
		skip := flags&oggFlagContinue != 0 && pending == nil
		if flags&oggFlagContinue == 0 {
			pending = nil
		}
		for _, l := range lacing {
			seg := data[:l]
			data = data[l:]
			if !skip {
				if len(pending)+len(seg) > maxOggPacket {
					return nil, fmt.Errorf("ogg: packet larger than %d bytes", maxOggPacket)
				}
				// A fresh slice per packet: pending must never alias the input
				// or an earlier packet.
				if pending == nil {
					pending = make([]byte, 0, len(seg))
				}
				pending = append(pending, seg...)
			}
			if l < 255 {
				if !skip {
					packets = append(packets, pending)
				}
				pending, skip = nil, false
			}
		}
	}
	return packets, nil
}

// oggOpus is the content of an Ogg Opus file (RFC 7845).
type oggOpus struct {
	channels int      // output channel count from OpusHead
	preSkip  int      // samples (48 kHz) to drop at the start, from OpusHead
	packets  [][]byte // the audio packets, headers removed
}

// parseOggOpus reads an Ogg Opus file: the first packet must be the
// OpusHead identification header and the second the OpusTags comment
// header (RFC 7845 section 5); both are removed from the packets.
func parseOggOpus(b []byte) (*oggOpus, error) {
	packets, err := oggPackets(b)
	if err != nil {
		return nil, err
	}
	if len(packets) < 2 ||
		len(packets[0]) < 19 || !bytes.HasPrefix(packets[0], []byte("OpusHead")) ||
		!bytes.HasPrefix(packets[1], []byte("OpusTags")) {
		return nil, errOpusHeader
	}
	head := packets[0]
	if head[8]>>4 != 0 {
		return nil, fmt.Errorf("ogg opus: unsupported version %d", head[8])
	}
	o := &oggOpus{
		channels: int(head[9]),
		preSkip:  int(binary.LittleEndian.Uint16(head[10:12])),
		packets:  packets[2:],
	}
	if o.channels == 0 {
		return nil, errors.New("ogg opus: zero channels")
	}
	return o, nil
}

// opusSamples returns the duration of an Opus packet in 48 kHz samples,
// from its TOC byte and, for code 3, its frame count byte (RFC 6716
// section 3.1). It returns 0 for a malformed packet.
func opusSamples(pkt []byte) int {
	if len(pkt) == 0 {
		return 0
	}
	toc := pkt[0]
	config := int(toc >> 3)
	var frame int // samples per frame at 48 kHz
	switch {
	case config < 12: // SILK-only: 10, 20, 40, 60 ms
		frame = []int{480, 960, 1920, 2880}[config%4]
	case config < 16: // Hybrid: 10, 20 ms
		frame = []int{480, 960}[config%2]
	default: // CELT-only: 2.5, 5, 10, 20 ms
		frame = []int{120, 240, 480, 960}[config%4]
	}
	var frames int
	switch toc & 3 {
	case 0:
		frames = 1
	case 1, 2:
		frames = 2
	default:
		if len(pkt) < 2 {
			return 0
		}
		frames = int(pkt[1] & 0x3f)
	}
	n := frame * frames
	if n > 5760 { // more than 120 ms is invalid
		return 0
	}
	return n
}
