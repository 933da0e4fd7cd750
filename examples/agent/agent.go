package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idemhttp/idemhttp"
	"github.com/idemhttp/idemhttp/cache/sqlite"
)

// session is the agent's task id: the same across the crash and restart, so
// the same tool call derives the same key.
const session = "session-7f3a"

const eventPrefix = "@event "

// event is one tool call's outcome, sent to the parent for the final table.
type event struct {
	Run      int      `json:"run"`
	Call     string   `json:"call"`
	Status   int      `json:"status"`
	Replayed bool     `json:"replayed"`
	Sends    int      `json:"sends"`
	Err      string   `json:"err,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// toolCall is one step of the scripted plan.
type toolCall struct {
	name, host, path, contentType, body string
}

// plan is what the "model" decides. After the restart it words the email
// differently, as models do: the email is keyed on recipient and subject,
// so it is still the same email.
func plan(run int) []toolCall {
	greeting := "Hi Ann, welcome to Acme! Your order is on its way."
	if run > 1 {
		greeting = "Welcome aboard, Ann! We're shipping your order now."
	}
	email, _ := json.Marshal(map[string]any{
		"personalizations": []any{map[string]any{"to": []any{map[string]string{"email": "ann@example.com"}}}},
		"from":             map[string]string{"email": "shop@acme.test"},
		"subject":          "Welcome to Acme",
		"content":          []any{map[string]string{"type": "text/plain", "value": greeting}},
	})
	return []toolCall{
		{"charge_customer", stripeHost, chargePath, "application/x-www-form-urlencoded",
			url.Values{"amount": {"4200"}, "currency": {"usd"}, "customer": {"cus_ann"}, "description": {"order 1042"}}.Encode()},
		{"send_welcome_email", sendgridHost, mailPath, "application/json", string(email)},
		{"create_order", ordersHost, orderPath, "application/json", `{"order":1042,"sku":"TEA-01","qty":3}`},
		{"book_delivery_slot", bookingsHost, bookingPath, "application/json", `{"order":1042,"slot":"2026-12-01T10:00Z"}`},
	}
}

// runAgent runs the plan once, as process number run.
func runAgent(run int, server, dbPath string) error {
	store, err := sqlite.Open(dbPath)
	if err != nil {
		return err
	}
	defer store.Close()

	sends := &countingTransport{base: &http.Transport{DialContext: dialer(strings.TrimPrefix(server, "http://"))}}
	notes := &noteHandler{}
	policy := idemhttp.DefaultPolicy()
	policy.Lease = 2 * time.Second // a crashed run's claim frees 2s after the crash
	policy.InitialInterval = 50 * time.Millisecond
	client := &http.Client{Timeout: 30 * time.Second, Transport: idemhttp.New(
		idemhttp.WithBase(sends),
		idemhttp.WithStore(store),
		idemhttp.WithProviders(demoProviders()...),
		idemhttp.WithPolicy(policy),
		idemhttp.WithLogger(slog.New(notes)),
	)}
	ctx := idemhttp.WithScope(context.Background(), session)
	fmt.Printf("agent started (pid %d), session %s\n", os.Getpid(), session)
	for _, call := range plan(run) {
		notes.reset()
		sends.n.Store(0)
		fmt.Printf("%-19s ...\n", call.name)
		ev := event{Run: run, Call: call.name}
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+call.host+call.path, strings.NewReader(call.body))
		req.Header.Set("Content-Type", call.contentType)
		req.Header.Set("Authorization", "Bearer sk_test_acme")
		resp, err := client.Do(req)
		if err != nil {
			ev.Err = err.Error()
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ev.Status, ev.Replayed = resp.StatusCode, idemhttp.Replayed(resp)
		}
		ev.Sends, ev.Notes = int(sends.n.Load()), notes.list()
		fmt.Printf("%-19s %s\n", call.name, describe(ev))
		js, _ := json.Marshal(ev)
		fmt.Println(eventPrefix + string(js))
	}
	return nil
}

func describe(ev event) string {
	s := summary(ev)
	if ev.Err == "" {
		s = fmt.Sprintf("%d, %s", ev.Status, s)
	}
	return s
}

// summary says in a few words what happened to a tool call.
func summary(ev event) string {
	notes := strings.Join(ev.Notes, "; ")
	switch {
	case ev.Err != "":
		return "error: " + ev.Err
	case ev.Replayed && ev.Sends == 0:
		return "replayed from the record, nothing sent"
	case strings.Contains(notes, "probe: already done"):
		return "in doubt, probe found it done: recorded, not re-sent"
	case strings.Contains(notes, "re-sending in-doubt"):
		return "in doubt, re-sent with the same key: provider replayed"
	case ev.Sends > 1:
		return fmt.Sprintf("sent, %d retries", ev.Sends-1)
	}
	return "sent"
}

// countingTransport counts what actually goes on the wire.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// noteHandler keeps idemhttp's informative log lines for the current call.
type noteHandler struct {
	mu    sync.Mutex
	notes []string
}

func (h *noteHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *noteHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *noteHandler) WithGroup(string) slog.Handler                { return h }
func (h *noteHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notes = append(h.notes, strings.TrimPrefix(r.Message, "idemhttp: "))
	return nil
}
func (h *noteHandler) reset() { h.mu.Lock(); h.notes = nil; h.mu.Unlock() }
func (h *noteHandler) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.notes...)
}
