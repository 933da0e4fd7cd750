package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/idemhttp/idemhttp/internal/faultserver"
)

// report prints the final table and fails unless every side effect executed
// exactly once.
func report(srv *faultserver.Server, events []event) error {
	byCall := map[string][]event{}
	for _, ev := range events {
		byCall[ev.Call] = append(byCall[ev.Call], ev)
	}
	fmt.Println("\nside effects at the provider")
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "tool call\texecuted\trun 1\trun 2")
	var bad []string
	sends, replays, killed := 0, 0, false
	for _, call := range plan(2) {
		n := srv.RouteEffects("POST", call.path)
		if n != 1 {
			bad = append(bad, fmt.Sprintf("%s executed %d times", call.name, n))
		}
		cols := [2]string{"-", "-"}
		for _, ev := range byCall[call.name] {
			sends += ev.Sends
			if ev.Replayed {
				replays++
			}
			cols[ev.Run-1] = summary(ev)
		}
		if cols[0] == "-" && !killed {
			cols[0], killed = "sent, killed before its response was recorded", true
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", call.name, n, cols[0], cols[1])
	}
	w.Flush()
	retries := 0
	for _, ev := range events {
		if !ev.Replayed && ev.Sends > 1 {
			retries += ev.Sends - 1
		}
	}
	fmt.Printf("\nrequests sent: %d (retries: %d), replays: %d\n", sends, retries, replays)
	for _, ev := range events {
		for _, note := range ev.Notes {
			if strings.Contains(note, "probe") || strings.Contains(note, "doubt") {
				fmt.Printf("in doubt: %s (run %d): %s\n", ev.Call, ev.Run, note)
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("duplicate or missing side effects: %s", strings.Join(bad, "; "))
	}
	fmt.Println("every side effect executed exactly once")
	return nil
}
