// Package tuist stands in for github.com/vito/tuist v0.0.6, the terminal UI
// toolkit behind the Dagger CLI's interactive ("pretty") progress view. The Go
// module proxy refuses that module (403) at every version, yet dagger's
// dagql/idtui package imports it, and both the engine and the CLI import
// idtui. This package declares only the API idtui and cmd/dagger compile
// against, with empty bodies: the engine never draws a TUI, and our CLI is
// only ever run with plain progress (the SDK's session, CI logs). Asking the
// CLI for the interactive view fails loudly in TUI.Start instead of hanging.
package tuist

import (
	"io"
	"time"

	uv "github.com/charmbracelet/ultraviolet"
)

// Context is what a component's callbacks receive.
type Context struct {
	Width, Height int
}

func (Context) Line(string)                 {}
func (Context) Lines(...string)             {}
func (Context) ScreenHeight() int           { return 0 }
func (Context) SetFocus(Component)          {}
func (ctx Context) Resize(w, h int) Context { ctx.Width, ctx.Height = w, h; return ctx }

// Component is a renderable node; types embed Compo to be one.
type Component interface {
	Render(Context)
	compo() *Compo
}

// Compo is embedded by every component.
type Compo struct{}

func (c *Compo) compo() *Compo                                   { return c }
func (*Compo) Update()                                           {}
func (*Compo) RenderChild(Context, Component)                    {}
func (*Compo) RenderChildResult(Context, Component) RenderResult { return RenderResult{} }
func (*Compo) RenderChildInline(Context, Component) string       { return "" }

// RenderResult is a child's rendered output.
type RenderResult struct{ Lines []string }

// Optional component behaviours.
type (
	Interactive interface {
		Component
		HandleKeyPress(Context, uv.KeyPressEvent) bool
	}
	Focusable    interface{ SetFocused(Context, bool) }
	Mounter      interface{ OnMount(Context) }
	Dismounter   interface{ OnDismount() }
	MouseEnabled interface {
		HandleMouse(Context, MouseEvent) bool
	}
	Hoverable interface{ SetHovered(Context, bool) }
)

// MouseEvent is a mouse event at a row of the receiving component.
type MouseEvent struct {
	uv.MouseEvent
	Row, Col int
}

// Terminal is where a TUI draws.
type Terminal interface{}

func NewStdTerminal() Terminal { return nil }

// TUI is the root of a component tree.
type TUI struct{}

func New(Terminal) *TUI { return &TUI{} }

// Start refuses: this build has no interactive terminal UI.
func (*TUI) Start() {
	panic("this Dagger CLI was built without its interactive terminal UI (scripts/dagger-engine/tuist): run it with --progress=plain")
}
func (*TUI) Stop()                                                      {}
func (*TUI) AddChild(Component)                                         {}
func (*TUI) RemoveChild(Component)                                      {}
func (*TUI) SetFocus(Component)                                         {}
func (*TUI) Dispatch(fn func())                                         { fn() }
func (*TUI) RequestRender(bool)                                         {}
func (*TUI) RenderLines() []string                                      { return nil }
func (*TUI) SetDebugWriter(io.Writer)                                   {}
func (*TUI) SetShowHardwareCursor(bool)                                 {}
func (*TUI) ShowOverlay(Component, *OverlayOptions) *OverlayHandle      { return &OverlayHandle{} }
func (*TUI) Exec(func(in io.Reader, out, errOut io.Writer) error) error { return nil }

// Overlays.
type (
	SizeValue      int
	Anchor         int
	OverlayMargin  struct{ Top, Right, Bottom, Left int }
	OverlayHandle  struct{}
	OverlayOptions struct {
		Width  SizeValue
		Anchor Anchor
		Margin OverlayMargin
	}
)

const AnchorTopRight Anchor = 1

func SizeAbs(n int) SizeValue  { return SizeValue(n) }
func (*OverlayHandle) Remove() {}

// Container lays out children vertically.
type Container struct {
	Compo
	Children []Component
}

func (*Container) Render(Context)     {}
func (*Container) AddChild(Component) {}

// Spinner is an animated status icon.
type Spinner struct {
	Compo
	Epoch time.Time
}

func NewSpinner() *Spinner      { return &Spinner{} }
func (*Spinner) Render(Context) {}

// TextInput is a line editor.
type TextInput struct {
	Compo
	Prompt         string
	OnSubmit       func(ctx Context, value string) bool
	KeyInterceptor func(ctx Context, ev uv.KeyPressEvent) bool
	value          string
}

func NewTextInput(value string) *TextInput { return &TextInput{value: value} }
func (*TextInput) Render(Context)          {}
func (t *TextInput) Value() string         { return t.value }
func (t *TextInput) SetValue(v string)     { t.value = v }
func (t *TextInput) InsertRune(r rune)     { t.value += string(r) }

// Completion menus for a TextInput.
type (
	Completion struct {
		Label, Detail string
	}
	CompletionResult struct {
		Items       []Completion
		ReplaceFrom int
	}
	CompletionMenu struct{ Compo }
)

func NewCompletionMenu(*TextInput, func(input string, cursorPos int) CompletionResult) *CompletionMenu {
	return &CompletionMenu{}
}
func (*CompletionMenu) Render(Context)                                {}
func (*CompletionMenu) HandleKeyPress(Context, uv.KeyPressEvent) bool { return false }
