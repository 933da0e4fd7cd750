package faultserver

import "strconv"

// Kind is a fault: where, relative to the request's side effect, the server
// misbehaves and how.
type Kind int

// The faults. "The effect" is the side effect a route counts (see Route).
const (
	// Reset reads the whole request, then closes the TCP connection abruptly
	// (SO_LINGER 0, so the peer sees a reset) without performing the effect.
	Reset Kind = iota + 1
	// LostAck performs the effect, then closes the connection abruptly without
	// writing a response: the client sees a reset or EOF after its request was
	// written, exactly as when a response is lost on the way back.
	LostAck
	// StatusBefore answers Fault.Status without performing the effect, with a
	// Retry-After header when Fault.RetryAfter is set.
	StatusBefore
	// StatusAfter performs the effect, then answers Fault.Status (and
	// Retry-After when set) instead of the success response.
	StatusAfter
	// Hang performs the effect, then blocks until the client goes away or
	// Fault.Release is closed; when released it answers normally, otherwise the
	// connection is dropped.
	Hang
	// HoldBefore blocks before performing the effect until Fault.Release is
	// closed (then proceeds normally) or the client goes away (then nothing is
	// performed). On a route with a KeyHeader the key is already claimed while
	// held, so a concurrent duplicate gets 409 (the key is checked on arrival:
	// a held replay or conflict is answered once released).
	HoldBefore
)

var kindNames = [...]string{
	Reset:        "Reset",
	LostAck:      "LostAck",
	StatusBefore: "StatusBefore",
	StatusAfter:  "StatusAfter",
	Hang:         "Hang",
	HoldBefore:   "HoldBefore",
}

// String returns the constant's name, "none" for 0.
func (k Kind) String() string {
	if k == 0 {
		return "none"
	}
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// performsEffect reports whether a request under this fault reaches the
// route's effect at all.
func (k Kind) performsEffect() bool { return k != Reset && k != StatusBefore }

// Fault is one injected misbehaviour, consumed by one request.
type Fault struct {
	Kind Kind
	// Status is the answer of StatusBefore and StatusAfter (e.g. 429, 500,
	// 503); outside 200-599 (such as 0) it means 500.
	Status int
	// RetryAfter, when non-empty, is sent as the Retry-After header of
	// StatusBefore and StatusAfter answers.
	RetryAfter string
	// Release ends a Hang or HoldBefore when closed. A nil channel never
	// releases: only the client going away or Server.Close end the wait.
	Release <-chan struct{}
}

// ResetFault returns a Reset fault.
func ResetFault() Fault { return Fault{Kind: Reset} }

// LostAckFault returns a LostAck fault.
func LostAckFault() Fault { return Fault{Kind: LostAck} }

// StatusBeforeFault returns a StatusBefore fault answering status, with a
// Retry-After header when retryAfter is non-empty.
func StatusBeforeFault(status int, retryAfter string) Fault {
	return Fault{Kind: StatusBefore, Status: status, RetryAfter: retryAfter}
}

// StatusAfterFault returns a StatusAfter fault answering status.
func StatusAfterFault(status int) Fault { return Fault{Kind: StatusAfter, Status: status} }

// HangFault returns a Hang fault that answers normally once release is closed.
func HangFault(release <-chan struct{}) Fault { return Fault{Kind: Hang, Release: release} }

// HoldFault returns a HoldBefore fault that proceeds once release is closed.
func HoldFault(release <-chan struct{}) Fault { return Fault{Kind: HoldBefore, Release: release} }
