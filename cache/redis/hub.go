package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// subscribeBackoff is how long the hub waits, after its pub/sub connection
// failed, before it opens a new one. Waits in between poll (see Wait).
const subscribeBackoff = time.Second

// hub shares one pub/sub connection among all the waiters of a Store: it
// subscribes to a record's wake channel while someone waits on it and fans
// each notification out to those waiters.
//
// The connection is opened on the first wait. Any failure of it (Redis
// restarted, network cut, pub/sub refused) wakes every waiter — a spurious
// wake-up only makes the caller look at the record again — and drops the
// connection; the next wait after subscribeBackoff opens a new one.
type hub struct {
	client  goredis.UniversalClient
	timeout time.Duration

	mu       sync.Mutex
	conn     *subscriber // nil before the first wait and after a failure
	retryAt  time.Time   // no new connection before this
	closed   bool
	channels map[string]*channelState // of conn
	readers  sync.WaitGroup
}

// subscriber is one pub/sub connection and its reader goroutine.
type subscriber struct {
	ps      *goredis.PubSub
	ctx     context.Context
	cancel  context.CancelFunc
	reading bool
}

// channelState tracks one wake channel on the connection. Commands for a
// channel are written in order under hub.mu and Redis answers each SUBSCRIBE
// and UNSUBSCRIBE with one reply, in order, so once pending drops to zero
// the last command sent is the one in force.
type channelState struct {
	waiters    map[*waiter]struct{}
	subscribed bool          // the last command sent was SUBSCRIBE
	pending    int           // replies still due
	ready      chan struct{} // closed once the last SUBSCRIBE is confirmed
}

// waiter is one Wait listening on a channel.
type waiter struct {
	channel string
	woken   chan struct{}   // closed by a notification or a failure
	ready   <-chan struct{} // closed once subscribed; nil when pub/sub is unavailable
	isWoken bool
}

func newHub(client goredis.UniversalClient, timeout time.Duration) *hub {
	return &hub{client: client, timeout: timeout, channels: map[string]*channelState{}}
}

// join registers a waiter on channel, subscribing to it if needed. When
// pub/sub is unavailable the waiter's ready channel is nil; when the hub is
// closed the waiter is already woken.
func (h *hub) join(ctx context.Context, channel string) *waiter {
	w := &waiter{channel: channel, woken: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		w.wake()
		return w
	}
	sub := h.connLocked()
	if sub == nil {
		return w
	}
	cs := h.channels[channel]
	if cs == nil {
		cs = &channelState{waiters: map[*waiter]struct{}{}}
		h.channels[channel] = cs
	}
	if !cs.subscribed {
		cs.subscribed = true
		cs.pending++
		cs.ready = make(chan struct{})
		ctx, cancel := context.WithTimeout(ctx, h.timeout)
		err := sub.ps.Subscribe(ctx, channel)
		cancel()
		if err != nil {
			h.failLocked(sub)
			return w
		}
	}
	if !sub.reading {
		sub.reading = true
		h.readers.Add(1)
		go h.read(sub)
	}
	cs.waiters[w] = struct{}{}
	w.ready = cs.ready
	return w
}

// leave unregisters w, unsubscribing from its channel when it was the last.
func (h *hub) leave(w *waiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.channels[w.channel]
	if cs == nil {
		return
	}
	if _, ok := cs.waiters[w]; !ok {
		return
	}
	delete(cs.waiters, w)
	if len(cs.waiters) > 0 || !cs.subscribed {
		return
	}
	cs.subscribed = false
	cs.pending++
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	if err := h.conn.ps.Unsubscribe(ctx, w.channel); err != nil {
		h.failLocked(h.conn)
	}
}

// connLocked returns the pub/sub connection, creating it unless a recent
// failure asks to wait. The network connection itself is dialled by the
// first SUBSCRIBE.
func (h *hub) connLocked() *subscriber {
	if h.conn != nil {
		return h.conn
	}
	if time.Now().Before(h.retryAt) {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.conn = &subscriber{ps: h.client.Subscribe(ctx), ctx: ctx, cancel: cancel}
	return h.conn
}

// read delivers what arrives on sub until it fails or is closed.
func (h *hub) read(sub *subscriber) {
	defer h.readers.Done()
	for {
		msg, err := sub.ps.Receive(sub.ctx)
		h.mu.Lock()
		if err != nil {
			h.failLocked(sub)
			h.mu.Unlock()
			return
		}
		h.dispatchLocked(sub, msg)
		h.mu.Unlock()
	}
}

// dispatchLocked handles one message of sub.
func (h *hub) dispatchLocked(sub *subscriber, msg any) {
	if h.conn != sub {
		return
	}
	switch m := msg.(type) {
	case *goredis.Message:
		if cs := h.channels[m.Channel]; cs != nil {
			for w := range cs.waiters {
				w.wake()
			}
		}
	case *goredis.Subscription:
		cs := h.channels[m.Channel]
		if cs == nil || cs.pending == 0 {
			return
		}
		cs.pending--
		switch {
		case cs.pending > 0:
		case cs.subscribed:
			close(cs.ready)
		case len(cs.waiters) == 0:
			delete(h.channels, m.Channel)
		}
	}
}

// failLocked drops sub if it is the current connection: every waiter is
// woken, and no new connection is opened for subscribeBackoff.
func (h *hub) failLocked(sub *subscriber) {
	if h.conn != sub {
		return
	}
	h.conn = nil
	h.retryAt = time.Now().Add(subscribeBackoff)
	for _, cs := range h.channels {
		for w := range cs.waiters {
			w.wake()
		}
	}
	h.channels = map[string]*channelState{}
	sub.cancel()
	_ = sub.ps.Close()
}

// close drops the connection, wakes every waiter, and waits for the reader.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	if h.conn != nil {
		h.failLocked(h.conn)
	}
	h.mu.Unlock()
	h.readers.Wait()
}

// wake wakes w once. The caller holds hub.mu.
func (w *waiter) wake() {
	if !w.isWoken {
		w.isWoken = true
		close(w.woken)
	}
}
