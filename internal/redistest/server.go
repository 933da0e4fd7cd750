// Package redistest starts real redis-server processes for tests: a
// standalone server on a free 127.0.0.1 port, or a small Redis Cluster.
//
// Servers run without persistence (--save "" --appendonly no) in a
// t.TempDir(), so a restart comes back empty. Every process is killed by the
// test's cleanup.
//
// When redis-server is not installed the test is skipped with a message
// saying so, unless the environment sets IDEMHTTP_REQUIRE_REDIS=1 (CI does),
// which turns the skip into a failure.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RequireEnv is the environment variable that turns a missing redis-server
// into a test failure instead of a skip.
const RequireEnv = "IDEMHTTP_REQUIRE_REDIS"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 30 * time.Second

// launchAttempts is how many free ports Start tries before giving up (a port
// found free can be taken by another process before redis-server binds it).
const launchAttempts = 5

// logLines is how many lines of the server's log are kept for error messages.
const logLines = 40

// Server is one redis-server process listening on 127.0.0.1.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	args []string

	mu   sync.Mutex
	proc *process // nil while killed
}

// Start starts redis-server on a free 127.0.0.1 port with no persistence,
// waits until it answers PING, and registers its shutdown with tb.Cleanup.
// Extra args are passed to redis-server (for example "--maxmemory", "2mb").
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	return start(tb, freePort, args)
}

// start starts a server on a port chosen by pick, trying a few ports.
func start(tb testing.TB, pick func() (int, error), args []string) *Server {
	tb.Helper()
	bin := lookBinary(tb, "redis-server")
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), args: args}
	tb.Cleanup(s.Kill)

	var lastErr error
	for range launchAttempts {
		port, err := pick()
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		s.port = port
		if lastErr = s.launch(); lastErr == nil {
			return s
		}
	}
	tb.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

// Addr returns the server's address, "127.0.0.1:PORT".
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Client returns a new client of the server, closed by the test's cleanup.
func (s *Server) Client() goredis.UniversalClient {
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr()})
	s.tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill stops the server with SIGKILL and waits for the process to exit.
// Killing a killed server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Restart kills the server if it runs and starts it again, empty, on the same
// port. It fails the test if the port cannot be bound again.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	if err := s.launch(); err != nil {
		s.tb.Fatalf("redistest: restarting redis-server on port %d: %v", s.port, err)
	}
}

// launch starts the process on s.port and waits until it answers PING.
func (s *Server) launch() error {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--logfile", "",
		"--daemonize", "no",
	}
	p, err := startProcess(s.bin, append(args, s.args...))
	if err != nil {
		return err
	}
	if err := ping(s.Addr()); err != nil {
		p.kill()
		return fmt.Errorf("%w\n%s", err, p.log())
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// lookBinary finds name in PATH, or skips (or fails, under RequireEnv) the test.
func lookBinary(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err == nil {
		return bin
	}
	msg := fmt.Sprintf("redistest: %s not found in PATH (%v); install Redis (apt-get install redis-server)", name, err)
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s; %s=1 requires it", msg, RequireEnv)
	}
	tb.Skipf("%s, or set %s=1 to make this a failure", msg, RequireEnv)
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping waits until the server at addr answers PING.
func ping(addr string) error {
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("PING %s: %w", addr, err)
	}
	return nil
}

// process is a running redis-server whose log is read until it exits.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and been reaped

	mu    sync.Mutex
	lines []string // the last logLines lines of output
}

// readyLine is what redis-server logs once it accepts connections.
const readyLine = "Ready to accept connections"

// startProcess runs bin with args and waits until it logs readyLine or exits.
func startProcess(bin string, args []string) (*process, error) {
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan struct{})
	go p.follow(bufio.NewScanner(out), ready)

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before accepting connections (%s)\n%s", bin, cmd.ProcessState, p.log())
	case <-timer.C:
		p.kill()
		return nil, fmt.Errorf("%s did not accept connections within %v\n%s", bin, startTimeout, p.log())
	}
}

// follow keeps the tail of the log, signals ready once, and reaps the process
// when its output ends.
func (p *process) follow(sc *bufio.Scanner, ready chan<- struct{}) {
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.lines = append(p.lines, line)
		if len(p.lines) > logLines {
			p.lines = p.lines[len(p.lines)-logLines:]
		}
		p.mu.Unlock()
		if !signalled && strings.Contains(line, readyLine) {
			signalled = true
			close(ready)
		}
	}
	_ = p.cmd.Wait()
	close(p.exited)
}

// kill sends SIGKILL and waits until the process is reaped.
func (p *process) kill() {
	// An error means the process has exited already; follow reaps it either way.
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// log returns the last lines the process printed.
func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}
