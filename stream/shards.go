package stream

import (
	"runtime"
	"sync/atomic"
)

// Shards.
//
// One writer per stream serves its whole audience from one core. On a
// machine with several, a stream with many viewers is split: each
// subscription belongs to one of up to maxShards writers (blocks of
// shardBlock viewers in the order they joined, dealt round the writers),
// each writer with its own queue, batch and watchdog view. A stream's
// first shardBlock viewers, and every stream of a one-core process, have
// one writer, woken once per packet. A subscription keeps its writer for
// life, so its packets are never delivered by two goroutines at once, nor
// out of order.

// maxShards is the most writers a stream has; a subscription's shard is a
// bit of a uint64 mask.
const maxShards = 8

// shardBlock is how many consecutive subscribers of a stream share a
// writer before the next writer takes the next block.
const shardBlock = 32

// shards are a stream's writers.
type shards struct {
	w      []*fanout
	joined atomic.Uint64 // subscriptions assigned so far
}

// newShards starts the writers of e, one per core up to maxShards. h.mu
// must be held.
func (h *Hub) newShards(e *entry) *shards {
	n := min(runtime.GOMAXPROCS(0), maxShards)
	sh := &shards{w: make([]*fanout, n)}
	for i := range sh.w {
		sh.w[i] = h.newFanout(e, uint8(i))
	}
	return sh
}

// assign picks the writer of a new subscription.
func (sh *shards) assign() uint8 {
	n := sh.joined.Add(1) - 1
	return uint8((n / shardBlock) % uint64(len(sh.w)))
}

// push queues a packet for the writers of its subscribers.
func (sh *shards) push(fi fanItem) {
	if len(sh.w) == 1 {
		sh.w[0].push(fi)
		return
	}
	var mask uint64
	all := uint64(1)<<len(sh.w) - 1
	for _, s := range fi.subs {
		if mask |= 1 << s.shard; mask == all {
			break
		}
	}
	for i, f := range sh.w {
		if mask&(1<<i) != 0 {
			f.push(fi)
		}
	}
}

// stalls sums the writers' stalls.
func (sh *shards) stalls() uint64 {
	var n uint64
	for _, f := range sh.w {
		n += f.stalls.Load()
	}
	return n
}

// queued is the number of packets waiting for the writers.
func (sh *shards) queued() int {
	n := 0
	for _, f := range sh.w {
		n += len(f.q)
	}
	return n
}
