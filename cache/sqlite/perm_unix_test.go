//go:build unix

package sqlite

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/idemhttp/idemhttp/cache"
)

// nobody is the unprivileged user the read-only tests run Open as when the
// tests run as root, for whom file modes are no obstacle.
const nobody = 65534

// openAsUnprivileged runs Open(path) as a user that the file modes apply to
// and returns its error text, failing the test unless the error wraps
// cache.ErrUnavailable. As root it re-executes a copy of the test binary as
// nobody; dirs are made traversable for that user.
func openAsUnprivileged(t *testing.T, path string, dirs ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		s, err := Open(path)
		if err == nil {
			_ = s.Close()
			t.Fatalf("Open(%s) succeeded, want an error", path)
		}
		wantUnavailable(t, "Open", err)
		return err.Error()
	}
	binDir := t.TempDir()
	for _, d := range append(dirs, binDir, filepath.Dir(binDir)) {
		if err := os.Chmod(d, os.ModeDir|0o755); err != nil {
			t.Fatal(err)
		}
	}
	binary := filepath.Join(binDir, "sqlite.test")
	copyFile(t, os.Args[0], binary, 0o755)
	h := startHelper(t, roleOpen, path, "", binary, func(cmd *exec.Cmd) {
		cmd.Dir = binDir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	})
	line := h.next()
	h.wait()
	msg, ok := strings.CutPrefix(line, "unavailable=true ")
	if !ok {
		t.Fatalf("Open as nobody: %s; want an error wrapping cache.ErrUnavailable", line)
	}
	return msg
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// storeFile writes a closed store holding one completed record at
// dir/idem.db, with the given file mode.
func storeFile(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, "idem.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c := mustClaim(t, s, "k", "fp", longLease, cache.Acquired)
	mustComplete(t, s, "k", c.Token, testEntry("x"), longTTL)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenReadOnlyFile: a database file the user cannot write is refused
// with ErrUnavailable and left unchanged.
func TestOpenReadOnlyFile(t *testing.T) {
	dir := t.TempDir()
	path := storeFile(t, dir, 0o444)
	if err := os.Chmod(dir, os.ModeDir|0o777); err != nil { // only the file is read-only
		t.Fatal(err)
	}
	before := snapshotFile(t, path)
	msg := openAsUnprivileged(t, path, dir)
	t.Logf("Open: %s", msg)
	if !containsFold(msg, "readonly") && !containsFold(msg, "read-only") && !containsFold(msg, "permission") {
		t.Errorf("error %q does not say the file is read-only", msg)
	}
	before.wantUnchanged(t, path)
}

// TestOpenReadOnlyDirectory: in a directory the user cannot write, a new
// store cannot be created, and an existing one (whose -wal and -shm files
// cannot be created) is refused and left unchanged.
func TestOpenReadOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	path := storeFile(t, dir, 0o666)
	if err := os.Chmod(dir, os.ModeDir|0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, os.ModeDir|0o755) }) // so TempDir can remove it
	before := snapshotFile(t, path)

	msg := openAsUnprivileged(t, filepath.Join(dir, "new.db"), dir)
	t.Logf("Open(new): %s", msg)
	if !containsFold(msg, "permission denied") {
		t.Errorf("error %q does not say permission denied", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("new.db exists after a refused Open (stat: %v)", err)
	}

	msg = openAsUnprivileged(t, path, dir)
	t.Logf("Open(existing): %s", msg)
	before.wantUnchanged(t, path)
}
