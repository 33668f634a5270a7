//go:build !linux

package session

// mmsg is empty where there is no sendmmsg: a flush writes the datagrams
// one by one.
type mmsg struct{}

func (c *BatchConn) initSend(bool) {}

func (c *BatchConn) hold(int) {}

// send writes the datagrams held in slots [from, to) one by one and
// returns how many were sent before an error.
func (c *BatchConn) send(from, to int) (int, error) {
	for i := from; i < to; i++ {
		if _, err := c.UDPConn.WriteToUDPAddrPort(c.slots[i], c.dests[i]); err != nil {
			return i - from, err
		}
	}
	return to - from, nil
}
