package session

import (
	"sync/atomic"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// Only packets that are not newer than what the stream already sent count
// as resent, across the sequence number wrap.
func TestRetransmitCounter(t *testing.T) {
	var n atomic.Uint64
	it, _ := retransmitFactory{&n}.NewInterceptor("")
	var wrote int
	w := it.BindLocalStream(&interceptor.StreamInfo{}, interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) {
		wrote++
		return 0, nil
	}))
	for _, seq := range []uint16{65533, 65534, 65535, 0, 1, 65535, 2, 1, 3} {
		if _, err := w.Write(&rtp.Header{SequenceNumber: seq}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if wrote != 9 || n.Load() != 2 {
		t.Fatalf("wrote %d, counted %d resent; want 9 and 2", wrote, n.Load())
	}
}
