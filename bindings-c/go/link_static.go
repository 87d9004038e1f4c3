//go:build copilot_static

package copilot

// With -tags copilot_static the program embeds libcopilot.a and needs no shared library.

// #cgo LDFLAGS: ${SRCDIR}/../../target/release/libcopilot.a -ldl -lm -lpthread
import "C"
