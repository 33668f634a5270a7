// Package stream is the protocol-neutral hub between publishers and viewers.
//
// A [Hub] maps stream names (see [ValidateName]) to streams. A publisher
// (a WHIP session, an RTSP puller) calls [Hub.Publish] and writes RTP into
// each [Track] of its [Publication]; a viewer (a WHEP session) calls
// [Hub.Acquire] to register demand and wait until the stream is live, then
// [Track.Subscribe] with a [Sink] for each track it forwards.
//
// Fan-out never blocks the publisher: a track queues each packet for its
// stream's writer goroutine (one per core for a large audience, see
// shards.go), which hands it to every caught-up
// [Subscription] in turn inside one send batch ([Batcher]); a subscription
// that is still sending the keyframe cache, or whose sink blocked the
// writer, has a bounded queue and a goroutine of its own, and packets that
// do not fit are dropped for that subscriber only and counted (see
// fanout.go). Each subscription rewrites packets on a scratch header it
// owns (header extensions stripped, sequence numbers and timestamps kept
// continuous across a change of publisher) and shares the payload with
// every other subscriber.
//
// Video tracks keep the packets since the latest keyframe so that a joining
// viewer starts at once, and forward viewers' keyframe requests to the
// publisher at most once per interval. H.264 and H.265 tracks also
// remember their latest parameter sets (from the SDP's sprop parameters
// and in-band), and a viewer whose first keyframe lacks them gets them
// first, for publishers that send them only once.
//
// Streams can be on demand: a [Source] registered with [Hub.AddSource] is
// started by the first Acquire of a name it covers and stopped a grace
// period after the last [Lease] is released.
//
// Locking: Hub.mu guards the stream map and every stream's state; Track.mu
// guards a track's publisher binding, keyframe cache, parameter sets and
// subscriber list.
// The lock order is Hub.mu before Track.mu. No lock is held while calling a
// Sink, a Source or a keyframe-request callback.
package stream
