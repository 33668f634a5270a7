package cluster

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Who watches whom travels in NOTIFY payloads, which hold at most 8000
// bytes: however many people and viewers changed, each message fits,
// and together they carry every list whole.
func TestWatchersMessagesFit(t *testing.T) {
	long := func(i int) string { return fmt.Sprintf("%s%03d", strings.Repeat("v", 60), i) }
	w := map[string][]string{}
	for u := range 300 {
		var who []string
		for v := range u%7 + 1 {
			who = append(who, long(v))
		}
		w[fmt.Sprintf("user%03d", u)] = who
	}
	var crowd []string
	for v := range 500 {
		crowd = append(crowd, long(v))
	}
	w["popular"] = normalWatchers(map[string][]string{"popular": crowd})["popular"]
	if len(w["popular"]) != maxWatchersShared {
		t.Fatalf("one person's viewers shared: %d, want the first %d", len(w["popular"]), maxWatchersShared)
	}
	w["gone"] = []string{}

	parts := chunkWatchers(w)
	seen := map[string]bool{}
	for i, p := range parts {
		m := message{To: "*", From: strings.Repeat("n", 64), Kind: msgWatchers, Watchers: p}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) >= 8000 {
			t.Errorf("message %d of %d: %d bytes, over what NOTIFY takes", i+1, len(parts), len(b))
		}
		for u, who := range p {
			if seen[u] {
				t.Errorf("%s in two messages", u)
			}
			seen[u] = true
			if len(who) != len(w[u]) {
				t.Errorf("%s: %d viewers carried of %d", u, len(who), len(w[u]))
			}
		}
	}
	if len(seen) != len(w) {
		t.Errorf("%d people carried of %d", len(seen), len(w))
	}
	all, _ := json.Marshal(w)
	if most := len(all)*5/4/watchersChunk + 2; len(parts) > most {
		t.Errorf("%d messages for %d bytes of lists: more than %d", len(parts), len(all), most)
	}
}
