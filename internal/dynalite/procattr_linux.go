package dynalite

import "syscall"

// sysProcAttr puts dynalite in its own process group, so a Ctrl-C at the terminal reaches
// only us and we stop it in order, and has Linux kill it the moment we die. The closing
// stdin pipe (see Start) does the same on every platform, a little later.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
