// Package session holds what every WebRTC session of wishcast shares,
// whatever the direction of its media: the one pion API (codecs,
// interceptors, the ICE UDP and TCP muxes, NAT addresses), checks of SDP
// offers and trickle fragments, the /sessions/{id} resource (trickle ICE,
// ICE restart, ETag, DELETE) and the reaping of sessions that never connect.
package session

import "time"

// Config is the WebRTC and session configuration.
type Config struct {
	UDPPort int `env:"ICE_UDP_PORT" envDefault:"8189" desc:"UDP port for all ICE traffic (one port, muxed); 0 picks a free one"`
	// UDPReadBuffer is the receive buffer asked for on each ICE UDP
	// socket (a steered port's media and control sockets each get it).
	UDPReadBuffer int      `env:"ICE_UDP_READ_BUFFER" envDefault:"8388608" desc:"receive buffer of each ICE UDP socket (on Linux the port's media and control sockets each get one), in bytes, to absorb bursts while the server is busy (the kernel caps it at net.core.rmem_max unless the process has CAP_NET_ADMIN; a capped buffer is logged); 0 keeps the system's default"`
	TCPPort       int      `env:"ICE_TCP_PORT" envDefault:"8189" desc:"TCP port for ICE-TCP (muxed); -1 disables ICE over TCP, 0 picks a free one"`
	NAT1To1IPs    []string `env:"ICE_NAT_1TO1_IPS" envSeparator:"," desc:"public addresses to announce instead of the host's (1:1 NAT deployments)"`
	HostIPs       []string `env:"ICE_HOST_IPS" envSeparator:"," desc:"only gather candidates on these local addresses (default: all)"`
	Loopback      bool     `env:"ICE_LOOPBACK" envDefault:"false" desc:"also offer loopback candidates (single-machine use and tests)"`
	Lite          bool     `env:"ICE_LITE" envDefault:"false" desc:"run ICE-lite; only for a server reachable at a public address"`

	STUNURLs     []string `env:"STUN_URLS" envSeparator:"," desc:"STUN servers handed to clients in Link headers (stun:host:port)"`
	TURNURLs     []string `env:"TURN_URLS" envSeparator:"," desc:"TURN servers handed to clients in Link headers (turn:host:port?transport=udp)"`
	TURNUsername string   `env:"TURN_USERNAME" desc:"username for the TURN servers"`
	TURNPassword string   `env:"TURN_PASSWORD" desc:"password for the TURN servers"`

	PublisherGone      time.Duration `env:"PUBLISHER_GONE" envDefault:"5s" desc:"a publisher that has sent nothing for this long while its ICE connection no longer answers has gone (killed, cable pulled): its stream ends for viewers"`
	HandshakeTimeout   time.Duration `env:"HANDSHAKE_TIMEOUT" envDefault:"10s" desc:"a session not connected by then is closed and counted as reaped"`
	NegotiationTimeout time.Duration `env:"NEGOTIATION_TIMEOUT" envDefault:"10s" desc:"longest the server spends answering an offer or an ICE restart (gathering its candidates) before 503"`
	MaxSessions        int           `env:"MAX_SESSIONS" envDefault:"1000" desc:"most WebRTC sessions at once; more get 503"`
	MaxPending         int           `env:"MAX_PENDING" envDefault:"200" desc:"most sessions still connecting at once; more get 503"`
	// Per principal: one user, one publish key, or one anonymous client
	// address (IPv6 per /64).
	MaxPendingPerPrincipal  int     `env:"MAX_PENDING_PER_PRINCIPAL" envDefault:"0" desc:"most sessions still connecting that one user, one publish key or one anonymous client address (IPv6 /64) may have; more get 429; 0 means a quarter of MAX_PENDING"`
	MaxSessionsPerPrincipal int     `env:"MAX_SESSIONS_PER_PRINCIPAL" envDefault:"0" desc:"most sessions one user, one publish key or one anonymous client address (IPv6 /64) may have; more get 429; 0 means a quarter of MAX_SESSIONS"`
	MaxOfferBytes           int64   `env:"MAX_OFFER_BYTES" envDefault:"65536" desc:"largest SDP offer accepted; larger gets 413"`
	MaxPatchBytes           int64   `env:"MAX_PATCH_BYTES" envDefault:"16384" desc:"largest trickle ICE fragment accepted; larger gets 413"`
	PatchRate               float64 `env:"PATCH_RATE" envDefault:"20" desc:"PATCH requests per second allowed on one session (burst twice that); more get 429"`
	MaxCandidates           int     `env:"MAX_REMOTE_CANDIDATES" envDefault:"64" desc:"most trickled remote candidates per session; the rest are ignored"`
	NACKBuffer              uint16  `env:"NACK_BUFFER" envDefault:"256" desc:"packets kept per viewer track to answer NACKs"`
	NACKShare               int     `env:"NACK_SHARE" envDefault:"20" desc:"most a viewer track's retransmissions may send, in percent of the bytes it sends (plus a 64 KiB burst); NACKed packets beyond it are refused and counted"`
}

// maxPendingPer is the per-principal cap on sessions still connecting.
func (c Config) maxPendingPer() int {
	if c.MaxPendingPerPrincipal > 0 {
		return c.MaxPendingPerPrincipal
	}
	return max(c.MaxPending/4, 1)
}

// maxSessionsPer is the per-principal cap on sessions.
func (c Config) maxSessionsPer() int {
	if c.MaxSessionsPerPrincipal > 0 {
		return c.MaxSessionsPerPrincipal
	}
	return max(c.MaxSessions/4, 1)
}

// withDefaults fills zero values so that Config{} is usable in tests.
func (c Config) withDefaults() Config {
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.PublisherGone <= 0 {
		c.PublisherGone = 5 * time.Second
	}
	if c.NegotiationTimeout <= 0 {
		c.NegotiationTimeout = 10 * time.Second
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 1000
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 200
	}
	if c.MaxOfferBytes <= 0 {
		c.MaxOfferBytes = 64 << 10
	}
	if c.MaxPatchBytes <= 0 {
		c.MaxPatchBytes = 16 << 10
	}
	if c.PatchRate <= 0 {
		c.PatchRate = 20
	}
	if c.MaxCandidates <= 0 {
		c.MaxCandidates = 64
	}
	if c.NACKBuffer == 0 {
		c.NACKBuffer = 256
	}
	if c.NACKShare <= 0 {
		c.NACKShare = 20
	}
	return c
}
