package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	// The story re-executes its own binary as the agent ("-run N ..."):
	// under test, that binary is this test binary.
	if len(os.Args) > 1 && os.Args[1] == "-run" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestStory runs the demo end to end: run 1 killed after the email took
// effect, run 2 on the same SQLite file. story fails unless every side
// effect executed exactly once.
func TestStory(t *testing.T) {
	db := filepath.Join(t.TempDir(), "record.db")
	if err := story(db); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("the record was not kept at the chosen path: %v", err)
	}
}
