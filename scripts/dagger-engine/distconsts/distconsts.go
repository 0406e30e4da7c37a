// Package distconsts stands in for github.com/dagger/dagger/engine/distconsts,
// which has its own go.mod and no version the Go module proxy serves here.
// The engine reads these names for the paths of its container image; the
// values are the layout scripts/dagger-engine-setup.sh gives that image.
package distconsts

// The engine container and where the CLI finds its socket.
const (
	EngineContainerName   = "dagger-engine.dev"
	DefaultEngineSockAddr = "unix:///run/dagger/engine.sock"
)

// Paths inside the engine image.
const (
	RuncPath                           = "/usr/local/bin/runc"
	DaggerInitPath                     = "/usr/local/bin/dagger-init"
	EngineDefaultStateDir              = "/var/lib/dagger"
	EngineContainerBuiltinContentDir   = "/usr/local/share/dagger/content"
	EngineCustomCACertsDir             = "/usr/local/share/ca-certificates"
	GoSDKManifestDigestEnvName         = "DAGGER_GO_SDK_MANIFEST_DIGEST"
	PythonSDKManifestDigestEnvName     = "DAGGER_PYTHON_SDK_MANIFEST_DIGEST"
	TypescriptSDKManifestDigestEnvName = "DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST"
)

// Images the engine names for SDK runtimes; none can be pulled here.
const (
	AlpineVersion  = "3.22.1"
	AlpineImage    = "alpine:" + AlpineVersion
	GolangVersion  = "1.25.3"
	GolangImage    = "golang:" + GolangVersion + "-alpine"
	BusyboxVersion = "1.37.0"
	BusyboxImage   = "busybox:" + BusyboxVersion
)

// OCIVersionAnnotation is the standard OCI annotation for an image's version.
const OCIVersionAnnotation = "org.opencontainers.image.version"
