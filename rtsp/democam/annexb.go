package democam

import (
	"bytes"
	"errors"
)

// H.264 NAL unit types used here (ITU-T H.264 Table 7-1).
const (
	naluNonIDR = 1
	naluIDR    = 5
	naluSPS    = 7
	naluPPS    = 8
	naluAUD    = 9
)

// errNoStartCode means the data holds no Annex-B start code at all.
var errNoStartCode = errors.New("annex-b: no start code")

// errLeadingGarbage means non-zero bytes come before the first start code.
var errLeadingGarbage = errors.New("annex-b: data before the first start code")

var startCode = []byte{0, 0, 1}

// splitAnnexB splits an H.264 Annex-B byte stream (ITU-T H.264 Annex B)
// into NAL units, without their start codes. Both the 3- and the 4-byte
// start code are accepted; zero bytes before a start code (the first byte
// of a 4-byte start code, trailing_zero_8bits) are not part of the NAL unit
// before it, and empty NAL units are skipped. The returned slices alias b.
func splitAnnexB(b []byte) ([][]byte, error) {
	first := bytes.Index(b, startCode)
	if first < 0 {
		return nil, errNoStartCode
	}
	for _, c := range b[:first] {
		if c != 0 {
			return nil, errLeadingGarbage
		}
	}

	var nalus [][]byte
	pos := first + len(startCode)
	for pos <= len(b) {
		next := bytes.Index(b[pos:], startCode)
		end := len(b)
		if next >= 0 {
			end = pos + next
		}
		nalu := bytes.TrimRight(b[pos:end], "\x00")
		if len(nalu) > 0 {
			nalus = append(nalus, nalu)
		}
		if next < 0 {
			break
		}
		pos = end + len(startCode)
	}
	return nalus, nil
}

// naluType returns the nal_unit_type of a NAL unit (0 for an empty one).
func naluType(nalu []byte) int {
	if len(nalu) == 0 {
		return 0
	}
	return int(nalu[0] & 0x1f)
}

// groupAccessUnits groups NAL units into access units: each access unit
// delimiter (type 9) starts a new access unit, and the AUD stays its first
// NAL unit. NAL units before the first AUD form an access unit of their
// own. The grouping relies on the AUDs alone (make-clip.sh asks the
// encoder for one per access unit), which keeps it trivially correct for
// our clip without parsing slice headers (H.264 7.4.1.2.4).
func groupAccessUnits(nalus [][]byte) [][][]byte {
	var aus [][][]byte
	var cur [][]byte
	for _, n := range nalus {
		if naluType(n) == naluAUD && len(cur) > 0 {
			aus = append(aus, cur)
			cur = nil
		}
		cur = append(cur, n)
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

// parseAnnexB splits an Annex-B byte stream into access units, see
// splitAnnexB and groupAccessUnits.
func parseAnnexB(b []byte) ([][][]byte, error) {
	nalus, err := splitAnnexB(b)
	if err != nil {
		return nil, err
	}
	return groupAccessUnits(nalus), nil
}
