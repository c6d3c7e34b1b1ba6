//go:build !linux

package deploy_test

import "syscall"

// dieWithUs: Pdeathsig is Linux-only, and so is the emulator these tests run (the
// bootstraps are linux binaries); elsewhere the tests only need to compile.
func dieWithUs() *syscall.SysProcAttr { return nil }
