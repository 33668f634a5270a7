package stream

import (
	"context"
	"slices"
)

// decodersKey is the context key of WithDecoders.
type decodersKey struct{}

// WithDecoders returns ctx carrying the video codecs a viewer decodes
// (codec names such as "VP8", in the viewer's order of preference), as
// its offer lists them. A viewer's request passes it to Hub.Acquire, so
// that an on-demand source started for that viewer can ask its publisher
// for a codec the viewer decodes.
func WithDecoders(ctx context.Context, codecs []string) context.Context {
	return context.WithValue(ctx, decodersKey{}, slices.Clone(codecs))
}

// Decoders returns the video codecs that WithDecoders put in ctx, or nil
// when the viewer did not say (a viewer without video, or a start that
// no viewer's request made).
func Decoders(ctx context.Context) []string {
	c, _ := ctx.Value(decodersKey{}).([]string)
	return slices.Clone(c)
}
