// Package dynalite starts dynalite, the DynamoDB-compatible server pinned in
// package.json, for `attribution serve` and for tests.
package dynalite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Server is a running dynalite.
type Server struct {
	Endpoint string
	cmd      *exec.Cmd
	done     chan error
}

// Options say where to run it. Path empty keeps data in memory.
type Options struct {
	Port int    // 0 picks a free port
	Path string // directory for the data (LevelDB), or "" for memory
	// Root is where node_modules lives; empty searches upward from the working directory.
	Root string
}

// Start launches dynalite on 127.0.0.1 and waits until it accepts connections.
func Start(ctx context.Context, o Options) (*Server, error) {
	root := o.Root
	if root == "" {
		var err error
		if root, err = FindRoot(); err != nil {
			return nil, err
		}
	}
	cli := filepath.Join(root, "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("dynalite is not installed at %s: run `npm ci` in %s (make test and make run do it)", cli, root)
	}
	port := o.Port
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	args := []string{cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}
	if o.Path != "" {
		if err := os.MkdirAll(o.Path, 0o755); err != nil {
			return nil, fmt.Errorf("create dynalite data dir: %w", err)
		}
		args = append(args, "--path", o.Path)
	}
	cmd := exec.Command("node", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Kill dynalite with us even when we die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	s := &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("dynalite exited before listening on port %d: %v", port, err)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("dynalite did not listen on port %d within 20s", port)
		}
	}
}

// Stop ends dynalite and waits for it.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Done is closed-over by callers that must notice dynalite dying.
func (s *Server) Done() <-chan error { return s.done }

// FindRoot walks up from the working directory to the folder holding package.json.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "package.json")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("could not find the project root (package.json beside go.mod) above the working directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
