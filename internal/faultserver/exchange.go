package faultserver

import "net/http"

// exchange is one request being served, and the fault it consumed.
type exchange struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	fault Fault
	rec   *Received // this request's record, updated when it finishes
}

// serveEffect runs an effect route once its key was admitted (v): HoldBefore,
// the effect, then the delivery of the answer, where the after-effect faults
// apply.
func (x *exchange) serveEffect(name string, rt Route, body []byte, key string, v verdict) {
	if x.fault.Kind == HoldBefore && !x.wait() {
		x.s.abandon(name, key, v.claim) // nothing was performed: forget the key
		x.drop()
		return
	}
	if v.answered {
		x.deliver(v.resp, v.replayed, nil)
		return
	}
	effect := rt.effectID(x.r, body)
	settled := x.fault.Kind != Hang // a hanging request is still executing
	resp := x.s.perform(name, rt, effect, rt.traceValues(x.r.Header), v.claim, settled)
	x.deliver(resp, false, v.claim)
}

// serveLookup answers GET LookupPath?key=K.
func (x *exchange) serveLookup() {
	if x.fault.Kind == HoldBefore && !x.wait() {
		x.drop()
		return
	}
	x.deliver(x.s.lookup(x.r.URL.Path, x.r.URL.Query().Get("key")), false, nil)
}

// deliver sends resp, or what the fault puts in its place. claim, when not
// nil, is settled (marked finished for its key) before the client can see
// the outcome.
func (x *exchange) deliver(resp response, replayed bool, claim *keyEntry) {
	switch x.fault.Kind {
	case LostAck:
		x.drop()
	case StatusAfter:
		x.answerFault()
	case Hang:
		released := x.wait()
		x.s.settle(claim)
		if !released {
			x.drop()
			return
		}
		x.answer(resp, replayed)
	default:
		x.answer(resp, replayed)
	}
}

// wait blocks a Hang or HoldBefore. It reports true when the fault was
// released, false when the client went away or the server is closing.
func (x *exchange) wait() bool {
	select {
	case <-x.fault.Release: // a nil Release never fires
		return true
	case <-x.r.Context().Done():
		return false
	case <-x.s.done:
		return false
	}
}

// answer records and writes resp.
func (x *exchange) answer(resp response, replayed bool) {
	x.s.finish(x.rec, resp.status, replayed)
	write(x.w, resp, replayed, "")
}

// answerFault records and writes the fault's error status.
func (x *exchange) answerFault() {
	resp := faultResponse(x.fault.Status)
	x.s.finish(x.rec, resp.status, false)
	write(x.w, resp, false, x.fault.RetryAfter)
}

// drop records the request as answered by nothing and resets the connection.
func (x *exchange) drop() {
	x.s.finish(x.rec, 0, false)
	drop(x.w)
}
