package idemhttp

import "context"

type ctxKey int

const (
	scopeKey ctxKey = iota
	explicitKey
	optOutKey
	usedKey
)

// WithScope returns a context whose requests get keys derived within scope,
// such as an agent session or task id. The same operation in two scopes is
// two operations; in one scope, it is one, across retries and restarts.
func WithScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, scopeKey, scope)
}

// WithKey returns a context whose request uses key as its idempotency key
// instead of a derived one. The request's fingerprint still guards the key:
// reusing it for another payload fails with ErrKeyReused.
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, explicitKey, key)
}

// WithoutIdempotency returns a context whose requests pass through the
// Transport untouched: no key, no retry, no record.
func WithoutIdempotency(ctx context.Context) context.Context {
	return context.WithValue(ctx, optOutKey, true)
}

// ScopeFrom returns the scope set by WithScope, or "".
func ScopeFrom(ctx context.Context) string {
	s, _ := ctx.Value(scopeKey).(string)
	return s
}

func keyFrom(ctx context.Context) (string, bool) {
	k, ok := ctx.Value(explicitKey).(string)
	return k, ok
}

func optedOut(ctx context.Context) bool {
	v, _ := ctx.Value(optOutKey).(bool)
	return v
}
