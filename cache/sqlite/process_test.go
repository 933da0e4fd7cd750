package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// The test binary re-executes itself as a helper process: TestHelperProcess
// does the work of the role named in helperRoleEnv, talking to the parent
// through lines on stdin and stdout that start with helperPrefix.
const (
	helperRoleEnv = "IDEMHTTP_SQLITE_HELPER"
	helperPathEnv = "IDEMHTTP_SQLITE_PATH"
	helperArgEnv  = "IDEMHTTP_SQLITE_ARG"
	helperPrefix  = "helper: "
)

// Helper roles.
const (
	roleHammer = "hammer" // claim keys 0..arg-1 once each, complete the wins
	roleHold   = "hold"   // claim one key with a lease of arg ms, then hang
	roleBench  = "bench"  // claim and complete arg new keys as fast as it can
	roleOpen   = "open"   // open the store and report the error
)

const (
	crashKey   = "crash-key"
	helperFP   = "helper-fingerprint"
	helperWait = 2 * time.Minute // bound on any wait for a helper
)

// TestHelperProcess is not a test: it is the body of the helper processes
// the other tests start, and returns at once in a normal run.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(helperRoleEnv)
	if role == "" {
		return
	}
	path, arg := os.Getenv(helperPathEnv), os.Getenv(helperArgEnv)
	say := func(format string, args ...any) { fmt.Printf(helperPrefix+format+"\n", args...) }
	stdin := bufio.NewScanner(os.Stdin)
	if role == roleOpen {
		s, err := Open(path, WithBusyTimeout(100*time.Millisecond))
		if err == nil {
			_ = s.Close()
		}
		say("unavailable=%t %v", errors.Is(err, cache.ErrUnavailable), err)
		return
	}
	n, err := strconv.Atoi(arg)
	if err != nil {
		t.Fatalf("helper arg %q: %v", arg, err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatalf("helper Open: %v", err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	switch role {
	case roleHammer:
		say("ready")
		stdin.Scan() // "go"
		counts := map[cache.Outcome]int{}
		for i := range n {
			key := hammerKey(i)
			c, err := s.Claim(ctx, key, helperFP, longLease)
			if err != nil {
				t.Fatalf("helper Claim(%q): %v", key, err)
			}
			counts[c.Outcome]++
			if c.Outcome == cache.Acquired {
				say("won %s", key)
				if err := s.Complete(ctx, key, c.Token, testEntry(key), longTTL); err != nil {
					t.Fatalf("helper Complete(%q): %v", key, err)
				}
			}
		}
		say("done acquired=%d busy=%d completed=%d", counts[cache.Acquired], counts[cache.Busy], counts[cache.Completed])
	case roleHold:
		c, err := s.Claim(ctx, crashKey, helperFP, time.Duration(n)*time.Millisecond)
		if err != nil || c.Outcome != cache.Acquired {
			t.Fatalf("helper Claim: %+v, %v", c, err)
		}
		say("claimed %d", c.Token)
		stdin.Scan() // until killed
	case roleBench:
		say("ready")
		stdin.Scan() // "go"
		prefix := fmt.Sprintf("bench-%d-", os.Getpid())
		if err := claimCompleteN(ctx, s, prefix, n); err != nil {
			t.Fatalf("helper: %v", err)
		}
		say("done")
	default:
		t.Fatalf("unknown helper role %q", role)
	}
}

func hammerKey(i int) string { return fmt.Sprintf("hammer-%03d", i) }

// claimCompleteN claims and completes n new keys under prefix.
func claimCompleteN(ctx context.Context, s *Store, prefix string, n int) error {
	e := testEntry("bench")
	for i := range n {
		key := prefix + strconv.Itoa(i)
		c, err := s.Claim(ctx, key, helperFP, longLease)
		if err != nil {
			return err
		}
		if c.Outcome != cache.Acquired {
			return fmt.Errorf("Claim(%q): %v", key, c.Outcome)
		}
		if err := s.Complete(ctx, key, c.Token, e, longTTL); err != nil {
			return err
		}
	}
	return nil
}

// helperProc is a running helper process.
type helperProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // helper lines without the prefix; closed at EOF
	exited chan error  // Wait's result, once the output is read
	stderr bytes.Buffer
}

// startHelper starts the test binary (or binary, if not empty) as a helper
// in role on the store at path, with arg; adjust, if not nil, may change the
// command before it starts.
func startHelper(t testing.TB, role, path, arg string, binary string, adjust func(*exec.Cmd)) *helperProc {
	t.Helper()
	if binary == "" {
		binary = os.Args[0]
	}
	h := &helperProc{t: t, lines: make(chan string, 1024), exited: make(chan error, 1)}
	h.cmd = exec.Command(binary, "-test.run=^TestHelperProcess$", "-test.count=1")
	h.cmd.Env = append(os.Environ(), helperRoleEnv+"="+role, helperPathEnv+"="+path, helperArgEnv+"="+arg)
	h.cmd.Stderr = &h.stderr
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(h.cmd)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("starting helper %s: %v", role, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), helperPrefix); ok {
				h.lines <- line
			}
		}
		close(h.lines)
		h.exited <- h.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = h.cmd.Process.Kill()
		<-h.exited
		h.exited <- nil // for a later wait
	})
	return h
}

// next returns the helper's next line; it fails the test if the helper ends
// first.
func (h *helperProc) next() string {
	h.t.Helper()
	select {
	case line, ok := <-h.lines:
		if !ok {
			err := <-h.exited
			h.exited <- err
			h.t.Fatalf("helper ended (%v) before its next line; stderr:\n%s", err, h.stderr.String())
		}
		return line
	case <-time.After(helperWait):
		h.t.Fatalf("no line from the helper within %v", helperWait)
	}
	return ""
}

// send writes a line to the helper's stdin.
func (h *helperProc) send(line string) {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, line+"\n"); err != nil {
		h.t.Fatalf("writing to the helper: %v", err)
	}
}

// wait waits for the helper to exit and fails the test if it failed.
func (h *helperProc) wait() {
	h.t.Helper()
	for range h.lines { // drain
	}
	err := <-h.exited
	h.exited <- err
	if err != nil {
		h.t.Fatalf("helper failed: %v; stderr:\n%s", err, h.stderr.String())
	}
}

// TestTwoProcessesOneWinnerPerKey: two processes open one new file at once
// and both claim the same 200 keys in the same order; every key is acquired
// exactly once across both, and the winner's completion is what is stored.
func TestTwoProcessesOneWinnerPerKey(t *testing.T) {
	const keys = 200
	path := filepath.Join(t.TempDir(), "shared.db")
	procs := []*helperProc{
		startHelper(t, roleHammer, path, strconv.Itoa(keys), "", nil),
		startHelper(t, roleHammer, path, strconv.Itoa(keys), "", nil),
	}
	for _, p := range procs {
		if line := p.next(); line != "ready" {
			t.Fatalf("helper said %q, want ready", line)
		}
	}
	for _, p := range procs {
		p.send("go")
	}
	winner := map[string]int{}
	for i, p := range procs {
		for {
			line := p.next()
			if key, ok := strings.CutPrefix(line, "won "); ok {
				if prev, dup := winner[key]; dup {
					t.Fatalf("key %s acquired by process %d and by process %d", key, prev, i)
				}
				winner[key] = i
				continue
			}
			var acquired, busy, completed int
			if _, err := fmt.Sscanf(line, "done acquired=%d busy=%d completed=%d", &acquired, &busy, &completed); err != nil {
				t.Fatalf("helper %d said %q: %v", i, line, err)
			}
			if acquired+busy+completed != keys {
				t.Fatalf("helper %d: %d+%d+%d outcomes, want %d", i, acquired, busy, completed, keys)
			}
			t.Logf("process %d: acquired %d, busy %d, completed %d", i, acquired, busy, completed)
			break
		}
		p.wait()
	}
	if len(winner) != keys {
		t.Fatalf("%d keys acquired, want all %d", len(winner), keys)
	}
	s := openAt(t, path)
	for i := range keys {
		key := hammerKey(i)
		c := mustClaim(t, s, key, helperFP, longLease, cache.Completed)
		if string(c.Entry.Body) != key {
			t.Fatalf("key %s replays %q", key, c.Entry.Body)
		}
	}
}

// TestKilledHolderIsReclaimedInDoubt: a process that claims a key and is
// killed (SIGKILL) leaves an in-flight record; once its lease passes,
// another process's claim acquires it flagged in doubt, and the dead
// process's token is fenced.
func TestKilledHolderIsReclaimedInDoubt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.db")
	const leaseMS = 200
	h := startHelper(t, roleHold, path, strconv.Itoa(leaseMS), "", nil)
	var dead cache.Token
	if _, err := fmt.Sscanf(h.next(), "claimed %d", &dead); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-h.exited; err == nil {
		t.Fatal("killed helper exited cleanly")
	}
	h.exited <- nil

	s := openAt(t, path) // the restarted process
	r, err := s.Get(ctx, crashKey)
	if err != nil || r.State != cache.InFlight || r.Token != dead || r.ClaimInDoubt {
		t.Fatalf("Get after the crash = %+v, %v; want in flight with the dead token %d", r, err, dead)
	}
	var c cache.Claim
	eventually(t, "the dead process's lease passing", func() bool {
		c, err = s.Claim(ctx, crashKey, helperFP, longLease)
		if err != nil {
			t.Fatal(err)
		}
		if c.Outcome != cache.Acquired && c.Outcome != cache.Busy {
			t.Fatalf("Claim after the crash: outcome %v", c.Outcome)
		}
		return c.Outcome == cache.Acquired
	})
	if !c.InDoubt {
		t.Fatal("claim after the holder was killed: InDoubt = false, want true")
	}
	if c.Token == dead {
		t.Fatal("reclaim reused the dead token")
	}
	if err := s.Complete(ctx, crashKey, dead, testEntry("zombie"), longTTL); !errors.Is(err, cache.ErrFenced) {
		t.Fatalf("Complete with the dead token = %v, want ErrFenced", err)
	}
	mustComplete(t, s, crashKey, c.Token, testEntry("resolved"), longTTL)
	if got := mustClaim(t, s, crashKey, helperFP, longLease, cache.Completed); string(got.Entry.Body) != "resolved" {
		t.Fatalf("replay %q, want the new holder's", got.Entry.Body)
	}
}
