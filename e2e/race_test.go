//go:build e2e && race

package e2e

func init() { raceEnabled = true }
