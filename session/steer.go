package session

import "errors"

// Receive steering: a publisher's packets never queue behind viewers'.
//
// Every session's ICE runs through one UDP port. With one socket behind
// it, a publisher's RTP shares a kernel receive queue with every viewer's
// RTCP, STUN and DTLS: at a few hundred viewers most of what arrives is
// their feedback (receiver reports, NACKs, transport-wide congestion
// control), a few hundred packets a second are the media everyone
// watches. When the server falls behind, the kernel drops whatever finds
// the queue full, so mostly media by share of what matters.
//
// On Linux the port is therefore two sockets of one SO_REUSEPORT group,
// and a classic BPF program attached to the group
// (SO_ATTACH_REUSEPORT_CBPF) tells the kernel which of the two gets each
// datagram, from the first bytes of its UDP payload (RFC 7983 and RFC
// 5761 demultiplexing): RTP, version 2 with a second byte outside RTCP's
// packet types 192 to 223, goes to the media socket; everything else
// (STUN, DTLS, RTCP, TURN channel data, anything odd) to the control
// socket. Only publishers send RTP to the server (viewers receive only,
// and calls publish over WHIP), so the media socket holds publishers'
// packets alone and a flood of feedback overflows only its own queue.
//
// The conn pion's UDP mux reads (BatchConn) takes datagrams from both
// sockets, media first (steerrx_linux.go), without a goroutine of its
// own; it sends through a third socket of the group, which the program
// never picks (sends from any of them leave from the same port).
// Elsewhere, or where the kernel refuses the program (an old kernel, a
// seccomp profile), the port is one socket, as it was.
//
// An RTP-shaped flood still reaches the media socket: steering keeps
// viewers' feedback from crowding out media, not an attacker who sends
// RTP-shaped datagrams to the port.

// Receive queues of the ICE UDP port, as the drop metrics name them.
const (
	// QueueMedia is the socket that receives publishers' RTP.
	QueueMedia = "media"
	// QueueControl is the socket that receives everything else: STUN,
	// DTLS, RTCP.
	QueueControl = "control"
	// QueueShared is the one socket of a port without steering.
	QueueShared = "shared"
)

// Index of each receiving socket in the port's SO_REUSEPORT group: the
// order in which they were bound, which is what the program returns.
// Control is 0 so that whatever the program cannot classify lands there:
// classic BPF ends a program that loads past the end of the packet with
// 0, so an empty or one-byte datagram goes to the control socket. The
// group's third socket, which sends, receives nothing.
const (
	steerControl = 0
	steerMedia   = 1
)

// errNoSteering says the kernel would not steer the port's datagrams;
// the port is then one socket.
var errNoSteering = errors.New("receive steering unavailable")
