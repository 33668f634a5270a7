//go:build !unix

package main

import "time"

// selfCPU is 0 where getrusage does not exist: the report then leaves the
// tool's own CPU out.
func selfCPU() time.Duration { return 0 }
