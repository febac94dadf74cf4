package contract

// Paths inside the guest.
const (
	Bin     = "/gokmod/bin"       // our static tools
	Kmod    = "/gokmod/kmod"      // kmod and its tool names
	Modules = "/gokmod/modules"   // kaidock and its companions, built for the guest's kernel
	Keys    = "/gokmod/keys"      // the test keys and certificates
	Sign    = "/gokmod/sign-file" // the kernel's scripts/sign-file, when the flavour has one
	Run     = "/gokmod/run"       // the command: argv, env, cwd, and files handed to it
	Pkg     = "/gokmod/pkg"       // the working directory of a go test binary (its testdata)

	// Files under Run that /init reads.
	ArgvFile = Run + "/argv" // NUL-separated argument list
	EnvFile  = Run + "/env"  // NUL-separated KEY=value list
	CwdFile  = Run + "/cwd"  // one line
)

// Serial ports as the guest sees them. The host keeps the first in the
// run's kernel.log and reads the command's output from the second.
const (
	LogPort = "/dev/ttyS0"
	OutPort = "/dev/ttyS1"
)

// Marker starts the last line /init writes to OutPort:
// "@@gokmod-exit N@@", or "@@gokmod-exit N +nl@@" when /init added the
// newline before it to end the command's last line.
const (
	Marker       = "@@gokmod-exit "
	MarkerEnd    = "@@"
	AddedNewline = "+nl"
)

// Heartbeat is the line /init writes to LogPort every HeartbeatSeconds
// while the command runs, so that the host can tell a guest that stopped
// (a kernel that died, a CPU that spins) from a quiet command.
const (
	Heartbeat        = "gokmod-init: alive"
	HeartbeatSeconds = 10
)

// The environment of the guest command (and of tests/ on a real host).
const (
	EnvFlavour  = "GOKMOD_FLAVOUR"   // debian61, debian612, secure, or host
	EnvModules  = "GOKMOD_MODULES"   // directory of kaidock and its companions
	EnvBin      = "GOKMOD_BIN"       // directory of our tools
	EnvKmodDir  = "GOKMOD_KMOD_DIR"  // directory of kmod's tools under their names
	EnvKeys     = "GOKMOD_KEYS"      // directory of the test keys
	EnvSignFile = "GOKMOD_SIGN_FILE" // the kernel's sign-file
)
