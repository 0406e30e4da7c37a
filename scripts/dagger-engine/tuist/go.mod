// Stand-in for github.com/vito/tuist, which the Go module proxy refuses
// (403) at the version dagger v0.21.8 requires: see tuist.go.
module github.com/vito/tuist

go 1.25

require github.com/charmbracelet/ultraviolet v0.0.0-20260309091805-903bfd0cf188
