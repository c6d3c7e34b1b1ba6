//go:build !unix

package dynalite

import "syscall"

// sysProcAttr: no process groups here; dynalite ends when its stdin pipe closes (see Start).
func sysProcAttr() *syscall.SysProcAttr { return nil }
