package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// slots is how many round trips of a Store are on the wire at once, and how
// many goroutines it keeps to send batches. A call that finds a slot free
// and nobody queued sends its command itself, at once, as without
// pipelining; one that finds every slot taken queues, and the queue goes as
// one batch as soon as a slot frees up.
const slots = 2

// pipeliner sends the commands that many goroutines issue at about the same
// time as one pipeline: one write of all of them to Redis and one read of
// all their replies, instead of one round trip on its own connection each.
// There is no timer: a batch is whatever queued while the slots were busy.
//
// On Redis Cluster the go-redis pipeline splits a batch by node and sends
// the parts in parallel, so one pipeliner serves every kind of client.
type pipeliner struct {
	client goredis.UniversalClient
	// direct is set when the client cuts socket waits at context deadlines
	// (ContextTimeoutEnabled); otherwise each round trip runs in a goroutine
	// of its own that is abandoned at its deadline.
	direct bool

	life context.Context // ends at close, cutting the batches in flight
	end  context.CancelFunc

	// mu guards the fields below. The queue is empty unless every slot is
	// busy: a slot is given back only when nothing is queued.
	mu      sync.Mutex
	queue   []*request
	busy    int  // slots in use
	started bool // the flushers run
	closed  bool

	grants   chan struct{} // a busy slot handed to a flusher to send the queue
	stop     chan struct{} // closed by close
	flushing sync.WaitGroup

	// sending, when set by a test, is called with the number of commands of
	// each round trip (one for a call sent by itself) just before it is
	// written.
	sending func(n int)
}

// request is one caller's command waiting in the queue.
type request struct {
	ctx  context.Context // the caller's: it stops waiting when ctx ends
	cmd  *command
	done chan struct{} // closed once sent or err is set
	sent goredis.Cmder // the command as sent, with its reply
	err  error         // why the batch failed as a whole
}

func newPipeliner(client goredis.UniversalClient, direct bool) *pipeliner {
	life, end := context.WithCancel(context.Background())
	return &pipeliner{
		client: client,
		direct: direct,
		life:   life,
		end:    end,
		grants: make(chan struct{}, slots),
		stop:   make(chan struct{}),
	}
}

// do sends cmd and waits for its reply, or until ctx ends: by itself when
// a slot is free, else in the next batch. A queued command whose caller
// stopped waiting before its batch was written is never sent; one already
// written runs, and its reply is dropped.
func (p *pipeliner) do(ctx context.Context, cmd *command) (goredis.Cmder, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errClosed
	}
	if p.busy < slots && len(p.queue) == 0 {
		p.busy++
		p.mu.Unlock()
		defer p.release()
		if p.sending != nil {
			p.sending(1)
		}
		return boundedBy(ctx, p.direct, func(ctx context.Context) (goredis.Cmder, error) {
			return sendDirect(ctx, p.client, cmd)
		})
	}
	r := &request{ctx: ctx, cmd: cmd, done: make(chan struct{})}
	p.queue = append(p.queue, r)
	if !p.started {
		p.started = true
		for range slots {
			p.flushing.Go(p.flush)
		}
	}
	p.mu.Unlock()

	select {
	case <-r.done:
		if r.err != nil {
			return nil, r.err
		}
		return r.sent, r.sent.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release gives back the slot of a call sent by itself, or hands it to a
// flusher when calls queued meanwhile.
func (p *pipeliner) release() {
	p.mu.Lock()
	handOver := len(p.queue) > 0
	if !handOver {
		p.busy--
	}
	p.mu.Unlock()
	if handOver {
		p.grants <- struct{}{} // never blocks: at most one grant per slot
	}
}

// flush sends the queue, in batches, each time it is handed a slot, until
// close.
func (p *pipeliner) flush() {
	var spare []*request
	for {
		select {
		case <-p.grants:
		case <-p.stop:
			return
		}
		for {
			batch, ok := p.take(spare)
			if !ok {
				break
			}
			p.send(batch)
			clear(batch)
			spare = batch[:0]
		}
	}
}

// take returns the queued requests, leaving spare's storage as the queue,
// or gives back the slot when the queue is empty.
func (p *pipeliner) take(spare []*request) ([]*request, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		p.busy--
		return spare, false
	}
	batch := p.queue
	p.queue = spare[:0]
	return batch, true
}

// send writes the batch as one pipeline and hands every caller its reply.
// The batch is bounded by the latest deadline of its callers (each within
// the Store's timeout) and by close.
func (p *pipeliner) send(batch []*request) {
	live := make([]*request, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := p.batchContext(live)
	defer cancel()

	// exec owns cmds and sent: when the flusher stops waiting for it, it
	// may still be running.
	cmds := make([]*command, len(live))
	sent := make([]goredis.Cmder, len(live))
	pipe := p.client.Pipeline()
	for i, r := range live {
		cmds[i] = r.cmd
		sent[i] = r.cmd.addTo(ctx, pipe)
	}
	if p.sending != nil {
		p.sending(len(live))
	}
	replies, err := boundedBy(ctx, p.direct, func(ctx context.Context) ([]goredis.Cmder, error) {
		return p.exec(ctx, pipe, cmds, sent), nil
	})
	if err != nil && p.life.Err() != nil {
		err = errClosed
	}
	for i, r := range live {
		if err != nil {
			r.err = err
		} else {
			r.sent = replies[i]
		}
		close(r.done)
	}
}

// batchContext is the context of a batch: it ends at close or at the latest
// deadline of the requests in it, if all have one.
func (p *pipeliner) batchContext(live []*request) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, r := range live {
		d, ok := r.ctx.Deadline()
		if !ok {
			return context.WithCancel(p.life)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(p.life, latest)
}

// exec runs pipe, which holds cmds as sent, and then, in one more pipeline,
// every script the server did not have cached. It returns the commands as
// last sent; each carries its own reply or error.
func (p *pipeliner) exec(ctx context.Context, pipe goredis.Pipeliner, cmds []*command, sent []goredis.Cmder) []goredis.Cmder {
	_, _ = pipe.Exec(ctx) // errors are kept by each command
	var retry goredis.Pipeliner
	for i, cmd := range cmds {
		if cmd.needsRetry(sent[i]) {
			if retry == nil {
				retry = p.client.Pipeline()
			}
			sent[i] = cmd.retryTo(ctx, retry)
		}
	}
	if retry != nil {
		_, _ = retry.Exec(ctx)
	}
	return sent
}

// close fails the queued requests, cuts the batches in flight and stops the
// flushers. With a client that honours context deadlines a batch already
// written may hold close until its deadline, if the server does not answer.
func (p *pipeliner) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	pending := p.queue
	p.queue = nil
	p.mu.Unlock()
	for _, r := range pending {
		r.err = errClosed
		close(r.done)
	}
	p.end()
	close(p.stop)
	p.flushing.Wait()
}
