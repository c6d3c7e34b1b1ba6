// Package dynalite starts dynalite, the DynamoDB-compatible server pinned in
// package.json, for `attribution serve` and for tests.
package dynalite

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

//go:embed launch.js
var launchJS string

// Server is a running dynalite.
type Server struct {
	Endpoint string
	cmd      *exec.Cmd
	lifeline *os.File // write end of dynalite's stdin: when it closes, dynalite exits
	exited   chan struct{}
	err      error // why the process ended; read only after exited is closed
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
	index := filepath.Join(root, "node_modules", "dynalite", "index.js")
	if _, err := os.Stat(index); err != nil {
		return nil, fmt.Errorf("dynalite is not installed at %s: run `npm ci` in %s (make test and make run do it)", index, root)
	}
	// Port 0 lets node pick a free port and tell us which: choosing one here and handing it
	// over would leave a window in which another process (a parallel test binary's
	// dynalite, or any outgoing connection) could take it.
	opts := map[string]any{"host": "127.0.0.1", "port": o.Port, "createTableMs": 0, "deleteTableMs": 0, "updateTableMs": 0}
	if o.Path != "" {
		if err := os.MkdirAll(o.Path, 0o755); err != nil {
			return nil, fmt.Errorf("create dynalite data dir: %w", err)
		}
		opts["path"] = o.Path
	}
	optsJSON, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("encode dynalite options: %w", err)
	}
	portR, portW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	defer portR.Close()
	// The last two arguments reach the script as process.argv.slice(-2); it writes the
	// port it listens on to file descriptor 3.
	cmd := exec.Command("node", "-e", launchJS, "--", index, string(optsJSON))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.ExtraFiles = []*os.File{portW}
	// Kill dynalite with us even when we die without cleaning up: only we hold the write
	// end of its stdin, so when we die, however we die, the kernel closes it and dynalite
	// reads EOF and exits (launch.js). This works on every platform; Linux's Pdeathsig
	// (sysProcAttr) is quicker still.
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		portW.Close()
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	cmd.Stdin = lifeR
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	portW.Close() // the child holds its own copy; EOF on portR now means it is gone
	lifeR.Close()
	if err != nil {
		lifeW.Close()
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	s := &Server{cmd: cmd, lifeline: lifeW, exited: make(chan struct{})}
	go func() {
		<-s.exited
		s.lifeline.Close()
	}()
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()

	ports := make(chan int, 1)
	go func() {
		line, _ := bufio.NewReader(portR).ReadString('\n')
		port, _ := strconv.Atoi(strings.TrimSpace(line))
		ports <- port
	}()
	select {
	case port := <-ports:
		if port <= 0 {
			select {
			case <-s.exited:
			case <-time.After(3 * time.Second):
				s.Stop()
			}
			return nil, fmt.Errorf("dynalite exited before listening (its output is above): %v", s.Err())
		}
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		return s, nil
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	case <-time.After(20 * time.Second):
		s.Stop()
		return nil, errors.New("dynalite did not start listening within 20s")
	}
}

// Stop ends dynalite and waits for it.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Exited is closed when the dynalite process ends, by Stop or on its own;
// Err then says why.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Err is the process's exit status once Exited is closed.
func (s *Server) Err() error {
	select {
	case <-s.exited:
		return s.err
	default:
		return nil
	}
}

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
