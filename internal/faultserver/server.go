// Package faultserver is a real loopback HTTP server for tests and demos that
// injects faults (resets, lost responses, error statuses, hangs, holds) and
// counts the side effects each request performs.
//
// It answers the question a client of a payments or email API cares about:
// after timeouts, resets and retries, how many times did the charge really
// happen? Each Route names its side effect (EffectID); the server counts how
// often every effect was performed, records every request it received, and
// can de-duplicate by an idempotency-key header the way Stripe does.
//
// Faults are injected per route and consumed one per request, first in first
// out; a route without pending faults answers normally:
//
//	srv, err := faultserver.Start(faultserver.Route{Method: "POST", Path: "/v1/charges", KeyHeader: "Idempotency-Key"})
//	...
//	defer srv.Close()
//	srv.Inject("POST", "/v1/charges", faultserver.LostAckFault())
//	// the first POST is performed but its response is lost; a retry with the
//	// same Idempotency-Key is answered with the recorded response.
//
// The package does not depend on package testing; it binds 127.0.0.1 only.
package faultserver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxBodyBytes bounds the request bodies the server reads (413 beyond).
const maxBodyBytes = 32 << 20

// Server is a running fault-injecting server. Its methods are safe for
// concurrent use.
type Server struct {
	routes  map[string]Route // by routeName; read-only after Start
	lookups map[string]bool  // lookup paths served on GET; read-only after Start

	url       string
	http      *http.Server
	served    chan struct{} // closed when Serve has returned
	done      chan struct{} // closed by Close: ends every Hang and HoldBefore
	handlers  sync.WaitGroup
	closeOnce sync.Once

	mu      sync.Mutex
	closed  bool
	changed chan struct{} // closed and replaced on every state change (Await)
	st      state
}

// Start validates the routes and serves them on a new listener on
// 127.0.0.1 (a free port). Any other method and path is answered 404.
// Call Close when done.
func Start(routes ...Route) (*Server, error) {
	s := &Server{
		routes:  make(map[string]Route, len(routes)),
		lookups: make(map[string]bool),
		served:  make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		st:      newState(),
	}
	for _, rt := range routes {
		if err := rt.validate(); err != nil {
			return nil, err
		}
		name := routeName(rt.Method, rt.Path)
		if _, dup := s.routes[name]; dup {
			return nil, fmt.Errorf("%w: %s declared twice", ErrInvalidRoute, name)
		}
		s.routes[name] = rt
		if rt.LookupPath != "" {
			s.lookups[rt.LookupPath] = true
		}
	}
	for path := range s.lookups {
		if _, clash := s.routes[routeName(http.MethodGet, path)]; clash {
			return nil, fmt.Errorf("%w: lookup path %s is also a GET route", ErrInvalidRoute, path)
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultserver: listen on loopback: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0), // resets are the point, not news
	}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

// URL is the server's base URL, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.url }

// Close stops the server: it closes the listener and every connection, ends
// every Hang and HoldBefore (their connections are dropped), and returns once
// every handler has returned. Counts stay readable. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		s.mu.Unlock()
		_ = s.http.Close()
		<-s.served
		s.handlers.Wait()
	})
}

// Await blocks until cond returns true or ctx ends. cond is evaluated now and
// after every change of the server's state (a request received, an effect
// performed, a request finished), so tests can wait for "the request is being
// held" or "the effect happened" without sleeping. cond may call the
// server's query methods.
func (s *Server) Await(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("faultserver: condition not met: %w", ctx.Err())
		}
	}
}

// notifyLocked wakes every Await; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// enter registers a running handler, or reports that the server is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	return true
}

// ServeHTTP serves one request: it reads the whole body, consumes the
// route's next fault, and lets the fault decide what happens around the
// effect.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		drop(w)
		return
	}
	defer s.handlers.Done()
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	name := routeName(r.Method, r.URL.Path)
	rt, isRoute := s.routes[name]
	isLookup := r.Method == http.MethodGet && s.lookups[r.URL.Path]
	var adm *admission
	if isRoute && readErr == nil {
		adm = &admission{sum: sha256.Sum256(body)}
		if rt.KeyHeader != "" {
			adm.key = r.Header.Get(rt.KeyHeader)
		}
	}
	x := &exchange{s: s, w: w, r: r}
	var v verdict
	x.fault, x.rec, v = s.arrive(name, r.Header, body, isRoute || isLookup, adm)

	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(readErr, &tooLarge):
		x.answer(bodyTooLarge, false)
	case readErr != nil: // the client went away mid-body
		x.drop()
	case !isRoute && !isLookup:
		x.answer(notFound, false)
	case x.fault.Kind == Reset:
		x.drop()
	case x.fault.Kind == StatusBefore:
		x.answerFault()
	case isLookup:
		x.serveLookup()
	default:
		x.serveEffect(name, rt, body, adm.key, v)
	}
}
