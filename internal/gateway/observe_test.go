package gateway

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

func TestObserversSeeEveryCall(t *testing.T) {
	var mu sync.Mutex
	var calls []Call
	r := newRig(t, rigOptions{Observers: []Observer{func(c Call) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, c)
	}}})
	id, key := r.key()
	if rep := r.do("POST", "/v1/chat/completions", key, miniChat, "User-Agent", "test-agent/1", HeaderRequestID, "seen-ok"); rep.status != http.StatusOK {
		t.Fatalf("%d %s", rep.status, rep.body)
	}
	if rep := r.do("POST", "/v1/chat/completions", "wdn_"+strings.Repeat("z", 40), miniChat, HeaderRequestID, "seen-refused"); rep.status != http.StatusUnauthorized {
		t.Fatalf("%d", rep.status)
	}
	// Observers run after the answer was written: wait for both.
	byID := map[string]Call{}
	for range 400 {
		mu.Lock()
		for _, c := range calls {
			byID[c.RequestID] = c
		}
		mu.Unlock()
		if len(byID) == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ok, refused := byID["seen-ok"], byID["seen-refused"]
	if ok.Route != "chat.completions" || ok.Status != 200 || ok.Code != "" || ok.KeyID != id || ok.Model != "gpt-4o-mini" ||
		ok.Provider != "openai" || ok.UserAgent != "test-agent/1" || !ok.Usage.Known || ok.Cost <= 0 || ok.Duration <= 0 || !ok.ClientIP.IsValid() {
		t.Errorf("successful call observed as %+v", ok)
	}
	if refused.PrefixTried != "wdn_zzzz" || ok.PrefixTried != "" {
		t.Errorf("prefix tried: refused %q, ok %q; want the first 8 bytes of the refused key only", refused.PrefixTried, ok.PrefixTried)
	}
	if refused.Status != http.StatusUnauthorized || refused.Code != apperr.Unauthenticated || refused.KeyID != "" {
		t.Errorf("refused call observed as %+v", refused)
	}
}

// TestObservedPromptIsRedacted checks that observers only ever get the
// prompt after the input guard, and none for a call refused before it.
func TestObservedPromptIsRedacted(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]Call{}
	r := newRig(t, rigOptions{Observers: []Observer{func(c Call) {
		mu.Lock()
		defer mu.Unlock()
		calls[c.RequestID] = c
	}}})
	_, key := r.key()
	r.do("POST", "/v1/chat/completions", key, chatWith("gpt-4o", "mail grace.hopper@example.com", false), HeaderRequestID, "p-ok")
	r.do("POST", "/v1/chat/completions", "", chatWith("gpt-4o", "mail grace.hopper@example.com", false), HeaderRequestID, "p-refused")
	for range 400 {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if p := string(calls["p-ok"].Prompt); !strings.Contains(p, "[EMAIL_1]") || strings.Contains(p, "grace.hopper") {
		t.Errorf("observed prompt %q, want the redacted one", p)
	}
	if p := calls["p-refused"].Prompt; p != nil {
		t.Errorf("a call refused before the guard carried a prompt: %q", p)
	}
}
