//go:build unix && !linux

package dynalite

import "syscall"

// sysProcAttr puts dynalite in its own process group, so a Ctrl-C at the terminal reaches
// only us and we stop it in order. Pdeathsig is Linux-only: here dynalite ends when its
// stdin pipe closes, which the kernel does when we die (see Start).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
