// Package codecheck holds repository-wide checks of the Go sources that
// the compiler and go vet do not make: every package and exported name
// documented, every file of a readable size. Its tests are the checks.
package codecheck
