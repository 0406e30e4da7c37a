// Package teav1 stands in for github.com/vito/tuist/teav1, which wraps a
// Bubble Tea v1 model (the CLI's interactive forms) as a tuist component.
// Like the tuist stand-in (../tuist.go) it only has to compile: this build
// never draws an interactive terminal UI.
package teav1

import "github.com/vito/tuist"

// Wrap is a Bubble Tea v1 model shown as a tuist component.
type Wrap struct{ tuist.Compo }

func New(model any) *Wrap          { return &Wrap{} }
func (*Wrap) Render(tuist.Context) {}
func (*Wrap) OnQuit(func())        {}
