package canon

import (
	"os"
	"testing"
)

func TestDumpPayload(t *testing.T) {
	os.WriteFile("/tmp/p1k.json", apiPayload(1024), 0o644)
	os.WriteFile("/tmp/p1m.json", apiPayload(1<<20), 0o644)
}
