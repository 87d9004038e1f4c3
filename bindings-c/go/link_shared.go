//go:build !copilot_static

package copilot

// Links target/release/libcopilot.so of this repository (built by `cargo build --release -p
// copilot-c`); the rpath lets programs find it without LD_LIBRARY_PATH.

// #cgo LDFLAGS: -L${SRCDIR}/../../target/release -lcopilot -Wl,-rpath,${SRCDIR}/../../target/release
import "C"
