package idemhttp_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// This process is a child of a crash test: an agent to be killed.
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}
