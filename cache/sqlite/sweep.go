package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/idemhttp/idemhttp/cache"
)

// sweepBatch is how many expired rows one statement deletes at most, so a
// sweep never holds the write lock for long.
const sweepBatch = 500

// Sweep deletes the records that have expired, in batches of a few hundred
// rows, and returns how many it deleted. The background sweep calls it; it
// is exported for tools and for stores opened with WithSweepInterval(0).
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	total := 0
	for {
		n, err := s.exec(ctx, s.stmts.sweep, []any{
			sql.Named("now", s.now().UnixMilli()),
			sql.Named("limit", sweepBatch),
		})
		total += int(n)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return total, fmt.Errorf("sqlite: sweep: %w", ctxErr)
			}
			return total, fmt.Errorf("sqlite: sweep %s: %w: %w", s.path, cache.ErrUnavailable, err)
		}
		if n < sweepBatch {
			return total, nil
		}
	}
}

// sweepEvery runs Sweep every interval until ctx ends. Errors are dropped:
// the next sweep tries again, and expired rows are invisible meanwhile.
func (s *Store) sweepEvery(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_, _ = s.Sweep(ctx)
		}
	}
}
