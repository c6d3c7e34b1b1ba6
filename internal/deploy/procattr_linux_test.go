package deploy_test

import "syscall"

// dieWithUs has Linux kill the emulator when the test binary dies without cleaning up.
func dieWithUs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
