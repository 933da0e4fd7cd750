// Command agent is idemhttp's main demo: an agent-style tool loop (a
// scripted plan, no model needed) that charges a customer, sends a welcome
// email, creates an order and books a slot through idemhttp, against an
// in-process fake provider that injects faults: a lost acknowledgement, a
// 500, a 429 with Retry-After, and a crash.
//
// It runs the story twice by itself. Run 1 is killed (SIGKILL) after the
// welcome email took effect at the provider but before its response was
// recorded. Run 2 restarts with the same session scope and the same SQLite
// file and finishes the task: what completed is replayed from the record,
// the email is in doubt and settled by a probe, the rest is sent. The final
// table shows how many times each side effect executed (each exactly once).
//
//	go run ./examples/agent            # SQLite file in a temp dir, removed after
//	go run ./examples/agent -db x.db   # keep the record in x.db
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/idemhttp/idemhttp/internal/faultserver"
)

func main() {
	dbPath := flag.String("db", "", "SQLite file for the record (default: a new file in a temp dir, removed at exit)")
	run := flag.Int("run", 0, "internal: run the agent as run N against -server")
	server := flag.String("server", "", "internal: the fake provider's address")
	flag.Parse()
	if *run > 0 {
		if err := runAgent(*run, *server, *dbPath); err != nil {
			fmt.Fprintln(os.Stderr, "agent:", err)
			os.Exit(1)
		}
		return
	}
	if err := story(*dbPath); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// story hosts the fake provider and runs the agent twice.
func story(dbPath string) error {
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "idemhttp-agent-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "record.db")
	}
	srv, err := startProvider()
	if err != nil {
		return err
	}
	defer srv.Close()
	hang := make(chan struct{})
	defer close(hang)
	srv.Inject("POST", chargePath, faultserver.LostAckFault())
	srv.Inject("POST", mailPath, faultserver.HangFault(hang))
	srv.Inject("POST", orderPath, faultserver.StatusAfterFault(500))
	srv.Inject("POST", bookingPath, faultserver.StatusBeforeFault(429, "1"))

	fmt.Printf("idemhttp agent demo\n  fake provider: %s\n  record (SQLite): %s\n\n", srv.URL(), dbPath)
	var events []event

	// Run 1: killed once the email has gone out, before its answer is recorded.
	evs, err := spawn(1, srv.URL(), dbPath, func(p *os.Process) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv.Await(ctx, func() bool { return srv.RouteEffects("POST", mailPath) == 1 })
		fmt.Println("run 1 | the welcome email went out; killing the agent (SIGKILL) before its response is recorded")
		p.Kill()
	})
	events = append(events, evs...)
	if err == nil {
		return fmt.Errorf("run 1 was expected to be killed")
	}
	fmt.Println()

	// Run 2: same session, same record, finishes the task.
	evs, err = spawn(2, srv.URL(), dbPath, nil)
	events = append(events, evs...)
	if err != nil {
		return fmt.Errorf("run 2: %w", err)
	}
	return report(srv, events)
}

// spawn runs the agent as a child process and relays its output. watch, if
// set, runs beside it with the child's process.
func spawn(run int, server, dbPath string, watch func(*os.Process)) ([]event, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-run", fmt.Sprint(run), "-server", server, "-db", dbPath)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if watch != nil {
		go watch(cmd.Process)
	}
	events := relay(run, out)
	return events, cmd.Wait()
}

// relay prints the child's lines and collects its events.
func relay(run int, r io.Reader) []event {
	var events []event
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if js, ok := strings.CutPrefix(line, eventPrefix); ok {
			var ev event
			if json.Unmarshal([]byte(js), &ev) == nil {
				events = append(events, ev)
			}
			continue
		}
		fmt.Printf("run %d | %s\n", run, line)
	}
	return events
}
