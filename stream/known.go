package stream

// TrackDescriber is a Source that can say, without starting, which tracks
// a name it covers would publish: an RTSP camera answers from its last
// description. A viewer whose offer cannot play those tracks is then
// refused without dialling the camera.
type TrackDescriber interface {
	Source
	// DescribedTracks returns the tracks name published when its source
	// last ran, audio then video; ok is false when it does not know.
	DescribedTracks(name string) (tracks []TrackStatus, ok bool)
}

// Expected returns the tracks a viewer of name would get: the current
// ones if the stream is live, else what its source last described (see
// TrackDescriber). ok is false when neither is known, and the viewer has
// to wait for the stream to find out.
func (h *Hub) Expected(name string) (tracks []TrackStatus, ok bool) {
	h.mu.Lock()
	e := h.streams[name]
	if e != nil && e.pub != nil {
		for _, t := range e.tracks {
			if len(tracks) == 0 || tracks[len(tracks)-1].Kind != t.kind {
				tracks = append(tracks, TrackStatus{Kind: t.kind, Codec: t.codec, Layer: t.layer})
			}
		}
		h.mu.Unlock()
		return tracks, true
	}
	src := h.sourceFor(name)
	h.mu.Unlock()
	if d, isD := src.(TrackDescriber); isD {
		return d.DescribedTracks(name)
	}
	return nil, false
}
