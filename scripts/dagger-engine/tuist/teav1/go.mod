// Stand-in for github.com/vito/tuist/teav1, refused (403) by the Go module
// proxy: see teav1.go.
module github.com/vito/tuist/teav1

go 1.25

require github.com/vito/tuist v0.0.6
