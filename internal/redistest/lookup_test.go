package redistest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recordingTB records how a helper ended the test instead of ending it.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// lookMissing runs lookBinary for a program that does not exist.
func lookMissing(t *testing.T) *recordingTB {
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		lookBinary(rec, "redistest-no-such-binary")
	}()
	<-done
	return rec
}

func TestMissingBinarySkips(t *testing.T) {
	t.Setenv(RequireEnv, "")
	rec := lookMissing(t)
	if rec.failed != "" || !strings.Contains(rec.skipped, "redistest-no-such-binary") {
		t.Fatalf("skipped %q, failed %q; want a skip naming the binary", rec.skipped, rec.failed)
	}
}

func TestMissingBinaryFailsWhenRequired(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	rec := lookMissing(t)
	if rec.skipped != "" || !strings.Contains(rec.failed, RequireEnv) {
		t.Fatalf("skipped %q, failed %q; want a failure naming %s", rec.skipped, rec.failed, RequireEnv)
	}
}
