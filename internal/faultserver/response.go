package faultserver

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
)

// response is an answer the server can give, and replay byte-for-byte.
type response struct {
	status int
	body   []byte
}

// jsonResponse encodes v (a map, so keys come out sorted) as a JSON answer.
func jsonResponse(status int, v map[string]any) response {
	body, err := json.Marshal(v)
	if err != nil { // only maps of strings and ints are encoded here
		panic("faultserver: encoding a response: " + err.Error())
	}
	return response{status: status, body: append(body, '\n')}
}

// errorResponse is a Stripe-shaped error answer {"error":{...}}.
func errorResponse(status int, fields map[string]any) response {
	return jsonResponse(status, map[string]any{"error": fields})
}

var (
	notFound     = errorResponse(http.StatusNotFound, map[string]any{"type": "not_found"})
	keyInUse     = errorResponse(http.StatusConflict, map[string]any{"code": "idempotency_key_in_use", "type": "idempotency_error"})
	keyReused    = errorResponse(http.StatusBadRequest, map[string]any{"type": "idempotency_error", "message": "key reused with a different body"})
	bodyTooLarge = errorResponse(http.StatusRequestEntityTooLarge, map[string]any{"type": "body_too_large"})
)

// faultResponse is the answer of StatusBefore and StatusAfter; a status
// outside 200-599 (such as 0) means 500.
func faultResponse(status int) response {
	if status < 200 || status > 599 {
		status = http.StatusInternalServerError
	}
	return errorResponse(status, map[string]any{"type": "injected_fault", "status": status})
}

// write sends resp on w, marked as a replay when replayed.
func write(w http.ResponseWriter, resp response, replayed bool, retryAfter string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	if replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body) // a client gone away is not the server's problem
}

// drop closes the connection under w abruptly: with SO_LINGER 0 the kernel
// sends a TCP reset instead of a FIN, and no response byte is written.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http closes the connection quietly
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
