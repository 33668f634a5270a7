package whep

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wishcast/wishcast/httpx"
	"github.com/wishcast/wishcast/stream"
)

// Link relations of the WHEP extensions a viewer session offers
// (draft-ietf-wish-whep core extensions: video layer selection and
// server-sent events).
const (
	relLayer  = "urn:ietf:params:whep:ext:core:layer"
	relEvents = "urn:ietf:params:whep:ext:core:server-sent-events"
)

// layerControl chooses the simulcast layer a viewer gets: the best one
// automatically, or the one the viewer pinned through the layer
// extension (POST a rid; POST without one, or DELETE, goes back to
// automatic).
type layerControl struct {
	v       *viewer
	mediaID string // the video m-line's index in the viewer's offer

	// mu guards pinned.
	mu     sync.Mutex
	pinned int // index in v.layers; -1: automatic

	auto  autoLayer // owned by run
	looks int       // owned by run
	// replace asks run to place the viewer afresh (back to automatic).
	replace atomic.Bool
}

// layerRequest is the body of a POST to the layer resource. Broadcast
// Box's player names the layer encodingId, the draft rid.
type layerRequest struct {
	MediaID    *string `json:"mediaId"`
	RID        string  `json:"rid"`
	EncodingID string  `json:"encodingId"`
}

// serve is the layer resource: POST {"mediaId":"1","rid":"h"} pins a
// layer, POST {"mediaId":"1"} or DELETE returns to automatic choice.
func (c *layerControl) serve(w http.ResponseWriter, r *http.Request, rest string) error {
	if rest != "" {
		return httpx.Errorf(http.StatusNotFound, "no such resource")
	}
	pin := -1
	switch r.Method {
	case http.MethodDelete:
	case http.MethodPost:
		if !httpx.MediaTypeIs(r, "application/json") {
			return httpx.Errorf(http.StatusUnsupportedMediaType, `send JSON: {"mediaId":"%s","rid":"…"}`, c.mediaID)
		}
		body, err := httpx.ReadBody(w, r, 4<<10)
		if err != nil {
			return err
		}
		var req layerRequest
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&req); err != nil {
			return httpx.Errorf(http.StatusBadRequest, "malformed layer JSON: %v", err)
		}
		if req.MediaID != nil && *req.MediaID != c.mediaID {
			return httpx.Errorf(http.StatusBadRequest, "media %q has no layers; the video is media %q", *req.MediaID, c.mediaID)
		}
		rid := firstOf(req.RID, req.EncodingID)
		if rid != "" {
			pin = slices.IndexFunc(c.v.layers, func(l *stream.Track) bool { return l.Layer() == rid })
			if pin < 0 {
				return httpx.Errorf(http.StatusBadRequest, "the stream has no layer %q; it has %s", rid, strings.Join(c.rids(), ", "))
			}
		}
	default:
		return httpx.Errorf(http.StatusMethodNotAllowed, "the layer resource takes POST and DELETE").WithHeader("Allow", "POST, DELETE")
	}
	c.mu.Lock()
	c.pinned = pin
	c.mu.Unlock()
	if sub := c.v.sub.Load(); sub != nil && pin >= 0 {
		sub.SwitchLayer(pin)
	}
	if pin < 0 {
		c.replace.Store(true) // the best that fits at once, not a climb
	}
	out := map[string]any{"mediaId": c.mediaID, "automatic": pin < 0}
	if pin >= 0 {
		out["rid"], out["encodingId"] = c.v.layers[pin].Layer(), c.v.layers[pin].Layer()
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

// firstOf returns the first of a and b that is not empty.
func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// rids lists the stream's layers.
func (c *layerControl) rids() []string {
	out := make([]string, len(c.v.layers))
	for i, l := range c.v.layers {
		out[i] = l.Layer()
	}
	return out
}

// layerJSON is one layer in a layers event: the draft's fields, with the
// rid also as encodingId (Broadcast Box's player reads that).
type layerJSON struct {
	RID        string  `json:"rid"`
	EncodingID string  `json:"encodingId"`
	Bitrate    int64   `json:"bitrate"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FrameRate  float64 `json:"framerate,omitempty"`
	Active     bool    `json:"active"`
	Selected   bool    `json:"selected"`
}

// layersEvent is the data of a layers event: keyed by the video's m-line
// index, an object with the layers (best first) and the rids active
// (sending) now.
func (c *layerControl) layersEvent() map[string]any {
	cur := -1
	if sub := c.v.sub.Load(); sub != nil {
		cur, _ = sub.Layer()
	}
	c.mu.Lock()
	pinned := c.pinned
	c.mu.Unlock()
	var layers []layerJSON
	active := []string{}
	for _, i := range stream.RankLayers(c.v.layers) {
		l := c.v.layers[i]
		bps, fps := l.Rates()
		w, h := l.Size()
		lj := layerJSON{RID: l.Layer(), EncodingID: l.Layer(), Bitrate: bps, Width: w, Height: h,
			FrameRate: float64(int(fps*10)) / 10, Active: bps > 0, Selected: i == cur}
		if lj.Active {
			active = append(active, lj.RID)
		}
		layers = append(layers, lj)
	}
	return map[string]any{c.mediaID: map[string]any{"layers": layers, "active": active, "automatic": pinned < 0}}
}

// videoMediaID is the index of the offer's video m-line, as the
// extensions name media.
func videoMediaID(kinds []string) string {
	return strconv.Itoa(max(slices.Index(kinds, "video"), 0))
}
