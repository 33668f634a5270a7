package stream

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	seg64 := strings.Repeat("a", 64)
	tests := []struct {
		name string
		ok   bool
	}{
		{"live", true},
		{"users/alice", true},
		{"calls/0f3a-b1/bob", true},
		{"devices/lobby.cam_2/main/hd", true},
		{"a/b/c/d", true},
		{seg64, true},
		{"x/" + seg64, true},
		{"A.b-c_D9", true},
		{"a..b", true}, // dots inside a segment are fine

		{"", false},
		{"../../etc/passwd", false},
		{"live/..", false},
		{"live/.", false},
		{"%2e%2e", false},
		{"live/%2e%2e/x", false},
		{".hidden", false},
		{"users/.alice", false},
		{"a//b", false},
		{"/a", false},
		{"a/", false},
		{"/", false},
		{seg64 + "a", false},
		{"x/" + seg64 + "a", false},
		{"a/b/c/d/e", false},
		{"a\x00b", false},
		{"live/caf\u00e9", false},
		{"live/\u2215etc", false},
		{"a b", false},
		{`a\b`, false},
		{"a:b", false},
		{"a?b", false},
		{strings.Repeat("a/", 200) + "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.name)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidateName(%q) = %v, want nil", tt.name, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateName(%q) = nil, want an error", tt.name)
			}
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("ValidateName(%q) = %v, does not wrap ErrInvalidName", tt.name, err)
			}
			if err.Error() == ErrInvalidName.Error() {
				t.Fatalf("ValidateName(%q) = %v, gives no reason", tt.name, err)
			}
		})
	}
}

func TestValidateNameReason(t *testing.T) {
	for name, want := range map[string]string{
		"a//b":                  "segment 2 is empty",
		".x":                    "starts with '.'",
		"a/b/c/d/e":             "5 segments",
		strings.Repeat("z", 65): "longer than 64",
		"a/b\x00":               `'\x00'`,
		"":                      "empty",
		"live/\u00e9":           "only A-Z",
		"live/x/../y":           "segment 3",
	} {
		err := ValidateName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateName(%q) = %v, want it to mention %q", name, err, want)
		}
	}
}
