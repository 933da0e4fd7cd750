package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"
)

// command is the one Redis command of a Store operation: a script run on
// keys, or a read. It is added to a goredis.Cmdable, which runs it at once
// when it is the client and queues it when it is a pipeline, so the same
// command serves both ways of sending (see sendDirect and pipeliner).
type command struct {
	script *goredis.Script // run as EVALSHA, retried as EVAL on NOSCRIPT; nil for a read
	keys   []string
	args   []any
	read   func(ctx context.Context, c goredis.Cmdable) goredis.Cmder // when script is nil
}

// scriptCommand is script run on keys with args.
func scriptCommand(script *goredis.Script, keys []string, args []any) *command {
	return &command{script: script, keys: keys, args: args}
}

// readCommand is the command read adds.
func readCommand(read func(ctx context.Context, c goredis.Cmdable) goredis.Cmder) *command {
	return &command{read: read}
}

// addTo adds the command to c: EVALSHA for a script, whose text the server
// may not have cached yet (see retryTo).
func (cmd *command) addTo(ctx context.Context, c goredis.Cmdable) goredis.Cmder {
	if cmd.script != nil {
		return cmd.script.EvalSha(ctx, c, cmd.keys, cmd.args...)
	}
	return cmd.read(ctx, c)
}

// needsRetry reports whether sent, what addTo added, failed only because the
// server does not have the script cached (after a restart or SCRIPT FLUSH).
func (cmd *command) needsRetry(sent goredis.Cmder) bool {
	return cmd.script != nil && goredis.HasErrorPrefix(sent.Err(), "NOSCRIPT")
}

// retryTo adds the command again to c as EVAL, which sends the script's text
// and caches it on the server that runs it. EVAL rather than SCRIPT LOAD:
// in a Redis Cluster pipeline a SCRIPT LOAD would reach one node, while the
// EVAL reaches the node that answered NOSCRIPT.
func (cmd *command) retryTo(ctx context.Context, c goredis.Cmdable) goredis.Cmder {
	return cmd.script.Eval(ctx, c, cmd.keys, cmd.args...)
}

// sendDirect runs cmd on client by itself: one round trip, two when the
// script must be sent again.
func sendDirect(ctx context.Context, client goredis.UniversalClient, cmd *command) (goredis.Cmder, error) {
	sent := cmd.addTo(ctx, client)
	if cmd.needsRetry(sent) {
		sent = cmd.retryTo(ctx, client)
	}
	return sent, sent.Err()
}
